"""The page cache flow: look up, serve a hit, or render and store.

This module translates between Django's request/response objects and the pure
:mod:`~pagecache.core.policy`, :mod:`~pagecache.core.entry` and :mod:`~pagecache.stores` layers.
It is driven by the middleware (once per request) or by ``@cache_page`` on its own;
it makes no caching decision of its own beyond asking those modules.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from functools import partial
from typing import TYPE_CHECKING

from django.conf import settings as django_settings
from django.http import HttpResponse, HttpResponseBase, QueryDict
from django.http.cookie import parse_cookie
from django.middleware.csrf import get_token

from . import clock, dictionary, driver, observe
from .conf import on_reload, settings
from .core import csrf, keys, policy, request_facts
from .core import entry as entries
from .core.flow import Action, Outcome, Release, Save, StoreOps
from .core.render import RenderState, current_render, render_state
from .core.responses import (
    CONDITIONAL_HEADERS,
    HitParts,
    conditional_status,
    header_safe_tags,
    hit_parts,
)
from .purging import edge

if TYPE_CHECKING:
    from django.http import HttpRequest

logger = logging.getLogger("pagecache")

GetResponse = Callable[["HttpRequest"], HttpResponseBase]

#: Base key -> Vary header names learnt from stored responses, so a hit on a page with
#: ``Vary`` needs one round trip, not two. Bounded: cleared when it grows past the limit.
_vary_names: dict[str, tuple[str, ...]] = {}
VARY_MEMO_LIMIT = 10_000


#: Where the WSGI fast path leaves its lookup for the middleware (saving a second one).
OUTCOME_KEY = "pagecache.outcome"
#: The URL namespace of django-debug-toolbar's own views (``render_panel`` and others).
DEBUG_TOOLBAR_NAMESPACE = "djdt"


def serve(
    request: HttpRequest,
    get_response: GetResponse,
    *,
    outermost: bool = True,
    in_view: bool = False,
) -> HttpResponseBase:
    """Answer ``request`` from the page cache, or render it and store the result.

    ``outermost``: called by the middleware placed first, so nothing read data before the
    page lookup (otherwise the render starts at the request's arrival, if earlier).
    ``in_view``: ``@cache_page`` on its own, below ``CsrfViewMiddleware``.
    """
    report = observe.begin_request() if observe.current.get() is None else None
    try:
        page = page_of(request)
        if isinstance(page, str):
            token = current_render.set(start_bypass(request, page))
            try:
                return bypassed(request, get_response(request), page)
            finally:
                current_render.reset(token)

        outcome = _handed_over(request, page) or obtain(page)
        if outcome.action in (Action.HIT, Action.STALE):
            # No view runs: nothing else to do. Below CsrfViewMiddleware (@cache_page alone),
            # a stored form gets its token from Django, which then sets the cookie itself.
            token_source = partial(get_token, request) if in_view else None
            observe.served("page", outcome.key, outcome.action.name, outcome.entry)
            return to_response(hit_parts(page, outcome, token_source))
        state = start_render(request, outcome, outermost)
        return _render(request, get_response, state, page, outcome)
    finally:
        observe.end_request(report)


def bypassed(request: HttpRequest, response: HttpResponseBase, reason: str) -> HttpResponseBase:
    """A page the cache was not asked for (``reason``), counted and marked BYPASS."""
    observe.rendered("page", observe.view_name(request), "", "BYPASS")
    observe.not_stored("page", observe.view_name(request), "", reason)
    return mark(response, "BYPASS")


def page_of(request: HttpRequest) -> request_facts.PageRequest | str:
    """The request's page (key and facts), or why it bypasses the page cache."""
    meta = request.META
    if "wsgi.url_scheme" not in meta:
        # An ASGIRequest keeps its scheme in the scope, not in META.
        scope = getattr(request, "scope", None)
        meta["wsgi.url_scheme"] = scope.get("scheme", "http") if isinstance(scope, dict) else "http"
    path_info = request.path_info
    script_name = request.path.removesuffix(path_info)
    return request_facts.page_request(request.META, script_name, path_info, request)


def start_bypass(request: HttpRequest, reason: str, *, may_block: bool = True) -> RenderState:
    """Prepare a request that bypasses the page cache; the render state its fragments use.

    ``may_block=False`` (the event loop): never ask the store for the clock; a process that
    has seen none yet stores nothing this request renders."""
    logger.debug("pagecache: bypass %s: %s", request.path, reason)
    observe.rendering("page", "", "BYPASS", reason)
    state = render_state(request)
    remove_unkeyed_input(request)
    if state.open_start:
        # Everything this request renders starts no later than now (SPEC §6.2), even
        # when the page itself may not be cached: its fragments are.
        state.begin(_render_start(may_block))
    return state


def _render_start(may_block: bool) -> int | None:
    return driver.render_start() if may_block else (clock.latest() or None)


def start_render(
    request: HttpRequest, outcome: Outcome, outermost: bool, *, may_block: bool = True
) -> RenderState:
    """Prepare a request whose page is rendered: its input and its render's start."""
    observe.rendering("page", outcome.key, "MISS")
    state = render_state(request)
    remove_unkeyed_input(request)
    remove_malformed_csrf_cookie(request)
    if outcome.start is not None:
        if outermost or state.open_start:
            state.begin(outcome.start)  # read before anything ran: fresher, and as safe
        elif state.start is not None:
            state.begin(min(state.start, outcome.start))
        # else: the request arrived while the cache was unusable; what ran since may have
        # read data before this lookup, so its start stays unknown.
    elif state.open_start:
        state.begin(_render_start(may_block))
    return state


def _handed_over(request: HttpRequest, page: request_facts.PageRequest) -> Outcome | None:
    """The outcome the WSGI fast path obtained for this very page, if it left one."""
    handed = request.META.pop(OUTCOME_KEY, None)
    if isinstance(handed, tuple) and handed[0] == page.base_key:
        handed[2].append(True)  # tell the fast path the render lock is taken care of
        outcome: Outcome = handed[1]
        return outcome
    return None


def variant_key(page: request_facts.PageRequest, names: tuple[str, ...]) -> str:
    """The key of the page's variant for these ``Vary`` header names."""
    if not names:
        return page.base_key
    return keys.variant_key(page.base_key, names, policy.vary_values(names, page.keyed_header))


def remove_unkeyed_input(request: HttpRequest) -> None:
    """Take ignored query parameters and cookies out of the request before the view runs
    (as Varnish and CDNs strip them): what is not in the key must not shape a page others
    are served — a canonical link, say, reflecting ``?utm_source=<script>``."""
    query = request.META.get("QUERY_STRING", "")
    if query and settings.IGNORED_QUERY_PARAMS:
        kept = policy.strip_query(query, settings.IGNORED_QUERY_PARAMS)
        if kept != query:
            request.META["QUERY_STRING"] = kept
            request.GET = QueryDict(kept, encoding=request.encoding)
    cookies = request.META.get("HTTP_COOKIE")
    if cookies and settings.IGNORED_COOKIES:
        kept = policy.strip_cookies(cookies, settings.IGNORED_COOKIES)
        if kept != cookies:
            request.META["HTTP_COOKIE"] = kept
            request.COOKIES = parse_cookie(kept)


def remove_malformed_csrf_cookie(request: HttpRequest) -> None:
    """A malformed CSRF cookie makes ``CsrfViewMiddleware`` issue a new one whether or not
    the page uses the token, and a page that sets a cookie cannot be stored: anyone could
    switch off the cache (and its single flight) for a page by sending one. Without it, a
    new cookie is issued only where a token is used (and the page is stored without it)."""
    cookies = request.META.get("HTTP_COOKIE")
    sent, secret = csrf.cookie_secret(cookies)
    if sent and secret is None and cookies:
        kept = policy.strip_cookies(cookies, [request_facts.csrf_cookie_pattern()])
        request.META["HTTP_COOKIE"] = kept
        request.COOKIES = parse_cookie(kept)


def obtain(page: request_facts.PageRequest, *, lock: bool = True) -> Outcome:
    """Apply the single-flight rule to the page, following its Vary marker if needed."""
    # Only GET renders may be stored, so only they take the render lock; HEAD never waits.
    lock = lock and page.method == "GET"
    key = variant_key(page, vary_names(page.base_key))
    outcome = driver.obtain(key, lock=lock)
    if outcome.action is Action.VARY and outcome.found is not None:
        # First sight of this page in this process: the marker names its Vary headers.
        names = entries.loads_vary(outcome.found.value) or ()
        remember_vary(page.base_key, names)
        key = variant_key(page, names)
        outcome = driver.obtain(key, lock=lock)
        if outcome.action is Action.VARY and outcome.found is not None:
            # A marker where a variant belongs (corrupt): render and overwrite it.
            outcome = Outcome(Action.RENDER, key, outcome.found, start=outcome.found.clock)
    return outcome


@on_reload
def _forget_vary() -> None:
    _vary_names.clear()


def vary_names(base_key: str) -> tuple[str, ...]:
    """The Vary header names this process learnt for a page (none if it has not)."""
    return _vary_names.get(base_key, ())


def remember_vary(base_key: str, names: tuple[str, ...]) -> None:
    if len(_vary_names) >= VARY_MEMO_LIMIT:
        _vary_names.clear()
    _vary_names[base_key] = names


def _withhold_conditions(request: HttpRequest) -> dict[str, str | None]:
    """Take the conditional headers out of a request that renders a page to store: the
    view must produce the full page (a 304 cannot be stored, and would leave the old
    copy stale); the client's conditions are answered from it afterwards, as Varnish does."""
    withheld: dict[str, str | None] = {}
    for name in CONDITIONAL_HEADERS:
        key = request_facts.environ_key(name)
        if key in request.META:
            withheld[name] = request.META.pop(key)
    return withheld


def _answer_conditions(
    request: HttpRequest, response: HttpResponseBase, conditions: Mapping[str, str | None]
) -> HttpResponseBase:
    """The response to send for a full ``response`` and the client's withheld conditions."""
    if not conditions or response.streaming:
        return response
    status = conditional_status(
        request.method or "GET", conditions.get, response.status_code, response.headers.items()
    )
    if status == 304:
        answer: HttpResponseBase = HttpResponse(status=304)
        del answer["Content-Type"]
        for name, value in response.headers.items():
            if name.lower() in policy.NOT_MODIFIED_HEADERS:
                answer[name] = value
        return answer
    if status == 412:
        return HttpResponse(status=412)
    return response


def to_response(parts: HitParts) -> HttpResponse:
    response = HttpResponse(parts.body, status=parts.status, reason=parts.reason or None)
    headers = getattr(response.headers, "_store", None)
    if type(headers) is dict:
        # The stored headers were Django's own, checked when stored and by entry.loads (no
        # line breaks): fill the header table directly instead of re-validating each one.
        headers.clear()
        for name, value in parts.headers:
            headers[name.lower()] = (name, value)
    else:  # pragma: no cover - a Django whose ResponseHeaders changed shape
        del response["Content-Type"]
        for name, value in parts.headers:
            response[name] = value
    if parts.cookie is not None:
        response.cookies.load(parts.cookie)
    return response


def _render(
    request: HttpRequest,
    get_response: GetResponse,
    state: RenderState,
    page: request_facts.PageRequest,
    outcome: Outcome,
) -> HttpResponseBase:
    lock_key = outcome.key or page.base_key
    withheld = withhold_conditions(request, outcome)
    token = current_render.set(state)
    watching = csrf.watch()
    try:
        response = get_response(request)
    except BaseException:
        driver.release(lock_key, outcome.token, uncacheable=True)
        raise
    finally:
        state.csrf_minted = csrf.unwatch(watching)
        current_render.reset(token)
        restore_conditions(request, withheld)
    if (
        not state.exempt
        and store_allowed(request, state, outcome)
        and getattr(response, "is_rendered", True) is False
    ):
        # @cache_page without the middleware sees an unrendered TemplateResponse. Tokens
        # its template will hand out are not recorded: a form page is then not stored.
        state.csrf_minted = None
        start, lock = state.start, outcome.token
        assert start is not None
        response.add_post_render_callback(  # type: ignore[attr-defined]
            lambda rendered: run(store_ops(request, rendered, state, page, start, lock_key, lock))
        )
        observe.rendered("page", observe.view_name(request), lock_key, "MISS")
        return mark(response, "MISS")
    response, ops = finish_render(request, response, state, page, outcome, withheld)
    run(ops)
    return response


def run(ops: StoreOps) -> None:
    """Carry out a render's store operations with the sync driver."""
    for op in ops:
        if isinstance(op, Save):
            if driver.save(op.key, op.value, op.timeout, op.vary, op.lock_token) and op.remember:
                remember_vary(*op.remember)
        else:
            driver.release(op.key, op.lock_token, uncacheable=op.uncacheable)


def withhold_conditions(request: HttpRequest, outcome: Outcome) -> dict[str, str | None]:
    """Only the request that will store the page renders it unconditionally; the others
    (no lock, HEAD, @cache_page's unrendered responses) keep their conditions."""
    return _withhold_conditions(request) if outcome.token else {}


def restore_conditions(request: HttpRequest, withheld: Mapping[str, str | None]) -> None:
    for name, value in withheld.items():
        request.META[request_facts.environ_key(name)] = value


def store_allowed(request: HttpRequest, state: RenderState, outcome: Outcome) -> bool:
    """Whether this render may be stored at all (before looking at the response)."""
    return outcome.start is not None and state.start is not None and request.method == "GET"


def finish_render(
    request: HttpRequest,
    response: HttpResponseBase,
    state: RenderState,
    page: request_facts.PageRequest,
    outcome: Outcome,
    withheld: Mapping[str, str | None],
) -> tuple[HttpResponseBase, StoreOps]:
    """The response to send for a rendered page, and what to store and release (the
    sync and async drivers both carry the operations out)."""
    lock_key = outcome.key or page.base_key
    name = observe.view_name(request)
    if state.exempt:
        observe.rendered("page", name, lock_key, "BYPASS")
        observe.not_stored("page", name, lock_key, "the view is exempt")
        return mark(response, "BYPASS"), [Release(lock_key, outcome.token, uncacheable=True)]
    observe.rendered("page", name, lock_key, "MISS", state.elapsed_ms())
    start = state.start  # the request's start (the page lookup's clock, at the latest)
    if not store_allowed(request, state, outcome) or start is None:
        # An unknown start (the cache failed when the request arrived) is no reason to mark
        # the page uncacheable for a TTL.
        reason = "not a GET" if request.method != "GET" else "the cache was unusable"
        observe.not_stored("page", name, lock_key, reason)
        return mark(response, "MISS"), [
            Release(lock_key, outcome.token, uncacheable=start is not None)
        ]
    ops = store_ops(request, response, state, page, start, lock_key, outcome.token)
    return mark(_answer_conditions(request, response, withheld), "MISS"), ops


def store_ops(
    request: HttpRequest,
    response: HttpResponseBase,
    state: RenderState,
    page: request_facts.PageRequest,
    start: int,
    lock_key: str,
    lock_token: str,
) -> StoreOps:
    """What storing a rendered page takes: the entry to save, and the lock to release."""
    body = b"" if response.streaming else response.content  # type: ignore[attr-defined]
    csrf_secret = request.META.get("CSRF_COOKIE")
    csrf_used = (
        bool(request.META.get("CSRF_COOKIE_NEEDS_UPDATE"))
        or django_settings.CSRF_COOKIE_NAME in response.cookies
    )
    decision = response_storability(
        request,
        response,
        body,
        debug_toolbar=policy.DEBUG_TOOLBAR_MARKUP in body or toolbar_view(request),
    )
    sent_cookie = csrf.cookie_value(request.META.get("HTTP_COOKIE"))
    sent_secret = csrf.secret_from_cookie(sent_cookie)
    placeholder = ""
    excluded = _not_stored_headers()
    if decision and csrf.cookie_shown(body, sent_cookie, sent_secret):
        decision = policy.Decision(False, "the visitor's CSRF cookie is in the page")
    elif decision and csrf_used:
        taken = csrf.take_out(
            body,
            response.items(),
            secret=csrf_secret,
            sent_secret=sent_secret,
            content_encoding=response.get("Content-Encoding"),
            minted=state.csrf_minted,
        )
        if isinstance(taken, str):
            decision = policy.Decision(False, taken)
        else:
            body, placeholder = taken.body, taken.placeholder
            excluded |= {"etag"}  # each visitor's copy differs: no validator shared by all
    name = observe.view_name(request)
    if not decision:
        observe.not_stored("page", name, lock_key, decision.reason)
        return [Release(lock_key, lock_token, uncacheable=True)]
    tags = tuple(state.tags)
    if settings.TAG_HEADER and tags:
        response[settings.TAG_HEADER] = header_safe_tags(tags)
    if tags:
        for name, tag_value in edge.tag_headers(tags):  # each purger's target, its format
            response[name] = tag_value
    # A page is fresh no longer than the parts it embeds (a fragment served stale, say).
    ttl = state.fresh_seconds(state.ttl if state.ttl is not None else settings.TTL)
    stale_ttl = state.stale_ttl if state.stale_ttl is not None else settings.STALE_TTL
    if ttl + stale_ttl == 0:
        observe.not_stored("page", name, lock_key, "it embeds a stale fragment")
        return [Release(lock_key, lock_token, uncacheable=False)]
    own, carried = state.judged_tags(start)
    # Downstream caches keep the page no longer than pagecache will; the view's own wins.
    cache_control = policy.downstream_cache_control(settings.CACHE_CONTROL, ttl)
    if cache_control and not response.has_header("Cache-Control"):
        response["Cache-Control"] = cache_control
    names = policy.parse_vary(response.get("Vary"))
    key = variant_key(page, names)
    headers = tuple(
        (name, value) for name, value in response.headers.items() if name.lower() not in excluded
    )
    value = entries.dumps(
        entries.Entry(
            response.status_code,
            response.reason_phrase,
            headers,
            body,
            own,
            start,
            ttl,
            stale_ttl,
            carried,
            placeholder,
            name,
            state.elapsed_ms(),
        ),
        dictionary=dictionary.for_writing(),
    )
    observe.stored("page", name, lock_key, own + tuple(tag for tag, _ in carried))
    vary = (page.base_key, entries.dumps_vary(names)) if names else None
    remember = (page.base_key, names) if names else None
    # The lock was taken on the key looked up; the entry may land on a Vary variant of it.
    if key == lock_key:
        return [Save(key, value, ttl + stale_ttl, vary, lock_token, remember)]
    return [
        Save(key, value, ttl + stale_ttl, vary, "", remember),
        Release(lock_key, lock_token, uncacheable=False),
    ]


def response_storability(
    request: HttpRequest, response: HttpResponseBase, body: bytes, *, debug_toolbar: bool
) -> policy.Decision:
    """:func:`policy.response_storability` for a rendered ``response`` and its ``body``
    (``debug_toolbar``: the toolbar's markup is in it). Also asked by the debug-toolbar
    panel, which runs before the page is stored."""
    session = getattr(request, "session", None)
    cookies = dict(response.cookies)
    # The CSRF cookie CsrfViewMiddleware set for the token this render used is put back per
    # visitor on each hit; any other cookie is one visitor's.
    csrf_cookie = cookies.pop(django_settings.CSRF_COOKIE_NAME, None)
    return policy.response_storability(
        status=response.status_code,
        streaming=response.streaming,
        # A cookie in any form: response.cookies, or a Set-Cookie header written directly.
        sets_cookie=bool(cookies)
        or "Set-Cookie" in response.headers
        or bool(getattr(session, "modified", False))
        or (csrf_cookie is not None and csrf_cookie.value != request.META.get("CSRF_COOKIE")),
        cache_control=response.get("Cache-Control"),
        vary=response.get("Vary"),
        body_length=len(body),
        status_codes=settings.STATUS_CODES,
        max_entry_bytes=settings.MAX_ENTRY_BYTES,
        debug_toolbar=debug_toolbar,
    )


def toolbar_view(request: HttpRequest) -> bool:
    """Whether ``request`` was answered by one of django-debug-toolbar's own views (its
    ``render_panel`` returns a panel's content: one visitor's request, SQL and settings)."""
    match = getattr(request, "resolver_match", None)
    namespaces: list[str] = match.namespaces if match is not None else []
    return bool(namespaces) and namespaces[-1] == DEBUG_TOOLBAR_NAMESPACE


def _not_stored_headers() -> frozenset[str]:
    # Age and the status header describe one delivery, not the stored response.
    if settings.STATUS_HEADER:
        return frozenset(("age", settings.STATUS_HEADER.lower()))
    return frozenset(("age",))


def mark(response: HttpResponseBase, status: str) -> HttpResponseBase:
    if settings.STATUS_HEADER:
        response[settings.STATUS_HEADER] = status
    return response
