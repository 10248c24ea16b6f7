"""The responses a hit is answered with, built from a stored entry: the stored response
(with the visitor's CSRF token put back), or 304/412 for a conditional request, plus
``Age`` and the status header. Shared by the middleware and the WSGI fast path, so both
answer exactly alike.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from django.utils.encoding import escape_uri_path

from ..conf import settings
from . import csrf, policy, request_facts
from . import entry as entries
from .flow import Action, Outcome


@dataclass(frozen=True, slots=True)
class HitParts:
    """A response served from the cache, independent of how it is sent."""

    status: int
    reason: str
    headers: list[tuple[str, str]]
    body: bytes
    #: A ``Set-Cookie`` value to send too (a new CSRF cookie for a stored form's visitor):
    #: the middleware sets it through ``response.cookies``, as CsrfViewMiddleware does.
    cookie: str | None = None


#: What a STALE response tells downstream caches (unless ``CACHE_CONTROL`` is None).
STALE_CACHE_CONTROL = "max-age=0, s-maxage=0, must-revalidate"


def hit_parts(
    page: request_facts.PageRequest, outcome: Outcome, token_source: Callable[[], str] | None = None
) -> HitParts:
    """The response for a HIT or STALE outcome: stored, or 304/412, plus Age and status.

    A stored form gets the visitor's own CSRF token (``token_source``, or from their
    cookie, setting one if they have none)."""
    stored, found = outcome.entry, outcome.found
    assert stored is not None and found is not None
    label = "HIT" if outcome.action is Action.HIT else "STALE"
    age = str(max(0, (stored.ttl + stored.stale_ttl) * 1000 - found.ttl_left_ms) // 1000)
    environ = page.environ
    conditional = None
    if stored.csrf_placeholder:
        parts = _form_parts(page, stored, token_source)
    elif (
        # Most hits carry no condition: don't look for validators then.
        "HTTP_IF_NONE_MATCH" in environ
        or "HTTP_IF_MODIFIED_SINCE" in environ
        or "HTTP_IF_MATCH" in environ
        or "HTTP_IF_UNMODIFIED_SINCE" in environ
    ) and (
        conditional := conditional_status(page.method, page.header, stored.status, stored.headers)
    ) == 304:
        headers = [(n, v) for n, v in stored.headers if n.lower() in policy.NOT_MODIFIED_HEADERS]
        parts = HitParts(304, "Not Modified", headers, b"")
    elif conditional == 412:
        parts = HitParts(412, "Precondition Failed", [], b"")
    else:
        body = b"" if page.method == "HEAD" else stored.body
        parts = HitParts(stored.status, stored.reason, list(stored.headers), body)
    if label == "STALE" and settings.CACHE_CONTROL is not None:
        # A stale or soft-purged copy is served while one request re-renders: its Age may be
        # under its TTL (soft purge), so no cache downstream may keep it as fresh.
        parts.headers[:] = [(n, v) for n, v in parts.headers if n.lower() != "cache-control"]
        parts.headers.append(("Cache-Control", STALE_CACHE_CONTROL))
    parts.headers.append(("Age", age))
    if settings.STATUS_HEADER:
        parts.headers.append((settings.STATUS_HEADER, label))
    return parts


def _form_parts(
    page: request_facts.PageRequest, stored: entries.Entry, token_source: Callable[[], str] | None
) -> HitParts:
    # Every visitor's copy differs (its token): no 304 from a validator shared by all.
    body = b"" if page.method == "HEAD" else stored.body
    if token_source is not None:
        body = body.replace(stored.csrf_placeholder.encode("ascii"), token_source().encode())
        return HitParts(stored.status, stored.reason, list(stored.headers), body)
    filled = csrf.put_back(body, stored.csrf_placeholder, page.header("cookie"))
    headers = list(stored.headers)
    return HitParts(stored.status, stored.reason, headers, filled.body, filled.set_cookie)


#: Request headers that make a response conditional (RFC 9110 §13.1); hit_parts names
#: their environ keys too.
CONDITIONAL_HEADERS = ("If-Match", "If-None-Match", "If-Modified-Since", "If-Unmodified-Since")


def conditional_status(
    method: str,
    condition: Callable[[str], str | None],
    status: int,
    headers: Iterable[tuple[str, str]],
) -> int | None:
    """304 or 412 for a full response and a request's conditional headers (``condition``
    gives one by name; asked only when the response has validators), else None."""
    etag = last_modified = None
    for name, value in headers:
        lowered = name.lower()
        if lowered == "etag":
            etag = value
        elif lowered == "last-modified":
            last_modified = value
    if etag is None and last_modified is None:
        return None
    return policy.conditional_status(
        method,
        if_match=condition("If-Match"),
        if_none_match=condition("If-None-Match"),
        if_modified_since=condition("If-Modified-Since"),
        if_unmodified_since=condition("If-Unmodified-Since"),
        etag=etag,
        last_modified=last_modified,
        status=status,
    )


def header_safe_tags(tags: tuple[str, ...]) -> str:
    """Tags as one space-separated header value; non-ASCII is percent-encoded."""
    return " ".join(tag if tag.isascii() else escape_uri_path(tag) for tag in tags)
