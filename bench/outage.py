"""Measure what a visitor waits while the cache is healthy, down, or hung.

``python -m bench.outage`` (``make bench-outage``) starts a private redis-server, serves a
page through pagecache's middleware in-process (Django's test client), and times requests
while Redis is healthy, stopped, and paused (``CLIENT PAUSE``, so every command hangs until
the socket timeout). It prints a Markdown table for docs/reliability.md.
"""

from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

SOCKET_TIMEOUT = 0.25
SAMPLES = 40


def main() -> None:
    from tests.redis_harness import RedisServer

    server = RedisServer()
    server.start()
    try:
        _configure(server.url)
        rows = _measure(server)
    finally:
        server.stop()
    print(f"socket timeout {SOCKET_TIMEOUT * 1000:.0f} ms, {SAMPLES} requests per row\n")
    print("| cache state | X-Cache | median ms | max ms |")
    print("|---|---|---:|---:|")
    for label, status, times in rows:
        print(f"| {label} | {status} | {statistics.median(times):.2f} | {max(times):.2f} |")


def _configure(url: str) -> None:
    import django
    from django.conf import settings

    settings.configure(
        DEBUG=False,
        SECRET_KEY="outage",
        ALLOWED_HOSTS=["testserver"],
        ROOT_URLCONF=__name__,
        INSTALLED_APPS=["pagecache"],
        MIDDLEWARE=["pagecache.middleware.PageCacheMiddleware"],
        CACHES={
            "default": {
                "BACKEND": "django_redis.cache.RedisCache",
                "LOCATION": url,
                "OPTIONS": {
                    "SOCKET_CONNECT_TIMEOUT": SOCKET_TIMEOUT,
                    "SOCKET_TIMEOUT": SOCKET_TIMEOUT,
                },
            }
        },
        DATABASES={},
    )
    django.setup()


def page(request):
    from django.http import HttpResponse

    return HttpResponse("<p>" + "x" * 20_000 + "</p>")


def _urlpatterns():
    from django.urls import path

    return [path("", page)]


def __getattr__(name: str):
    if name == "urlpatterns":  # resolved lazily: Django is configured in main()
        return _urlpatterns()
    raise AttributeError(name)


def _measure(server) -> list[tuple[str, str, list[float]]]:
    from django.test import Client

    from pagecache import outage

    client = Client()

    def timed(n: int = SAMPLES) -> tuple[str, list[float]]:
        times, status = [], ""
        for _ in range(n):
            started = time.perf_counter()
            response = client.get("/")
            times.append((time.perf_counter() - started) * 1000)
            assert response.status_code == 200
            status = response.headers.get("X-Cache", "")
        return status, times

    rows = []
    client.get("/")
    rows.append(("healthy, hit", *timed()))
    server.pause(SAMPLES * SOCKET_TIMEOUT * 4)
    outage.breaker.succeeded()
    status, first = timed(1)
    rows.append(("hung (paused): first request, pays the socket timeout", status, first))
    rows.append(("hung: the next second (breaker open, Redis not called)", *timed()))
    server.restart()
    outage.breaker.succeeded()
    server.stop()
    status, first = timed(1)
    rows.append(("down (stopped): first request, connection refused", status, first))
    rows.append(("down: the next second (breaker open)", *timed()))
    return rows


if __name__ == "__main__":
    main()
