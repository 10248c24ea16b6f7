"""Settings for the ``demo-*`` configurations: the demo news site (``demo_site``) with the
bench's Redis and a seeded SQLite database in the bench's data directory.

``demo-*-pagecache`` runs it as the demo does (PageCacheMiddleware first);
``demo-*-site-cache`` swaps the page layer for Django's per-site cache middleware (its
``{% cachetag %}`` fragments stay pagecache's); ``demo-*-uncached`` caches nothing. Pages
live an hour, so every measured request can be a hit (Django's site cache stores no page
that sets a cookie for a visitor without one: a page with a form, whose CSRF cookie is
set, is rendered every time).
"""

from __future__ import annotations

import os
from pathlib import Path

from bench.site.settings import CONFIG, CONFIGS, PAGE_TTL, REDIS_URL

os.environ.setdefault(
    "PAGECACHE_DEMO_DATA",
    str(Path(os.environ.get("BENCH_DATA_DIR", Path(__file__).parent.parent / "data")) / "demo"),
)

from demo_site.settings import *  # noqa: F403
from demo_site.settings import MIDDLEWARE as DEMO_MIDDLEWARE
from demo_site.settings import PAGECACHE as DEMO_PAGECACHE

DEBUG = False
ALLOWED_HOSTS = ["127.0.0.1", "localhost"]
_REDIS_DB = (CONFIGS.index(CONFIG) + 1) if CONFIG in CONFIGS else 0
CACHES = {
    "default": {
        "BACKEND": "django_redis.cache.RedisCache",
        "LOCATION": f"{REDIS_URL.rsplit('/', 1)[0]}/{_REDIS_DB}",
        "OPTIONS": {"SOCKET_CONNECT_TIMEOUT": 1, "SOCKET_TIMEOUT": 1},
    }
}
PAGECACHE = {**DEMO_PAGECACHE, "TTL": PAGE_TTL}
_BELOW = [m for m in DEMO_MIDDLEWARE if m != "pagecache.middleware.PageCacheMiddleware"]
CACHE_MIDDLEWARE_SECONDS = PAGE_TTL
CACHE_MIDDLEWARE_KEY_PREFIX = ""
if CONFIG.endswith("-site-cache"):
    MIDDLEWARE = [
        "django.middleware.cache.UpdateCacheMiddleware",
        *_BELOW,
        "django.middleware.cache.FetchFromCacheMiddleware",
    ]
elif CONFIG.endswith("-uncached"):
    # Nothing cached at all: no page cache, and fragments on Django's dummy cache.
    MIDDLEWARE = _BELOW
    CACHES["dummy"] = {"BACKEND": "django.core.cache.backends.dummy.DummyCache"}
    PAGECACHE["CACHE"] = "dummy"
