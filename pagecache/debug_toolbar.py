"""``PageCachePanel``: what pagecache did for the current request, in django-debug-toolbar.

Add ``"pagecache.debug_toolbar.PageCachePanel"`` to ``DEBUG_TOOLBAR_PANELS``. The panel
reads the request's :class:`~pagecache.observe.Report` (kept with ``DEBUG`` on, or by the
panel itself when nothing kept one) and its render state, and shows the page's key and
status, whether it will be stored and why not, the tags it bubbled up, and each fragment
with its key, status, tags, render time (or the time a cached copy saved) and store
decision.

The toolbar runs inside ``PageCacheMiddleware``: a hit is answered before it and never
shows a toolbar, and the page is stored only after the toolbar's middleware has returned,
so its store decision is worked out here from the response as the toolbar sees it. A page
that shows the toolbar is never stored (SPEC §4). Only this module imports
``debug_toolbar``; the stats it records are plain JSON values (the toolbar may keep them in
its database or cache store).
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable
from contextvars import Token
from typing import TYPE_CHECKING, Any

from debug_toolbar import settings as toolbar_settings
from debug_toolbar.panels import Panel
from debug_toolbar.utils import is_processable_html_response

from . import observe, serve
from .conf import settings
from .core.render import RenderState, current_render, render_state

if TYPE_CHECKING:
    from django.http import HttpRequest, HttpResponseBase

__all__ = ["PageCachePanel", "panel_stats"]

#: Why the panel never shows a hit (shown with every page it does show).
HIT_NOTE = (
    "A page served from the cache (HIT or STALE) never reaches this panel: "
    "PageCacheMiddleware answers it before the toolbar runs."
)
TOOLBAR_NOTE = (
    "pagecache never stores a page that shows the toolbar (it holds this visitor's "
    "requests, SQL and settings): while you browse with the toolbar, pages are rendered "
    "and their fragments come from the cache."
)


class PageCachePanel(Panel):
    """The page cache and fragment cache of the current request."""

    title = "Page cache"
    template = "pagecache/debug_toolbar/panel.html"
    #: Reads context variables only: it works under ASGI too.
    is_async = True

    _report: observe.Report | None = None

    @property
    def nav_subtitle(self) -> str:
        stats = self.get_stats()  # type: ignore[no-untyped-call]
        fragments = stats.get("fragments") or []
        if not fragments:
            return "no fragments"
        cached = sum(1 for fragment in fragments if fragment["status"] in ("HIT", "STALE"))
        plural = "" if len(fragments) == 1 else "s"
        return f"{len(fragments)} fragment{plural}, {cached} cached"

    def process_request(self, request: HttpRequest) -> Any:
        """Keep a report for the request if nothing else does (``PageCacheMiddleware`` with
        ``DEBUG`` on already has), so fragments show without the page cache too."""
        token: Token[observe.Report | None] | None = None
        self._report = observe.current.get()
        if self._report is None:
            self._report = observe.Report()
            token = observe.current.set(self._report)
        try:
            response = super().process_request(request)  # type: ignore[no-untyped-call]
        except BaseException:
            _forget(token)
            raise
        if inspect.isawaitable(response):
            return _awaited(response, token)
        _forget(token)
        return response

    def generate_stats(self, request: HttpRequest, response: HttpResponseBase) -> None:
        report = self._report if self._report is not None else observe.current.get()
        state = current_render.get() or render_state(request)
        stats = panel_stats(request, response, report, state)
        self.record_stats(stats)  # type: ignore[no-untyped-call]


def _forget(token: Token[observe.Report | None] | None) -> None:
    if token is not None:
        observe.current.reset(token)


async def _awaited(response: Awaitable[Any], token: Token[observe.Report | None] | None) -> Any:
    try:
        return await response
    finally:
        _forget(token)


def panel_stats(
    request: HttpRequest,
    response: HttpResponseBase,
    report: observe.Report | None,
    state: RenderState,
) -> dict[str, Any]:
    """The panel's stats: plain dicts, lists, strings, numbers and booleans."""
    shown = toolbar_inserted(response)
    fragments = [_fragment(part) for part in report.fragments] if report is not None else []
    return {
        "page": _page(request, response, report, state, shown),
        "page_tags": list(state.tags),
        "fragments": fragments,
        "cached": sum(1 for f in fragments if f["status"] in ("HIT", "STALE")),
        "toolbar_shown": shown,
        "hit_note": HIT_NOTE,
        "toolbar_note": TOOLBAR_NOTE if shown else "",
    }


def toolbar_inserted(response: HttpResponseBase) -> bool:
    """Whether the toolbar will put its markup in this response (as its middleware decides)."""
    if not is_processable_html_response(response):  # type: ignore[no-untyped-call]
        return False
    insert_before = str(toolbar_settings.get_config()["INSERT_BEFORE"]).lower().encode()
    return insert_before in response.content.lower()  # type: ignore[attr-defined]


def _page(
    request: HttpRequest,
    response: HttpResponseBase,
    report: observe.Report | None,
    state: RenderState,
    toolbar_shown: bool,
) -> dict[str, Any]:
    part = report.page if report is not None else None
    page: dict[str, Any] = {
        "name": observe.view_name(request),
        "key": "",
        "status": "",
        "stored": None,
        "reason": "",
        "without_toolbar": "",
        "ms": state.elapsed_ms(),
        "decided": False,
        "vary": str(response.get("Vary", "")),
    }
    if part is None:
        # No report when the page was looked up: DEBUG off, or no PageCacheMiddleware.
        page["reason"] = (
            "PageCacheMiddleware did not handle this request (or DEBUG was off when it did)"
        )
        return page
    page.update(key=part.key, status=part.status, stored=part.stored, reason=part.reason)
    if part.stored is not None:
        page["decided"] = True  # already stored or refused (a bypass, @cache_page alone)
        return page
    refusal = _refusal(request, part, state)
    if refusal is not None:
        status, reason = refusal
        page.update(status=status, stored=False, reason=reason)
        return page
    body = b"" if response.streaming else response.content  # type: ignore[attr-defined]
    as_is = serve.response_storability(request, response, body, debug_toolbar=False)
    if not as_is:
        page.update(stored=False, reason=as_is.reason)
    elif toolbar_shown:
        refused = serve.response_storability(request, response, body, debug_toolbar=True)
        page.update(stored=False, reason=refused.reason, without_toolbar="it would be stored")
    else:
        page.update(stored=True)
    return page


def _refusal(
    request: HttpRequest, part: observe.Part, state: RenderState
) -> tuple[str, str] | None:
    """The status and reason a rendered page will not be stored for, before its response
    is looked at (as :func:`pagecache.serve.finish_render` and ``store_ops`` decide)."""
    if state.exempt:
        return "BYPASS", "the view is exempt"
    if request.method != "GET":
        return part.status, "not a GET"
    if not part.key or state.start is None:
        return part.status, "the cache was unusable"
    ttl = state.fresh_seconds(state.ttl if state.ttl is not None else settings.TTL)
    stale_ttl = state.stale_ttl if state.stale_ttl is not None else settings.STALE_TTL
    if ttl + stale_ttl == 0:
        return part.status, "it embeds a stale fragment"
    return None


def _fragment(part: observe.Part) -> dict[str, Any]:
    cached = part.status in ("HIT", "STALE")
    return {
        "name": part.name,
        "key": part.key,
        "status": part.status,
        "tags": list(part.tags),
        "ms": part.ms,
        "cached": cached,
        "stored": part.stored,
        "reason": part.reason,
    }
