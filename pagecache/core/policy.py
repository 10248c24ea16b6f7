"""Pure caching policy: which requests may use the cache, what the key is, what may be stored.

Nothing here does I/O or touches Django's request and response objects: the
middleware, the decorator and the WSGI fast path extract plain values and ask these
functions, so every rule exists once and is tested without Redis. Each refusal
carries a ``reason``; the same words appear in the docs' list of reasons.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Container, Iterable, Sequence
from dataclasses import dataclass
from fnmatch import fnmatchcase
from urllib.parse import parse_qsl, unquote_plus, urlencode

from django.http.cookie import parse_cookie
from django.utils.http import parse_etags, parse_http_date_safe


@dataclass(frozen=True, slots=True)
class Decision:
    """The answer of a policy question, with the reason when it is "no"."""

    ok: bool
    reason: str = ""

    def __bool__(self) -> bool:
        return self.ok


YES = Decision(True)

# -- requests -------------------------------------------------------------------------------


def request_eligibility(
    method: str,
    *,
    has_authorization: bool,
    cookie_names: Container[str],
    anonymous_only: bool,
    bypass_cookies: Iterable[str],
    has_body: bool = False,
) -> Decision:
    """May this request be served from, or stored to, the page cache? (SPEC §4)

    >>> request_eligibility("POST", has_authorization=False, cookie_names=(),
    ...                     anonymous_only=True, bypass_cookies=("sessionid",)).reason
    'method is not GET or HEAD'
    """
    if method not in ("GET", "HEAD"):
        return Decision(False, "method is not GET or HEAD")
    # A body is not part of the key, yet a view may read it: the page would be shaped by
    # unkeyed input and served to others.
    if has_body:
        return Decision(False, "request has a body")
    # Authorization marks a personal response even when no cookie does (RFC 9111 §3.5).
    if has_authorization:
        return Decision(False, "request has an Authorization header")
    if anonymous_only:
        for name in bypass_cookies:
            if name in cookie_names:
                return Decision(False, f"request carries the {name} cookie")
    return YES


def normalize_query(query_string: str, ignored_patterns: Sequence[str]) -> str:
    """Query string with ignored parameters removed and parameters sorted by name.

    Values of a repeated parameter keep their order, since ``getlist`` exposes it.

    >>> normalize_query("b=2&utm_source=x&a=1&b=1", ["utm_*"])
    'a=1&b=2&b=1'
    """
    if not query_string:
        return ""
    pairs = [
        (name, value)
        for name, value in parse_qsl(query_string, keep_blank_values=True)
        if not any(fnmatchcase(name, pattern) for pattern in ignored_patterns)
    ]
    pairs.sort(key=lambda pair: pair[0])
    return urlencode(pairs)


def parse_vary(header: str | None) -> tuple[str, ...]:
    """Header names of a ``Vary`` value, lower-cased, sorted and unique.

    >>> parse_vary("Accept-Language, cookie,accept-language")
    ('accept-language', 'cookie')
    """
    if not header:
        return ()
    return tuple(sorted({name.strip().lower() for name in header.split(",") if name.strip()}))


#: A header field name (RFC 9110 §5.1: a token).
_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+").fullmatch


def vary_values(
    names: Sequence[str], get_header: Callable[[str], str | None]
) -> list[str | None]:
    """The request's values for the ``Vary`` header names (``None`` for a missing header:
    it differs from an empty one)."""
    return [get_header(name) for name in names]


def strip_query(query_string: str, ignored_patterns: Sequence[str]) -> str:
    """The query string without its ignored parameters, the rest untouched (order, encoding).

    >>> strip_query("b=2&utm_source=x&a=%C3%A9", ["utm_*"])
    'b=2&a=%C3%A9'
    """
    kept = [part for part in query_string.split("&") if not _ignored_param(part, ignored_patterns)]
    return "&".join(kept)


def _ignored_param(part: str, patterns: Sequence[str]) -> bool:
    name = unquote_plus(part.split("=", 1)[0])
    return any(fnmatchcase(name, pattern) for pattern in patterns)


def strip_cookies(cookie_header: str, ignored_patterns: Sequence[str]) -> str:
    """The ``Cookie`` header without the ignored cookies, the rest untouched.

    >>> strip_cookies("_ga=GA1.1; theme=dark; _gid=x", ["_ga*", "_gid"])
    'theme=dark'
    """
    kept = [
        part.strip()
        for part in cookie_header.split(";")
        if part.strip()
        and not any(fnmatchcase(_cookie_name(part), p) for p in ignored_patterns)
    ]
    return "; ".join(kept)


def _cookie_name(chunk: str) -> str:
    # As Django's parse_cookie reads it: a chunk without "=" is a value with no name.
    return chunk.split("=", 1)[0].strip() if "=" in chunk else ""


def keyed_cookies(cookie_header: str | None, ignored_patterns: Sequence[str]) -> str | None:
    """What a ``Vary: Cookie`` page is keyed on: the cookies the view reads
    (``request.COOKIES``, as Django's ``parse_cookie`` builds it: a name sent twice keeps
    its last value), without the ignored ones, sorted by name and encoded so that no value
    can spell another cookie; ``None`` when none is left — the view saw no cookie then, as
    for a visitor without any.

    >>> keyed_cookies("theme=dark; _ga=GA1.1; lang=de", ["_ga*"])
    '[["lang","de"],["theme","dark"]]'
    >>> keyed_cookies("theme=light; theme=dark", []) == keyed_cookies("theme=dark", [])
    True
    >>> keyed_cookies("_ga=GA1.1", ["_ga*"]) is None
    True
    """
    if not cookie_header:
        return None
    kept = sorted(
        (name, value)
        for name, value in parse_cookie(cookie_header).items()
        if not any(fnmatchcase(name, pattern) for pattern in ignored_patterns)
    )
    return json.dumps(kept, separators=(",", ":"), ensure_ascii=False) if kept else None


# -- responses ------------------------------------------------------------------------------


def cache_control_directives(header: str | None) -> frozenset[str]:
    """Directive names of a ``Cache-Control`` value, lower-cased, without arguments."""
    if not header:
        return frozenset()
    return frozenset(
        part.split("=", 1)[0].strip().lower() for part in header.split(",") if part.strip()
    )


_PRIVATE_DIRECTIVES = ("private", "no-store", "no-cache")


def response_storability(
    *,
    status: int,
    streaming: bool,
    sets_cookie: bool,
    cache_control: str | None,
    vary: str | None,
    body_length: int,
    status_codes: Container[int],
    max_entry_bytes: int,
    debug_toolbar: bool = False,
) -> Decision:
    """May this rendered response be stored? (SPEC §4)

    >>> response_storability(status=200, streaming=False, sets_cookie=True, cache_control=None,
    ...     vary=None, body_length=10, status_codes={200},
    ...     max_entry_bytes=100).reason
    'response sets a cookie'
    """
    if status not in status_codes:
        return Decision(False, f"status {status} is not in STATUS_CODES")
    if streaming:
        return Decision(False, "response is streaming")
    # A cookie is meant for one visitor; replaying it would hand it to everyone.
    if sets_cookie:
        return Decision(False, "response sets a cookie")
    directives = cache_control_directives(cache_control)
    for directive in _PRIVATE_DIRECTIVES:
        if directive in directives:
            return Decision(False, f"Cache-Control: {directive}")
    # Vary: * never matches a later request (RFC 9110 §12.5.5).
    vary_names = parse_vary(vary)
    if "*" in vary_names:
        return Decision(False, "Vary: * never matches")
    # A name that is not a header name (non-ASCII, say) matches no request header we can key.
    if not all(_TOKEN(name) for name in vary_names):
        return Decision(False, "Vary names something that is not a header")
    if body_length > max_entry_bytes:
        return Decision(False, "body is larger than MAX_ENTRY_BYTES")
    # Its panel shows one visitor's request, SQL and settings: never someone else's page.
    if debug_toolbar:
        return Decision(False, "django-debug-toolbar's panel is in the body")
    return YES


#: What django-debug-toolbar injects into the pages it shows its panel on.
DEBUG_TOOLBAR_MARKUP = b'id="djDebug"'




# -- conditional requests on a hit ----------------------------------------------------------


def conditional_status(
    method: str,
    *,
    if_match: str | None,
    if_none_match: str | None,
    if_modified_since: str | None,
    if_unmodified_since: str | None,
    etag: str | None,
    last_modified: str | None,
    status: int,
) -> int | None:
    """304 or 412 for a stored response, as ``ConditionalGetMiddleware`` decides, else None.

    Follows the evaluation order of RFC 9110 §13.2.2, like ``django.utils.cache``.

    >>> conditional_status("GET", if_match=None, if_none_match='"a"', if_modified_since=None,
    ...     if_unmodified_since=None, etag='"a"', last_modified=None, status=200)
    304
    """
    # ConditionalGetMiddleware only considers GET and non-error responses.
    if method not in ("GET", "HEAD") or not 200 <= status < 300:
        return None
    if not etag and not last_modified:
        return None
    last_modified_ts = parse_http_date_safe(last_modified) if last_modified else None
    if_match_etags = parse_etags(if_match or "")
    if_none_match_etags = parse_etags(if_none_match or "")
    if if_match_etags and not _if_match_passes(etag, if_match_etags):
        return 412
    if not if_match_etags and if_unmodified_since:
        since = parse_http_date_safe(if_unmodified_since)
        if since is not None and (last_modified_ts is None or last_modified_ts > since):
            return 412
    if if_none_match_etags:
        return 304 if _if_none_match_fails(etag, if_none_match_etags) else None
    if if_modified_since:
        since = parse_http_date_safe(if_modified_since)
        if since is not None and last_modified_ts is not None and last_modified_ts <= since:
            return 304
    return None


def _if_match_passes(etag: str | None, etags: list[str]) -> bool:
    # Strong comparison; a weak or missing ETag never satisfies If-Match.
    if not etag:
        return False
    if etags == ["*"]:
        return True
    return not etag.startswith("W/") and etag in etags


def _if_none_match_fails(etag: str | None, etags: list[str]) -> bool:
    # Weak comparison: the client already holds this representation.
    if not etag:
        return False
    if etags == ["*"]:
        return True
    return etag.removeprefix("W/") in {t.removeprefix("W/") for t in etags}


#: Headers a 304 carries over from the stored response (as django.utils.cache._not_modified).
NOT_MODIFIED_HEADERS = frozenset(
    ("cache-control", "content-location", "date", "etag", "expires", "last-modified", "vary")
)


def downstream_cache_control(setting: str | None, ttl: int) -> str | None:
    """The ``Cache-Control`` a stored page without one of its own is sent with (SPEC §11).

    ``"auto"``: browsers revalidate every time (``ETag`` / ``Last-Modified`` get them 304s)
    and shared caches (Varnish, a CDN) keep the page no longer than pagecache does — its
    TTL, less the ``Age`` each hit carries — and never serve it stale unrevalidated. A
    string is sent as written (e.g. a longer ``s-maxage`` when a purger reaches the shared
    cache); ``None`` sends nothing.

    >>> downstream_cache_control("auto", 30)
    'max-age=0, s-maxage=30, must-revalidate'
    >>> downstream_cache_control("public, s-maxage=86400", 30)
    'public, s-maxage=86400'
    """
    if setting == "auto":
        return f"max-age=0, s-maxage={ttl}, must-revalidate"
    return setting
