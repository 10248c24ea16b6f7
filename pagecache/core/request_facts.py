"""What the page cache needs to know about a request, read from its WSGI environ.

The middleware passes ``request.META`` (which *is* the environ) and ``request.path``;
the WSGI fast path passes the raw environ before Django builds a request. Both get the
same answers from the same code: the scheme, the host as ``HttpRequest.get_host()``
validates it, request headers by name, and the request's page key or the reason it may
not use the page cache.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from django.conf import settings as django_settings
from django.http.cookie import parse_cookie
from django.http.request import split_domain_port, validate_host
from django.utils.encoding import escape_uri_path

if TYPE_CHECKING:
    from django.http import HttpRequest

from ..conf import on_reload, settings
from . import keys, policy

Environ = Mapping[str, Any]

#: A path made only of characters escape_uri_path() leaves alone needs no escaping.
_ALREADY_ESCAPED = re.compile(r"[A-Za-z0-9/:@&+$,\-_.!~*'()]*").fullmatch

#: Raw Host value -> valid? Hosts are few; the table is bounded against forged ones.
_valid_hosts: dict[str, bool] = {}
VALID_HOSTS_LIMIT = 1024


@on_reload
def _forget_hosts() -> None:
    _valid_hosts.clear()


def scheme(environ: Environ) -> str:
    """``request.scheme``: ``SECURE_PROXY_SSL_HEADER`` if configured, else the WSGI scheme."""
    proxy_header = django_settings.SECURE_PROXY_SSL_HEADER
    if proxy_header:
        header, secure_value = proxy_header
        value = environ.get(header)
        if value is not None:
            return "https" if value.split(",", 1)[0].strip() == secure_value else "http"
    return str(environ.get("wsgi.url_scheme", "http"))


def host(environ: Environ, request_scheme: str) -> str | None:
    """``request.get_host()``, or ``None`` where Django would raise ``DisallowedHost``."""
    if django_settings.USE_X_FORWARDED_HOST and "HTTP_X_FORWARDED_HOST" in environ:
        raw = str(environ["HTTP_X_FORWARDED_HOST"])
    elif "HTTP_HOST" in environ:
        raw = str(environ["HTTP_HOST"])
    else:
        # PEP 3333's reconstruction, as Django does it.
        raw = str(environ.get("SERVER_NAME", ""))
        if django_settings.USE_X_FORWARDED_PORT and "HTTP_X_FORWARDED_PORT" in environ:
            port = str(environ["HTTP_X_FORWARDED_PORT"])
        else:
            port = str(environ.get("SERVER_PORT", ""))
        if port != ("443" if request_scheme == "https" else "80"):
            raw = f"{raw}:{port}"
    valid = _valid_hosts.get(raw)
    if valid is None:
        allowed = django_settings.ALLOWED_HOSTS
        if django_settings.DEBUG and not allowed:
            allowed = [".localhost", "127.0.0.1", "[::1]"]
        domain, _port = split_domain_port(raw)
        valid = bool(domain and validate_host(domain, allowed))
        if len(_valid_hosts) >= VALID_HOSTS_LIMIT:
            _valid_hosts.clear()
        _valid_hosts[raw] = valid
    return raw if valid else None


def environ_key(name: str) -> str:
    """Where a request header lives in a WSGI environ (``"If-None-Match"`` ->
    ``"HTTP_IF_NONE_MATCH"``)."""
    key = name.upper().replace("-", "_")
    return key if key in ("CONTENT_TYPE", "CONTENT_LENGTH") else f"HTTP_{key}"


def header(environ: Environ, name: str) -> str | None:
    """A request header by its HTTP name (``"Accept-Language"``), as ``request.headers``."""
    value = environ.get(environ_key(name))
    return None if value is None else str(value)


def has_body(environ: Environ) -> bool:
    """Whether the request carries a body (a length above zero, or chunked)."""
    if "HTTP_TRANSFER_ENCODING" in environ:
        return True
    length = environ.get("CONTENT_LENGTH")
    return bool(length) and str(length).strip() not in ("", "0")


@dataclass(frozen=True, slots=True)
class PageRequest:
    """A request that may use the page cache, and the key of its page before ``Vary``."""

    method: str
    base_key: str
    environ: Environ

    def header(self, name: str) -> str | None:
        return header(self.environ, name)

    def keyed_header(self, name: str) -> str | None:
        """A request header as a ``Vary`` key part: ``Cookie`` without the ignored cookies
        and the CSRF cookie (a stored page holds no token: each hit puts in the visitor's)."""
        if name == "cookie":
            return policy.keyed_cookies(self.header("cookie"), unkeyed_cookies())
        return self.header(name)


def unkeyed_cookies() -> tuple[str, ...]:
    """Patterns of the cookies a ``Vary: Cookie`` page is not keyed on."""
    return (*settings.IGNORED_COOKIES, csrf_cookie_pattern())


def csrf_cookie_pattern() -> str:
    """``CSRF_COOKIE_NAME`` as a glob pattern matching only itself."""
    return re.sub(r"([*?\[])", r"[\1]", django_settings.CSRF_COOKIE_NAME)


def page_request(
    environ: Environ, script_name: str, path_info: str, request: HttpRequest | None = None
) -> PageRequest | str:
    """The request's page key if it may use the page cache, else the reason it may not.

    ``script_name`` and ``path_info`` are Django's split of ``request.path`` (decoded): the
    script prefix without its trailing slash, and the path below it. ``request`` is the
    ``HttpRequest`` when there is one already (``VARY_ON_REQUEST`` callables need one).
    """
    method = str(environ.get("REQUEST_METHOD", "")).upper()
    cookie_header = environ.get("HTTP_COOKIE")
    eligible = policy.request_eligibility(
        method,
        has_body=has_body(environ),
        has_authorization="HTTP_AUTHORIZATION" in environ,
        cookie_names=parse_cookie(cookie_header) if cookie_header else {},
        anonymous_only=settings.ANONYMOUS_ONLY,
        bypass_cookies=settings.BYPASS_COOKIES,
    )
    if not eligible:
        return eligible.reason
    request_scheme = scheme(environ)
    valid_host = host(environ, request_scheme)
    if valid_host is None:
        return "host is not in ALLOWED_HOSTS"
    base_key = keys.page_key(
        settings.KEY_PREFIX,
        request_scheme,
        valid_host,
        path_info if _ALREADY_ESCAPED(path_info) else escape_uri_path(path_info),
        policy.normalize_query(str(environ.get("QUERY_STRING", "")), settings.IGNORED_QUERY_PARAMS),
        escape_uri_path(script_name) if script_name else "",
        # The hit path checks the cheap "not used" cases inline.
        language=None if _language_keyed is False else active_language(environ, path_info),
        varied=varied_on_request(environ, request) if settings.VARY_ON_REQUEST else (),
    )
    return PageRequest(method, base_key, environ)


LOCALE_MIDDLEWARE = "django.middleware.locale.LocaleMiddleware"


class _LanguageRequest:
    """What Django's ``get_language_from_request`` reads of a request, from an environ."""

    def __init__(self, environ: Environ, path_info: str) -> None:
        self.path_info = path_info
        self.META = environ
        cookie_header = environ.get("HTTP_COOKIE")
        self.COOKIES = parse_cookie(cookie_header) if cookie_header else {}


def active_language(environ: Environ, path_info: str) -> str | None:
    """The language ``LocaleMiddleware`` will activate for this request (the
    ``i18n_patterns`` prefix, the language cookie, ``Accept-Language``, as it decides), or
    ``None`` when the site does not use it."""
    if not _keyed_by_language():
        return None
    from django.conf.urls.i18n import is_language_prefix_patterns_used
    from django.utils import translation

    patterns_used, prefixed_default = is_language_prefix_patterns_used(
        django_settings.ROOT_URLCONF
    )
    shim = _LanguageRequest(environ, path_info)
    language = translation.get_language_from_request(shim, check_path=patterns_used)  # type: ignore[arg-type]
    if patterns_used and not prefixed_default and not translation.get_language_from_path(path_info):
        language = django_settings.LANGUAGE_CODE
    return str(language)


_language_keyed: bool | None = None


def _keyed_by_language() -> bool:
    global _language_keyed
    if _language_keyed is None:
        _language_keyed = bool(
            django_settings.USE_I18N and LOCALE_MIDDLEWARE in django_settings.MIDDLEWARE
        )
    return _language_keyed


@on_reload
def _forget_language_keyed() -> None:
    global _language_keyed
    _language_keyed = None


def varied_on_request(environ: Environ, request: HttpRequest | None) -> list[str]:
    """The results of the ``VARY_ON_REQUEST`` callables for this request."""
    if not settings.VARY_ON_REQUEST:
        return []
    if request is None:
        from django.core.handlers.wsgi import WSGIRequest

        request = WSGIRequest(dict(environ))  # the WSGI fast path: built only when needed
    return [str(_callable(path)(request)) for path in settings.VARY_ON_REQUEST]


_callables: dict[str, Any] = {}


def _callable(path: str) -> Any:
    found = _callables.get(path)
    if found is None:
        from django.utils.module_loading import import_string

        found = _callables[path] = import_string(path)
    return found


@on_reload
def _forget_callables() -> None:
    _callables.clear()
