"""Forms on cached pages: the CSRF token is taken out of what is stored and put back per
visitor (SPEC §4, "Forms stay cacheable").

A render that used the token (``{% csrf_token %}``, ``get_token``) is stored with each
token Django handed out during that render (recorded as it is minted, see :func:`watch`)
replaced by a random placeholder of the same length, drawn per entry: no page content can
spell the placeholder, and a token that merely looks like the renderer's (their secret is
their own cookie) is never replaced, so no visitor's token is ever put where someone wrote.
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

import secrets
from collections.abc import Iterable, Sequence
from contextvars import ContextVar, Token
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


#: The tokens Django handed out in the render in progress (see :func:`watch`).
_minted: ContextVar[list[str] | None] = ContextVar("pagecache_csrf_minted", default=None)
_installed = False


def watch() -> Token[list[str] | None]:
    """Start recording the tokens Django hands out (``get_token``) in this render; undo with
    :func:`unwatch`. Only recorded tokens are ever taken out of a stored page."""
    _install()
    return _minted.set([])


def unwatch(token: Token[list[str] | None]) -> list[str] | None:
    """Stop recording; the tokens handed out since :func:`watch` (``None`` if unknown)."""
    minted = _minted.get()
    _minted.reset(token)
    return minted if _installed else None


def _install() -> None:
    """Wrap ``django.middleware.csrf._mask_cipher_secret`` (which ``get_token`` calls for
    every token it hands out) so tokens are recorded while a render is watched. Without
    it (a Django whose internals moved), :func:`unwatch` says "unknown" and form pages are
    simply not stored."""
    global _installed
    if _installed:
        return
    from django.middleware import csrf as django_csrf

    original = getattr(django_csrf, "_mask_cipher_secret", None)
    if original is None or getattr(original, "pagecache_recording", False):
        _installed = original is not None
        return

    def recording(secret: str) -> str:
        token: str = original(secret)
        minted = _minted.get()
        if minted is not None:
            minted.append(token)
        return token

    recording.pagecache_recording = True  # type: ignore[attr-defined]
    django_csrf._mask_cipher_secret = recording  # type: ignore[attr-defined]
    _installed = True


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
    minted: Sequence[str] | None,
) -> TakenOut | str:
    """Replace every token handed out during this render (``minted``, see :func:`watch`) in
    ``body``; or the reason the page cannot be stored.

    Only those exact tokens are replaced, wherever they are (a letter or an escape next to
    one changes nothing). Another token of the same secret is left as it is: the renderer
    chooses that secret (it is their cookie), so a token of it in page content (a search
    query, a comment) is theirs, never a place where another visitor's token would go.
    ``secret`` is the render's CSRF secret (``request.META["CSRF_COOKIE"]``) and
    ``sent_secret`` the one the visitor's cookie carried in, if any.
    """
    if django_settings.CSRF_USE_SESSIONS:
        return "the CSRF token is kept in the session (CSRF_USE_SESSIONS)"
    if secret is None:
        return "the CSRF token was used without a secret"
    if minted is None:
        return "the CSRF tokens handed out while rendering are not known"
    if sent_secret is not None and sent_secret != secret:
        return "the CSRF token was rotated while rendering"
    if content_encoding and content_encoding.strip().lower() != "identity":
        return "the CSRF token cannot be found in a compressed body"
    if secret.encode("ascii") in body:
        return "the CSRF secret itself is in the page"
    for _name, value in headers:
        if secret in value or any(token in value for token in minted):
            return "the CSRF token is in a response header"
    placeholder = new_placeholder()
    marker = placeholder.encode("ascii")
    count = 0
    for token in dict.fromkeys(minted):
        raw = token.encode("ascii")
        count += body.count(raw)
        body = body.replace(raw, marker)
        # Half a token (a mask or a cipher) left over means it was cut or transformed:
        # what is left could still be one visitor's, so the page is not stored.
        half = CSRF_SECRET_LENGTH
        if raw[:half] in body or raw[half:] in body:
            return "a CSRF token is in the page in a form that cannot be taken out"
    return TakenOut(body, placeholder, count)


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
