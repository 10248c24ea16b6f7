"""What pagecache did, told once: each page and fragment outcome is counted (``STATS``),
logged (one DEBUG line on the ``pagecache`` logger) and, with ``DEBUG`` on, reported for the
current request to the debug-toolbar panel (:mod:`pagecache.debug_toolbar`).

The serving code calls :func:`rendering`, :func:`served`, :func:`rendered`, :func:`stored`,
:func:`not_stored` and :func:`purged`; nothing here does I/O (counts reach Redis with the
next lookup).
"""

from __future__ import annotations

import logging
from contextvars import ContextVar, Token
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from django.conf import settings as django_settings

from . import stats
from .core.stats import UNNAMED

if TYPE_CHECKING:
    from django.http import HttpRequest

    from .core.entry import Entry

logger = logging.getLogger("pagecache")


@dataclass
class Part:
    """One page or fragment of the current request, as the panel shows it."""

    scope: str  # "page" or "fragment"
    name: str
    key: str
    #: HIT, STALE, MISS or BYPASS.
    status: str
    tags: tuple[str, ...] = ()
    #: Render time a cached copy saved (HIT/STALE), or this render's own (MISS), in ms.
    ms: int = 0
    #: Whether a MISS was stored, and if not, why.
    stored: bool | None = None
    reason: str = ""


@dataclass
class Report:
    """Everything pagecache did for one request (kept only with ``DEBUG`` on)."""

    page: Part | None = None
    fragments: list[Part] = field(default_factory=list)

    def part(self, scope: str, key: str) -> Part | None:
        if scope == "page":
            return self.page if self.page is not None and self.page.key == key else None
        return next((p for p in reversed(self.fragments) if p.key == key), None)


#: The current request's report (``None``: not kept, DEBUG is off or no request).
current: ContextVar[Report | None] = ContextVar("pagecache_report", default=None)


def begin_request() -> Token[Report | None] | None:
    """Start a report for the request being served, if the panel could show it."""
    if not django_settings.DEBUG:
        return None
    return current.set(Report())


def end_request(token: Token[Report | None] | None) -> None:
    if token is not None:
        current.reset(token)


def view_name(request: HttpRequest) -> str:
    """The name a page is counted under: its URL pattern's (with namespaces), else the
    view's dotted path; never the URL (the set of names must stay small)."""
    match = getattr(request, "resolver_match", None)
    return str(match.view_name) if match is not None and match.view_name else UNNAMED


def _record(part: Part) -> None:
    report = current.get()
    if report is None:
        return
    if part.scope == "page":
        report.page = part
    else:
        report.fragments.append(part)


def rendering(scope: str, key: str, status: str, reason: str = "") -> None:
    """A page about to be rendered: looked up and missed (``MISS``, at ``key``), or never
    looked up (``BYPASS``, for ``reason``). Only reported — the debug-toolbar panel looks
    while the view runs, before :func:`rendered` counts the page and replaces this."""
    if current.get() is not None:
        _record(Part(scope, "", key, status, stored=False if reason else None, reason=reason))


def served(scope: str, key: str, status: str, entry: Entry | None) -> None:
    """A page or fragment answered from the cache (``status`` HIT or STALE)."""
    name = entry.name if entry is not None and entry.name else UNNAMED
    saved = entry.render_ms if entry is not None else 0
    stats.count(scope, name, "hit" if status == "HIT" else "stale")
    stats.count(scope, name, "saved_ms", saved)
    logger.debug("pagecache: %s %s %s (%s)", status, scope, name, key)
    if current.get() is not None:
        tags = entry.all_tags if entry is not None else ()
        _record(Part(scope, name, key, status, tags, saved))


def rendered(scope: str, name: str, key: str, status: str, ms: int = 0) -> None:
    """A page or fragment rendered (``status`` MISS, or BYPASS for a page not looked up)."""
    stats.count(scope, name, "miss" if status == "MISS" else "bypass")
    logger.debug("pagecache: %s %s %s (%s, %d ms)", status, scope, name, key, ms)
    _record(Part(scope, name, key, status, ms=ms))


def stored(scope: str, name: str, key: str, tags: tuple[str, ...]) -> None:
    stats.count(scope, name, "store")
    part = _part(scope, key)
    if part is not None:
        part.stored, part.tags = True, tags


def not_stored(scope: str, name: str, key: str, reason: str) -> None:
    logger.debug("pagecache: not storing %s %s (%s): %s", scope, name, key, reason)
    part = _part(scope, key)
    if part is not None:
        part.stored, part.reason = False, reason


def purged(tags: tuple[str, ...], soft: bool) -> None:
    stats.count("all", "purges", "purge")
    stats.count("all", "purges", "purged_tags", len(tags))


def _part(scope: str, key: str) -> Part | None:
    report = current.get()
    return report.part(scope, key) if report is not None else None
