"""A one-view Django site for the multi-process stampede test, served by real gunicorn.

Settings come from the environment: REDIS_URL (the test's redis-server) and
STAMPEDE_RENDER_SECONDS (how long the view takes). Each render INCRs a counter in Redis,
so renders are counted across worker processes.
"""

from __future__ import annotations

import os
import time

import redis
from django.http import HttpResponse
from django.urls import path

SECRET_KEY = "stampede-not-secret"
DEBUG = False
ALLOWED_HOSTS = ["127.0.0.1", "localhost"]
ROOT_URLCONF = __name__
INSTALLED_APPS = ["pagecache"]
MIDDLEWARE = ["pagecache.middleware.PageCacheMiddleware"]
DATABASES: dict[str, dict[str, str]] = {}
CACHES = {
    "default": {
        "BACKEND": "django_redis.cache.RedisCache",
        "LOCATION": os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0"),
        "OPTIONS": {"SOCKET_CONNECT_TIMEOUT": 1, "SOCKET_TIMEOUT": 2},
    }
}
PAGECACHE = {"TTL": 60, "LOCK_TIMEOUT": 10}
RENDERS_KEY = "stampede:renders"


def page(request):
    client = redis.Redis.from_url(CACHES["default"]["LOCATION"])
    n = client.incr(RENDERS_KEY)
    time.sleep(float(os.environ.get("STAMPEDE_RENDER_SECONDS", "0.3")))  # the slow render
    rows = "".join(f"<li>row {i}: {i * 7919 % 104729}</li>" for i in range(800))
    # About 20 KB, so the stored entry is compressed like a real page.
    return HttpResponse(f"<p>rendered by pid {os.getpid()} as render {n}</p><ul>{rows}</ul>")


urlpatterns = [path("", page)]


def wsgi():
    """The WSGI app, as a factory: ``gunicorn 'tests.stampede_site:wsgi()'``."""
    from django.core.wsgi import get_wsgi_application

    return get_wsgi_application()
