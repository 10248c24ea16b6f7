"""``PageCacheMiddleware``: the page cache as one middleware, placed first in MIDDLEWARE.

Thin on purpose: every decision is in :mod:`pagecache.core.policy`, the flow in
:mod:`pagecache.serve`. Being first means a hit is answered before any other
middleware or the view runs, and a miss sees the final response (cookies, Vary)
that every other middleware produced.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .core.render import HANDLED_ATTR
from .serve import GetResponse, serve

if TYPE_CHECKING:
    from django.http import HttpRequest, HttpResponseBase


#: The dotted path users put in MIDDLEWARE (the checks and the WSGI fast path look for it).
MIDDLEWARE_PATH = "pagecache.middleware.PageCacheMiddleware"


class PageCacheMiddleware:
    sync_capable = True
    async_capable = False

    def __init__(self, get_response: GetResponse) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        # Tell @cache_page below that this request is handled here, cached or bypassed.
        setattr(request, HANDLED_ATTR, True)
        return serve(request, self.get_response)
