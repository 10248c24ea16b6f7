"""Settings for every benchmark configuration, chosen by the environment variable BENCH_CONFIG."""

from __future__ import annotations

import os
from pathlib import Path

#: Every configuration the orchestrator knows, in the order of the report.
CONFIGS = (
    "bare",
    "django-const",
    "uncached",
    "django-site-cache",
    "django-cache-page",
    "cacheops",
    "cachalot",
    "minimal-middleware",
    "minimal-wsgi",
    "pagecache-middleware",
    "pagecache-wsgi",
    "pagecache-stale",
    "pagecache-stats",
    # Under uvicorn (ASGI, one worker): the same site and caches.
    "asgi-django-site-cache",
    "asgi-minimal",
    "asgi-pagecache-middleware",
    "asgi-pagecache-asgi",
    # The demo news site's home and article pages (bench/site/demo_settings.py).
    "demo-home-uncached",
    "demo-home-site-cache",
    "demo-home-pagecache",
    "demo-article-site-cache",
    "demo-article-pagecache",
)
#: Configurations only the orchestrator process itself uses (fragments, purge, setup).
INTERNAL = ("setup",)

CONFIG = os.environ.get("BENCH_CONFIG", "setup")
if CONFIG not in CONFIGS + INTERNAL:
    raise RuntimeError(f"unknown BENCH_CONFIG {CONFIG!r}; one of {', '.join(CONFIGS + INTERNAL)}")

BASE_DIR = Path(__file__).resolve().parent
DATA_DIR = Path(os.environ.get("BENCH_DATA_DIR", BASE_DIR.parent / "data"))
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "")
if not REDIS_URL:
    raise RuntimeError("BENCH_REDIS_URL is not set: run the benchmark with `python -m bench.run`")
#: Page lifetime for every page cache that is measured on hits (so no entry expires mid-run).
PAGE_TTL = 3600

SECRET_KEY = "bench-not-secret"
DEBUG = False
ALLOWED_HOSTS = ["127.0.0.1", "localhost"]
ROOT_URLCONF = "bench.site.urls"
WSGI_APPLICATION = "bench.site.wsgi.application"
USE_TZ = True
TIME_ZONE = "UTC"
DEFAULT_AUTO_FIELD = "django.db.models.AutoField"

INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "bench.site",
]

# The usual middleware of a Django project; every Django configuration runs it.
USUAL_MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
]
MIDDLEWARE = list(USUAL_MIDDLEWARE)

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {"context_processors": []},
    }
]

DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": str(DATA_DIR / "bench.sqlite3"),
        "CONN_MAX_AGE": 600,
    }
}
# The bench process itself (never the servers) also measures purges in PostgreSQL
# transactions, when bench.run finds a server on 127.0.0.1:5432.
if os.environ.get("BENCH_POSTGRES_DB"):
    DATABASES["postgres"] = {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": os.environ["BENCH_POSTGRES_DB"],
        "USER": "postgres",
        "HOST": "127.0.0.1",
        "PORT": "5432",
    }


def _redis_db(config: str) -> int:
    """Each configuration writes to its own Redis database, so its keys can be inspected."""
    override = os.environ.get("BENCH_REDIS_DB")
    if override:
        return int(override)
    return (CONFIGS.index(config) + 1) if config in CONFIGS else 0


REDIS_DB = _redis_db(CONFIG)
REDIS_LOCATION = f"{REDIS_URL.rsplit('/', 1)[0]}/{REDIS_DB}"

CACHES = {
    "default": {
        "BACKEND": "django_redis.cache.RedisCache",
        "LOCATION": REDIS_LOCATION,
        "OPTIONS": {"SOCKET_CONNECT_TIMEOUT": 1, "SOCKET_TIMEOUT": 1},
    }
}

CACHE_MIDDLEWARE_SECONDS = PAGE_TTL
CACHE_MIDDLEWARE_KEY_PREFIX = ""

#: An ASGI configuration runs the same site as its WSGI namesake (asgi-minimal: no cache
#: middleware; the limit control wraps the ASGI application, see bench/site/asgi.py).
SITE = CONFIG.removeprefix("asgi-")
PAGECACHE_SITES = (
    "pagecache-middleware",
    "pagecache-wsgi",
    "pagecache-asgi",
    "pagecache-stale",
    "pagecache-stats",
)


if SITE == "django-site-cache":
    MIDDLEWARE = [
        "django.middleware.cache.UpdateCacheMiddleware",
        *USUAL_MIDDLEWARE,
        "django.middleware.cache.FetchFromCacheMiddleware",
    ]
elif CONFIG == "cacheops":
    INSTALLED_APPS.append("cacheops")
    CACHEOPS_REDIS = REDIS_LOCATION
    CACHEOPS = {"benchsite.row": {"ops": "all", "timeout": 60}}
elif CONFIG == "cachalot":
    INSTALLED_APPS.append("cachalot")
elif CONFIG == "minimal-middleware":
    MIDDLEWARE = ["bench.site.limits.MinimalMiddleware", *USUAL_MIDDLEWARE]
elif SITE in (*PAGECACHE_SITES, "setup"):
    INSTALLED_APPS += ["pagecache", "templatetags_ext"]
    MIDDLEWARE = ["pagecache.middleware.PageCacheMiddleware", *USUAL_MIDDLEWARE]
    # pagecache-stale: every entry is stale one second after it is stored; the bench holds
    # its render lock, so every request takes the STALE path.
    STALE_ONLY = {"TTL": 1, "STALE_TTL": 3600}
    PAGECACHE = STALE_ONLY if CONFIG == "pagecache-stale" else {"TTL": PAGE_TTL}
    if CONFIG == "pagecache-stats":  # the middleware hit with STATS counting on
        PAGECACHE = {"TTL": PAGE_TTL, "STATS": True}

# bench.scale: the same pagecache site on a Redis Cluster (the configuration's name is kept).
if os.environ.get("BENCH_CLUSTER_URLS"):
    CACHES["default"] = {
        "BACKEND": "pagecache.backends.RedisClusterCache",
        "LOCATION": os.environ["BENCH_CLUSTER_URLS"],
        "OPTIONS": {"socket_timeout": 1, "socket_connect_timeout": 1},
    }

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": "WARNING"},
}
