"""Forms on cached pages: the CSRF token is taken out of what is stored and put back per
visitor (SPEC §4, "Forms stay cacheable").

A render that used the token (``{% csrf_token %}``, ``get_token``) is stored with each
occurrence of it replaced by a random placeholder of the same length, drawn per entry (no
page content can spell it, so no visitor's token is ever put where an attacker wrote).
Each hit puts back a freshly masked token of the visitor's own secret — from their CSRF
cookie, or a new one with the cookie set as ``CsrfViewMiddleware`` would set it. What
cannot be done safely is refused, and the page is then not stored: a token in a response
header, the secret itself in the page, a token rotated during the render, a compressed
body (its token cannot be found), ``CSRF_USE_SESSIONS`` (the secret lives in the session).

The token formats are Django's own (``django.middleware.csrf``); this module is the one
place that relies on its private helpers, and the tests run against every Django version
the project supports.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Iterable
from dataclasses import dataclass

from django.conf import settings as django_settings
from django.http import HttpResponse
from django.http.cookie import parse_cookie
from django.middleware.csrf import (  # type: ignore[attr-defined]  # private: not in stubs
    CSRF_SECRET_LENGTH,
    CSRF_TOKEN_LENGTH,
    InvalidTokenFormat,
    _check_token_format,
    _get_new_csrf_string,
    _mask_cipher_secret,
    _unmask_cipher_token,
)

#: A masked token as it appears in a page: 64 letters and digits, not part of a longer run.
_TOKEN_IN_PAGE = re.compile(rb"(?<![A-Za-z0-9])[A-Za-z0-9]{%d}(?![A-Za-z0-9])" % CSRF_TOKEN_LENGTH)


def secret_from_cookie(value: str | None) -> str | None:
    """The CSRF secret a cookie value carries, as ``CsrfViewMiddleware`` reads it; ``None``
    if there is no cookie or it is malformed (Django would then issue a new one)."""
    if value is None:
        return None
    try:
        _check_token_format(value)
    except InvalidTokenFormat:
        return None
    # Django before 4.0 stored the secret masked.
    return _unmask_cipher_token(value) if len(value) == CSRF_TOKEN_LENGTH else value


def cookie_value(cookie_header: str | None) -> str | None:
    """The CSRF cookie a request sends, as sent (``None`` if it sends none)."""
    if not cookie_header or django_settings.CSRF_COOKIE_NAME not in cookie_header:
        return None
    return parse_cookie(cookie_header).get(django_settings.CSRF_COOKIE_NAME)


def cookie_secret(cookie_header: str | None) -> tuple[bool, str | None]:
    """(whether the request sends a CSRF cookie, its secret or ``None`` if malformed)."""
    value = cookie_value(cookie_header)
    return value is not None, secret_from_cookie(value)


def cookie_shown(body: bytes, cookie: str | None, secret: str | None) -> bool:
    """Whether a page shows the visitor's CSRF cookie: as sent (Django before 4.1 wrote it
    masked, and still accepts that form), or the secret it carries. Such a page must not
    be stored: the CSRF cookie is never part of a key."""
    if not cookie or len(cookie) < 16:  # too short to be anyone's secret
        return False
    return cookie.encode("utf-8", "replace") in body or (
        secret is not None and secret.encode("ascii") in body
    )


def new_placeholder() -> str:
    """A placeholder as long as a token, that no token (letters and digits only) can equal."""
    return "-" + secrets.token_hex(CSRF_SECRET_LENGTH - 1) + "-"


@dataclass(frozen=True, slots=True)
class TakenOut:
    """A rendered body with this render's tokens replaced by ``placeholder``."""

    body: bytes
    placeholder: str
    count: int


def take_out(
    body: bytes,
    headers: Iterable[tuple[str, str]],
    *,
    secret: str | None,
    sent_secret: str | None,
    content_encoding: str | None,
) -> TakenOut | str:
    """Replace every token of ``secret`` in ``body``; or the reason it cannot be stored.

    ``secret`` is the render's CSRF secret (``request.META["CSRF_COOKIE"]``) and
    ``sent_secret`` the one the visitor's cookie carried in, if any.
    """
    if django_settings.CSRF_USE_SESSIONS:
        return "the CSRF token is kept in the session (CSRF_USE_SESSIONS)"
    if secret is None:
        return "the CSRF token was used without a secret"
    if sent_secret is not None and sent_secret != secret:
        return "the CSRF token was rotated while rendering"
    if content_encoding and content_encoding.strip().lower() != "identity":
        return "the CSRF token cannot be found in a compressed body"
    raw = secret.encode("ascii")
    if raw in body:
        return "the CSRF secret itself is in the page"
    for _name, value in headers:
        if secret in value or any(
            _unmask_cipher_token(found.decode()) == secret
            for found in _TOKEN_IN_PAGE.findall(value.encode("latin-1", "replace"))
        ):
            return "the CSRF token is in a response header"
    placeholder = new_placeholder()
    marker = placeholder.encode("ascii")
    count = 0

    def replace(match: re.Match[bytes]) -> bytes:
        nonlocal count
        if _unmask_cipher_token(match.group().decode("ascii")) != secret:
            return match.group()
        count += 1
        return marker

    stored = _TOKEN_IN_PAGE.sub(replace, body)
    return TakenOut(stored, placeholder, count)


@dataclass(frozen=True, slots=True)
class PutBack:
    """A stored body with the visitor's token in it, and the cookie to set, if any."""

    body: bytes
    set_cookie: str | None


def put_back(body: bytes, placeholder: str, cookie_header: str | None) -> PutBack:
    """Fill ``placeholder`` with a token of the visitor's own; if their cookie is missing or
    malformed, a new secret and the ``Set-Cookie`` value ``CsrfViewMiddleware`` would send."""
    _sent, secret = cookie_secret(cookie_header)
    set_cookie = None
    if secret is None:
        secret = _get_new_csrf_string()
        set_cookie = _cookie_header(secret)
    if body:
        body = body.replace(placeholder.encode("ascii"), _mask_cipher_secret(secret).encode())
    return PutBack(body, set_cookie)


def _cookie_header(secret: str) -> str:
    # Django's own serialisation, with the settings CsrfViewMiddleware._set_csrf_cookie uses.
    response = HttpResponse()
    response.set_cookie(
        django_settings.CSRF_COOKIE_NAME,
        secret,
        max_age=django_settings.CSRF_COOKIE_AGE,
        domain=django_settings.CSRF_COOKIE_DOMAIN,
        path=django_settings.CSRF_COOKIE_PATH,
        secure=django_settings.CSRF_COOKIE_SECURE,
        httponly=django_settings.CSRF_COOKIE_HTTPONLY,
        samesite=django_settings.CSRF_COOKIE_SAMESITE,
    )
    return response.cookies[django_settings.CSRF_COOKIE_NAME].output(header="").strip()
