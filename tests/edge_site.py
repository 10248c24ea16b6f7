"""A site behind pagecache behind a real Varnish, for tests/test_edge_varnish.py: gunicorn
serves it (``tests.edge_site:application``); the cache is the test's redis-server
(``REDIS_URL``) and pages carry Varnish's ``xkey`` header because ``PURGERS`` names the
test's varnishd (``VARNISH_URL``). Views count their renders in Redis and print the count."""

from __future__ import annotations

import os

import redis
from django.http import HttpRequest, HttpResponse
from django.urls import path

import pagecache

SECRET_KEY = "edge-site-not-secret"
DEBUG = False
ALLOWED_HOSTS = ["127.0.0.1", "localhost", "edge.test"]
ROOT_URLCONF = __name__
INSTALLED_APPS = ["django.contrib.contenttypes", "django.contrib.auth", "pagecache"]
MIDDLEWARE = [
    "pagecache.middleware.PageCacheMiddleware",
    "django.middleware.common.CommonMiddleware",
]
DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"}}
USE_TZ = True
REDIS_URL = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")
CACHES = {
    "default": {
        "BACKEND": "django_redis.cache.RedisCache",
        "LOCATION": REDIS_URL,
        "OPTIONS": {"SOCKET_CONNECT_TIMEOUT": 1, "SOCKET_TIMEOUT": 2},
    }
}
PAGECACHE = {
    "TTL": 30,
    "PURGERS": [
        {
            "BACKEND": "pagecache.purgers.VarnishXkeyPurger",
            "OPTIONS": {"SERVERS": [os.environ.get("VARNISH_URL", "http://127.0.0.1:1")]},
        }
    ],
}
_counter = redis.Redis.from_url(REDIS_URL)


def rendered(name: str) -> int:
    return int(_counter.incr(f"edge:renders:{name}"))


def article(request: HttpRequest, pk: int) -> HttpResponse:
    pagecache.add_tags(request, f"blog.article:{pk}")
    return HttpResponse(f"article {pk} render {rendered(f'article:{pk}')}")


def many_tags(request: HttpRequest) -> HttpResponse:
    """A listing of 500 articles: its 500 tags do not fit Varnish's 8 KB header."""
    pagecache.add_tags(request, *(f"blog.article:{100_000 + i}" for i in range(500)))
    return HttpResponse(f"many render {rendered('many')}")


def cookies(request: HttpRequest) -> HttpResponse:
    return HttpResponse(f"cookies={','.join(sorted(request.COOKIES))} render {rendered('c')}")


urlpatterns = [
    path("article/<int:pk>/", article),
    path("many/", many_tags),
    path("cookies/", cookies),
]


def application_factory():  # type: ignore[no-untyped-def]
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", __name__)
    from django.core.wsgi import get_wsgi_application

    return get_wsgi_application()
