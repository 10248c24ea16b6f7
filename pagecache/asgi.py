"""``PageCacheASGI``: serve page-cache hits before Django builds a request, under ASGI.

Wrap Django's ASGI application::

    from django.core.asgi import get_asgi_application
    from pagecache.asgi import PageCacheASGI

    application = PageCacheASGI(get_asgi_application())

A hit costs the lookup (one round trip on a pooled ``redis.asyncio`` connection) and
nothing else: no ``HttpRequest``, no middleware, no URL resolving. The rules are the
middleware's own — eligibility, host validation, key, ``Vary``, HEAD, 304, a stored form's
CSRF token — from the same functions, on Django's own ``ASGIRequest`` for the scope (its
body never read). Everything else — misses, and stale entries, so that one request takes
the lock and re-renders — goes to Django unchanged, where ``PageCacheMiddleware`` (which
must stay installed) renders and stores: the wrapper never takes a lock itself, so it can
never leave one behind.
"""

from __future__ import annotations

import io
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from django.conf import settings as django_settings
from django.core.handlers.asgi import ASGIRequest

from . import aserve, observe, serve
from .adriver import has_async_store
from .conf import on_reload
from .core import responses
from .core.flow import Action
from .middleware import MIDDLEWARE_PATH
from .outage import log_failure

Scope = MutableMapping[str, Any]
ASGIApp = Callable[[Scope, Any, Any], Awaitable[None]]


#: Whether the fast path can answer at all (the middleware installed, an async store),
#: decided once per settings change.
_usable: bool | None = None


def _enabled() -> bool:
    global _usable
    if _usable is None:
        _usable = MIDDLEWARE_PATH in django_settings.MIDDLEWARE and has_async_store()
    return _usable


@on_reload
def _forget_usable() -> None:
    global _usable
    _usable = None


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
        """The response for a fresh hit, or ``None`` to let Django answer."""
        if not _enabled():
            return None
        # Django's own reading of the scope (headers, cookies, path split, scheme), so the
        # key and every rule are exactly the middleware's; no body is read.
        request = ASGIRequest(scope, io.BytesIO())
        page = serve.page_of(request)
        if isinstance(page, str):
            return None
        outcome = await aserve.obtain(page, lock=False)
        # Stale: let the middleware serve it, so one request takes the lock and re-renders.
        if outcome.action is not Action.HIT:
            return None
        observe.served("page", outcome.key, "HIT", outcome.entry)
        return responses.hit_parts(page, outcome)
