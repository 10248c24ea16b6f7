"""``PageCacheMiddleware``: the page cache as one middleware, placed first in MIDDLEWARE.

Thin on purpose: every decision is in :mod:`pagecache.core.policy`, the flow in
:mod:`pagecache.serve`. Being first means a hit is answered before any other
middleware or the view runs, and a miss sees the final response (cookies, Vary)
that every other middleware produced.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from asgiref.sync import iscoroutinefunction, markcoroutinefunction, sync_to_async

from .core.render import HANDLED_ATTR
from .serve import GetResponse, serve

if TYPE_CHECKING:
    from django.http import HttpRequest, HttpResponseBase


#: The dotted path users put in MIDDLEWARE (the checks and the WSGI fast path look for it).
MIDDLEWARE_PATH = "pagecache.middleware.PageCacheMiddleware"


class PageCacheMiddleware:
    """Sync under WSGI, async under ASGI (no thread hop on a hit: see :mod:`pagecache.aserve`)."""

    sync_capable = True
    async_capable = True

    def __init__(self, get_response: Any) -> None:
        from django.conf import settings as django_settings

        self.get_response = get_response
        # Placed first (as it should be, W001), nothing has read data before its lookup;
        # otherwise a render starts when the request arrived (pagecache.clock notes it).
        self.outermost = list(django_settings.MIDDLEWARE[:1]) == [MIDDLEWARE_PATH]
        self.is_async = iscoroutinefunction(get_response)
        if self.is_async:
            markcoroutinefunction(self)

    def __call__(self, request: HttpRequest) -> Any:
        if self.is_async:
            return self.__acall__(request)
        # Tell @cache_page below that this request is handled here, cached or bypassed.
        setattr(request, HANDLED_ATTR, True)
        return serve(request, self.get_response, outermost=self.outermost)

    async def __acall__(self, request: HttpRequest) -> HttpResponseBase:
        from .adriver import has_async_store
        from .aserve import aserve

        setattr(request, HANDLED_ATTR, True)
        if has_async_store():
            return await aserve(request, self.get_response, outermost=self.outermost)
        # A cache without an async store (another backend, Sentinel, Cluster): the sync
        # driver in a thread, with the rest of the chain called back in the loop.
        return await sync_to_async(serve)(
            request, _in_loop(self.get_response), outermost=self.outermost
        )


def _in_loop(get_response: Any) -> GetResponse:
    from asgiref.sync import async_to_sync

    return async_to_sync(get_response)
