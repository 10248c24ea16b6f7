"""Settings for the pagecache demo site.

Redis comes from ``REDIS_URL`` (``python -m demo_site.run`` starts a private redis-server
and sets it when it is unset). Data lives in ``demo_site/data/`` (git-ignored), or in
``PAGECACHE_DEMO_DATA`` if set.
"""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent
DATA_DIR = Path(os.environ.get("PAGECACHE_DEMO_DATA", BASE_DIR / "data"))
DATA_DIR.mkdir(parents=True, exist_ok=True)

SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY", "pagecache-demo-not-secret")
DEBUG = os.environ.get("DJANGO_DEBUG", "1") == "1"
ALLOWED_HOSTS = ["127.0.0.1", "localhost", "[::1]"] + [
    h for h in os.environ.get("DJANGO_ALLOWED_HOSTS", "").split(",") if h
]

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.contenttypes",
    "django.contrib.auth",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "pagecache",
    "templatetags_ext",
    "demo_site",
]

MIDDLEWARE = [
    # First: hits skip everything below. The demo's status strip wraps the WSGI application
    # (demo_site/wsgi.py), outside pagecache, so its markup is never stored.
    "pagecache.middleware.PageCacheMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
]

ROOT_URLCONF = "demo_site.urls"
WSGI_APPLICATION = "demo_site.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "demo_site.views.site",
            ],
        },
    },
]

DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": DATA_DIR / "db.sqlite3",
        # Several threads or gunicorn workers write (sessions, comments, the admin).
        "OPTIONS": {
            "timeout": 20,
            "transaction_mode": "IMMEDIATE",
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        },
    },
}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

CACHES = {
    "default": {
        "BACKEND": "django_redis.cache.RedisCache",
        "LOCATION": os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0"),
        "KEY_PREFIX": "demo",
        "OPTIONS": {"SOCKET_CONNECT_TIMEOUT": 0.5, "SOCKET_TIMEOUT": 0.5},
    },
}

PAGECACHE = {
    # Short, so that reloading shows pages expiring too (the browser tests set it longer,
    # so that a MISS they see can only come from a purge).
    "TTL": int(os.environ.get("PAGECACHE_DEMO_TTL", "10")),
    "STALE_TTL": 30,
    # Counted per page and fragment name: `python manage.py pagecache stats` (demo: /cache/).
    "STATS": True,
    # Saves, deletes and many-to-many changes of these purge their tags (apps.py adds more).
    "MODELS": [
        "demo_site.Article",
        "demo_site.Author",
        "demo_site.Category",
        "demo_site.Tag",
        "demo_site.Comment",
    ],
    # Stored pages carry their tags, which the status strip shows.
    "TAG_HEADER": "X-Cache-Tags",
}

STATIC_URL = "static/"
LOGIN_REDIRECT_URL = "/"
LOGOUT_REDIRECT_URL = "/"

USE_TZ = True
TIME_ZONE = "UTC"

# django-debug-toolbar with pagecache's panel, when it is installed and DEBUG is on: shown
# only to a local reader who turns it on in the status strip (demo_site/toolbar.py). Only
# when these are the settings in use: bench/ and argument/ import them, then turn DEBUG off.
DEBUG_TOOLBAR = (
    DEBUG
    and os.environ.get("DJANGO_SETTINGS_MODULE", __name__) == __name__
    and importlib.util.find_spec("debug_toolbar") is not None
)
if DEBUG_TOOLBAR:
    from debug_toolbar.settings import PANELS_DEFAULTS

    INSTALLED_APPS.append("debug_toolbar")
    # Right after PageCacheMiddleware, which stays first: a hit never reaches the toolbar.
    MIDDLEWARE.insert(1, "debug_toolbar.middleware.DebugToolbarMiddleware")
    DEBUG_TOOLBAR_PANELS = [*PANELS_DEFAULTS, "pagecache.debug_toolbar.PageCachePanel"]
    DEBUG_TOOLBAR_CONFIG = {
        "SHOW_TOOLBAR_CALLBACK": "demo_site.toolbar.show_toolbar",
        # Panels are fetched after the page, maybe from another gunicorn worker: keep
        # their data in Redis, not in one process's memory.
        "TOOLBAR_STORE_CLASS": "debug_toolbar.store.CacheStore",
    }
    INTERNAL_IPS = ["127.0.0.1", "::1"]
