"""The page cache flow: look up, serve a hit, or render and store.

This module translates between Django's request/response objects and the pure
:mod:`~pagecache.policy`, :mod:`~pagecache.entry` and :mod:`~pagecache.store` layers.
It is driven by the middleware (once per request) or by ``@cache_page`` on its own;
it makes no caching decision of its own beyond asking those modules.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING

from django.core.exceptions import DisallowedHost
from django.http import HttpResponse, HttpResponseBase
from django.utils.encoding import escape_uri_path

from . import access, keys, policy
from . import entry as entries
from .access import Action, Outcome
from .conf import on_reload, settings
from .store import Lookup
from .tags import RenderState, current_render, render_state

if TYPE_CHECKING:
    from django.http import HttpRequest

logger = logging.getLogger("pagecache")

GetResponse = Callable[["HttpRequest"], HttpResponseBase]

#: Base key -> Vary header names learnt from stored responses, so a hit on a page with
#: ``Vary`` needs one round trip, not two. Bounded: cleared when it grows past the limit.
_vary_names: dict[str, tuple[str, ...]] = {}
VARY_MEMO_LIMIT = 10_000


def serve(request: HttpRequest, get_response: GetResponse) -> HttpResponseBase:
    """Answer ``request`` from the page cache, or render it and store the result."""
    state = render_state(request)
    eligible = policy.request_eligibility(
        request.method or "",
        has_authorization="HTTP_AUTHORIZATION" in request.META,
        cookie_names=request.COOKIES,
        anonymous_only=settings.ANONYMOUS_ONLY,
        bypass_cookies=settings.BYPASS_COOKIES,
    )
    base_key = _base_key(request) if eligible else None
    if base_key is None:
        logger.debug("pagecache: bypass %s: %s", request.path, eligible.reason or "invalid host")
        return _mark(get_response(request), "BYPASS")

    outcome = _obtain(request, base_key)
    if outcome.action is Action.HIT and outcome.entry is not None and outcome.found is not None:
        return _hit_response(request, outcome.entry, outcome.found, "HIT")
    if outcome.action is Action.STALE and outcome.entry is not None and outcome.found is not None:
        return _hit_response(request, outcome.entry, outcome.found, "STALE")
    return _render(request, get_response, state, base_key, outcome)


def _base_key(request: HttpRequest) -> str | None:
    try:
        host = request.get_host()
    except DisallowedHost:
        return None  # Django answers 400; never cache under a host it would not serve
    return keys.page_key(
        settings.KEY_PREFIX,
        request.scheme or "http",
        host,
        escape_uri_path(request.path),
        policy.normalize_query(request.META.get("QUERY_STRING", ""), settings.IGNORED_QUERY_PARAMS),
    )


def _variant_key(request: HttpRequest, base_key: str, names: tuple[str, ...]) -> str:
    if not names:
        return base_key
    return keys.variant_key(base_key, names, policy.vary_values(names, request.headers.get))


def _obtain(request: HttpRequest, base_key: str) -> Outcome:
    # Only GET renders may be stored, so only they take the render lock; HEAD never waits.
    lock = request.method == "GET"
    key = _variant_key(request, base_key, _vary_names.get(base_key, ()))
    outcome = access.obtain(key, lock=lock)
    if outcome.action is Action.VARY and outcome.found is not None:
        # First sight of this page in this process: the marker names its Vary headers.
        names = entries.loads_vary(outcome.found.value) or ()
        _remember_vary(base_key, names)
        key = _variant_key(request, base_key, names)
        outcome = access.obtain(key, lock=lock)
        if outcome.action is Action.VARY and outcome.found is not None:
            # A marker where a variant belongs (corrupt): render and overwrite it.
            outcome = Outcome(Action.RENDER, key, outcome.found, start=outcome.found.clock)
    return outcome


@on_reload
def _forget_vary() -> None:
    _vary_names.clear()


def _remember_vary(base_key: str, names: tuple[str, ...]) -> None:
    if len(_vary_names) >= VARY_MEMO_LIMIT:
        _vary_names.clear()
    _vary_names[base_key] = names


def _hit_response(
    request: HttpRequest, stored: entries.Entry, found: Lookup, status: str
) -> HttpResponseBase:
    headers = dict(stored.headers)
    lowered = {name.lower(): value for name, value in stored.headers}
    age = str(max(0, (stored.ttl + stored.stale_ttl) * 1000 - found.ttl_left_ms) // 1000)
    conditional = policy.conditional_status(
        request.method or "",
        if_match=request.META.get("HTTP_IF_MATCH"),
        if_none_match=request.META.get("HTTP_IF_NONE_MATCH"),
        if_modified_since=request.META.get("HTTP_IF_MODIFIED_SINCE"),
        if_unmodified_since=request.META.get("HTTP_IF_UNMODIFIED_SINCE"),
        etag=lowered.get("etag"),
        last_modified=lowered.get("last-modified"),
        status=stored.status,
    )
    response: HttpResponseBase
    if conditional == 304:
        response = HttpResponse(status=304)
        del response["Content-Type"]
        for name, value in stored.headers:
            if name.lower() in policy.NOT_MODIFIED_HEADERS:
                response[name] = value
    elif conditional == 412:
        response = HttpResponse(status=412)
    else:
        body = b"" if request.method == "HEAD" else stored.body
        response = HttpResponse(body, status=stored.status, reason=stored.reason or None)
        del response["Content-Type"]
        for name, value in headers.items():
            response[name] = value
    response["Age"] = age
    return _mark(response, status)


def _render(
    request: HttpRequest,
    get_response: GetResponse,
    state: RenderState,
    base_key: str,
    outcome: Outcome,
) -> HttpResponseBase:
    lock_key = outcome.key or base_key
    token = current_render.set(state)
    try:
        response = get_response(request)
    except BaseException:
        access.release(lock_key, outcome.token, uncacheable=True)
        raise
    finally:
        current_render.reset(token)
    if state.exempt:
        access.release(lock_key, outcome.token, uncacheable=True)
        return _mark(response, "BYPASS")
    if outcome.start is None or request.method != "GET":
        access.release(lock_key, outcome.token, uncacheable=True)
    elif getattr(response, "is_rendered", True) is False:
        # @cache_page without the middleware sees an unrendered TemplateResponse.
        start = outcome.start
        response.add_post_render_callback(  # type: ignore[attr-defined]
            lambda rendered: _store(
                request, rendered, state, base_key, start, lock_key, outcome.token
            )
        )
    else:
        _store(request, response, state, base_key, outcome.start, lock_key, outcome.token)
    return _mark(response, "MISS")


def _store(
    request: HttpRequest,
    response: HttpResponseBase,
    state: RenderState,
    base_key: str,
    start: int,
    lock_key: str,
    lock_token: str,
) -> None:
    session = getattr(request, "session", None)
    streaming = response.streaming
    body = b"" if streaming else response.content  # type: ignore[attr-defined]
    decision = policy.response_storability(
        status=response.status_code,
        streaming=streaming,
        sets_cookie=bool(response.cookies) or bool(getattr(session, "modified", False)),
        cache_control=response.get("Cache-Control"),
        vary=response.get("Vary"),
        csrf_token_used=bool(request.META.get("CSRF_COOKIE_NEEDS_UPDATE")),
        body_length=len(body),
        status_codes=settings.STATUS_CODES,
        max_entry_bytes=settings.MAX_ENTRY_BYTES,
    )
    if not decision:
        logger.debug("pagecache: not storing %s: %s", request.path, decision.reason)
        access.release(lock_key, lock_token, uncacheable=True)
        return
    tags = tuple(state.tags)
    if settings.TAG_HEADER and tags:
        response[settings.TAG_HEADER] = header_safe_tags(tags)
    ttl = state.ttl if state.ttl is not None else settings.TTL
    stale_ttl = state.stale_ttl if state.stale_ttl is not None else settings.STALE_TTL
    names = policy.parse_vary(response.get("Vary"))
    key = _variant_key(request, base_key, names)
    excluded = _not_stored_headers()
    headers = tuple(
        (name, value) for name, value in response.headers.items() if name.lower() not in excluded
    )
    value = entries.dumps(
        entries.Entry(
            response.status_code, response.reason_phrase, headers, body, tags, start, ttl, stale_ttl
        )
    )
    vary = (base_key, entries.dumps_vary(names)) if names else None
    # The lock was taken on the key looked up; the entry may land on a Vary variant of it.
    same_key = key == lock_key
    if access.save(key, value, ttl + stale_ttl, vary, lock_token if same_key else "") and names:
        _remember_vary(base_key, names)
    if not same_key:
        access.release(lock_key, lock_token, uncacheable=False)


def _not_stored_headers() -> frozenset[str]:
    # Age and the status header describe one delivery, not the stored response.
    if settings.STATUS_HEADER:
        return frozenset(("age", settings.STATUS_HEADER.lower()))
    return frozenset(("age",))


def header_safe_tags(tags: tuple[str, ...]) -> str:
    """Tags as one space-separated header value; non-ASCII is percent-encoded."""
    return " ".join(tag if tag.isascii() else escape_uri_path(tag) for tag in tags)


def _mark(response: HttpResponseBase, status: str) -> HttpResponseBase:
    if settings.STATUS_HEADER:
        response[settings.STATUS_HEADER] = status
    return response
