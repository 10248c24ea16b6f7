"""The limit controls of SPEC §10: one raw Redis GET of a precomputed entry, nothing else.

They show what a page cache with one round trip per hit could reach at best, in a
middleware placed first, in a WSGI wrapper, and in an ASGI wrapper (``redis.asyncio``).
The value is the page body itself (no envelope, no compression), written at start-up.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import redis
from django.http import HttpRequest, HttpResponse, HttpResponseBase

from .content import page_bytes

KEY = "bench:minimal:/page/"
PATH = "/page/"


def _client(url: str) -> redis.Redis:
    client = redis.Redis.from_url(url, socket_connect_timeout=1, socket_timeout=1)
    client.set(KEY, page_bytes())
    return client


class MinimalMiddleware:
    """First in MIDDLEWARE: a GET of /page/ is one Redis GET and a fixed-header response."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]) -> None:
        from django.conf import settings

        self.get_response = get_response
        self.client = _client(settings.REDIS_LOCATION)

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        if request.method == "GET" and request.path == PATH:
            body = self.client.get(KEY)
            if body is not None:
                response = HttpResponse(body, content_type="text/html; charset=utf-8")
                response["X-Cache"] = "HIT"
                return response
        return self.get_response(request)


class MinimalWSGI:
    """Around Django's WSGI app: a GET of /page/ is one Redis GET, before Django runs."""

    def __init__(self, application: Callable[..., Iterable[bytes]], url: str) -> None:
        self.application = application
        self.client = _client(url)

    def __call__(
        self, environ: dict[str, Any], start_response: Callable[..., Any]
    ) -> Iterable[bytes]:
        if environ.get("PATH_INFO") == PATH and environ.get("REQUEST_METHOD") == "GET":
            body = self.client.get(KEY)
            if body is not None:
                start_response(
                    "200 OK",
                    [
                        ("Content-Type", "text/html; charset=utf-8"),
                        ("Content-Length", str(len(body))),
                        ("X-Cache", "HIT"),
                    ],
                )
                return [body]
        return self.application(environ, start_response)


class MinimalASGI:
    """Around Django's ASGI app: a GET of /page/ is one ``redis.asyncio`` GET on a pooled
    connection, before Django runs."""

    def __init__(self, application: Any, url: str) -> None:
        self.application = application
        self.url = url
        _client(url).close()  # writes the entry
        self.client: Any = None

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "http" and scope["path"] == PATH and scope["method"] == "GET":
            if self.client is None:
                import redis.asyncio

                self.client = redis.asyncio.Redis.from_url(
                    self.url, socket_connect_timeout=1, socket_timeout=1
                )
            body = await self.client.get(KEY)
            if body is not None:
                headers = [
                    (b"content-type", b"text/html; charset=utf-8"),
                    (b"content-length", str(len(body)).encode()),
                    (b"x-cache", b"HIT"),
                ]
                await send({"type": "http.response.start", "status": 200, "headers": headers})
                await send({"type": "http.response.body", "body": body})
                return
        await self.application(scope, receive, send)
