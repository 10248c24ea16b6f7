"""``PageCacheASGI``: serve page-cache hits before Django builds a request, under ASGI.

Wrap Django's ASGI application::

    from django.core.asgi import get_asgi_application
    from pagecache.asgi import PageCacheASGI

    application = PageCacheASGI(get_asgi_application())

A hit costs the lookup (one round trip on a pooled ``redis.asyncio`` connection) and
nothing else: no ``HttpRequest``, no middleware, no URL resolving. The rules are the
middleware's own — eligibility, host validation, key, ``Vary``, HEAD, 304, a stored form's
CSRF token — from the same functions, on a WSGI-style environ built from the scope as
Django's ``ASGIRequest`` builds ``META``. Everything else goes to Django unchanged, where
``PageCacheMiddleware`` (which must stay installed) takes the render lock, renders and
stores: the wrapper never takes a lock itself, so it can never leave one behind.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from django.conf import settings as django_settings

from . import aserve
from .adriver import has_async_store
from .core import request_facts, responses
from .core.flow import Action
from .middleware import MIDDLEWARE_PATH
from .outage import log_failure

Scope = MutableMapping[str, Any]
ASGIApp = Callable[[Scope, Any, Any], Awaitable[None]]


def environ_of(scope: Scope) -> dict[str, Any] | None:
    """What pagecache reads of a request, from an HTTP scope, as ``ASGIRequest`` builds
    ``META``; ``None`` for a scope Django would split differently (a root path the path
    does not start with)."""
    root_path = scope.get("root_path", "")
    path = scope["path"]
    if root_path and not path.startswith(root_path):
        return None
    server = scope.get("server") or ("", 0)
    client = scope.get("client") or ("", 0)
    environ: dict[str, Any] = {
        "REQUEST_METHOD": scope["method"],
        "QUERY_STRING": scope.get("query_string", b"").decode("latin-1"),
        "SCRIPT_NAME": root_path,
        "PATH_INFO": path.removeprefix(root_path) or "/",
        "SERVER_NAME": str(server[0] or "unknown"),
        "SERVER_PORT": str(server[1] or "0"),
        "REMOTE_ADDR": str(client[0]),
        "wsgi.url_scheme": scope.get("scheme", "http"),
    }
    for raw_name, raw_value in scope.get("headers", ()):
        name = raw_name.decode("latin-1").upper().replace("-", "_")
        key = name if name in ("CONTENT_LENGTH", "CONTENT_TYPE") else f"HTTP_{name}"
        value = raw_value.decode("latin-1")
        environ[key] = f"{environ[key]},{value}" if key in environ else value
    return environ


class PageCacheASGI:
    """ASGI middleware answering page-cache hits in front of ``application``."""

    def __init__(self, application: ASGIApp) -> None:
        self.application = application

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.application(scope, receive, send)
            return
        try:
            parts = await self._hit(scope)
        except Exception as exc:
            # A failing cache never breaks a page: let Django handle the request.
            log_failure("asgi", "pagecache: ASGI fast path failed, falling through: %r", exc)
            parts = None
        if parts is None:
            await self.application(scope, receive, send)
            return
        # As Django's ASGI handler sends them (names as set), so a hit repeats the stored
        # response byte for byte.
        headers = [(n.encode("latin-1"), v.encode("latin-1")) for n, v in parts.headers]
        if parts.cookie is not None:
            headers.append((b"set-cookie", parts.cookie.encode("latin-1")))
        await send({"type": "http.response.start", "status": parts.status, "headers": headers})
        await send({"type": "http.response.body", "body": parts.body})

    async def _hit(self, scope: Scope) -> responses.HitParts | None:
        """The response for a hit, or ``None`` to let Django answer."""
        if MIDDLEWARE_PATH not in django_settings.MIDDLEWARE or not has_async_store():
            return None
        environ = environ_of(scope)
        if environ is None:
            return None
        script_name = environ["SCRIPT_NAME"].rstrip("/")
        page = request_facts.page_request(environ, script_name, environ["PATH_INFO"])
        if isinstance(page, str):
            return None
        outcome = await aserve.obtain(page, lock=False)
        if outcome.action not in (Action.HIT, Action.STALE):
            return None
        return responses.hit_parts(page, outcome)
