"""Settings of every configuration of ``make argument``: the demo site's settings, changed
only where a configuration must (``ARGUMENT_CONFIG``).

* ``pagecache``: the demo as it is (``PageCacheMiddleware`` first, ``{% cachetag %}``
  fragments, ``PAGECACHE["MODELS"]`` and the purge rules in :mod:`demo_site.apps`).
* ``none``, ``cache_page``, ``cacheops``, ``cachalot``: no pagecache at all — not in
  ``INSTALLED_APPS``, no middleware, no hooks (:class:`argument.apps.PlainDemoConfig`),
  ``{% cachetag %}`` rendering its body every time (:mod:`argument.nocache`) — plus the
  peer's own setup, as its documentation gives it:

  - ``cache_page``: Django's per-site cache, ``UpdateCacheMiddleware`` first and
    ``FetchFromCacheMiddleware`` last, ``CACHE_MIDDLEWARE_SECONDS`` = pagecache's TTL;
  - ``cacheops``: ``cacheops`` installed, ``CACHEOPS_REDIS``, and
    ``CACHEOPS = {"demo_site.*": {"ops": "all", "timeout": 60 * 15}}``;
  - ``cachalot``: ``cachalot`` installed, every setting at its default (it caches in
    ``CACHES["default"]``).

Every configuration: PostgreSQL database ``ARGUMENT_DB`` on 127.0.0.1:5432, persistent
connections (``CONN_MAX_AGE``), its own database number in the private redis-server at
``ARGUMENT_REDIS_URL``, ``DEBUG`` off.
"""

from __future__ import annotations

import copy
import os
import tempfile
from pathlib import Path
from typing import Any

CONFIGS = ("none", "cache_page", "cacheops", "cachalot", "pagecache")
CONFIG = os.environ.get("ARGUMENT_CONFIG", "pagecache")
if CONFIG not in CONFIGS:
    raise RuntimeError(f"unknown ARGUMENT_CONFIG {CONFIG!r}; one of {', '.join(CONFIGS)}")

os.environ.setdefault(
    "PAGECACHE_DEMO_DATA", str(Path(tempfile.gettempdir()) / "pagecache-argument")
)

from demo_site.settings import *  # noqa: E402, F403
from demo_site.settings import INSTALLED_APPS as DEMO_APPS  # noqa: E402
from demo_site.settings import MIDDLEWARE as DEMO_MIDDLEWARE  # noqa: E402
from demo_site.settings import PAGECACHE as DEMO_PAGECACHE  # noqa: E402
from demo_site.settings import TEMPLATES as DEMO_TEMPLATES  # noqa: E402

DEBUG = False
ALLOWED_HOSTS = ["127.0.0.1", "localhost"]

DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": os.environ.get("ARGUMENT_DB", "test"),
        "USER": "postgres",
        "HOST": "127.0.0.1",
        "PORT": "5432",
        "CONN_MAX_AGE": 300,
    }
}

_REDIS_URL = os.environ.get("ARGUMENT_REDIS_URL", "redis://127.0.0.1:6379/0")
#: Each configuration has its own Redis database (``none`` uses none).
REDIS_LOCATION = f"{_REDIS_URL.rsplit('/', 1)[0]}/{CONFIGS.index(CONFIG) + 1}"
CACHES: dict[str, Any] = {
    "default": {
        "BACKEND": "django_redis.cache.RedisCache",
        "LOCATION": REDIS_LOCATION,
        "KEY_PREFIX": "demo",
        "OPTIONS": {"SOCKET_CONNECT_TIMEOUT": 0.5, "SOCKET_TIMEOUT": 0.5},
    },
}

#: pagecache's page and fragment lifetime in the demo; Django's site cache gets the same.
TTL = int(DEMO_PAGECACHE["TTL"])
PAGECACHE = dict(DEMO_PAGECACHE)

if CONFIG != "pagecache":
    _PAGECACHE_APPS = ("pagecache", "templatetags_ext", "demo_site")
    INSTALLED_APPS = [app for app in DEMO_APPS if app not in _PAGECACHE_APPS]
    INSTALLED_APPS.append("argument.apps.PlainDemoConfig")
    MIDDLEWARE = [m for m in DEMO_MIDDLEWARE if m != "pagecache.middleware.PageCacheMiddleware"]
    TEMPLATES = copy.deepcopy(DEMO_TEMPLATES)
    TEMPLATES[0]["OPTIONS"]["libraries"] = {"cachetag": "argument.nocache"}

if CONFIG == "none":
    CACHES["default"] = {"BACKEND": "django.core.cache.backends.dummy.DummyCache"}
elif CONFIG == "cache_page":
    MIDDLEWARE = [
        "django.middleware.cache.UpdateCacheMiddleware",
        *MIDDLEWARE,
        "django.middleware.cache.FetchFromCacheMiddleware",
    ]
    CACHE_MIDDLEWARE_SECONDS = TTL
    CACHE_MIDDLEWARE_KEY_PREFIX = "site"
elif CONFIG == "cacheops":
    INSTALLED_APPS.append("cacheops")
    CACHEOPS_REDIS = REDIS_LOCATION
    CACHEOPS = {"demo_site.*": {"ops": "all", "timeout": 60 * 15}}
elif CONFIG == "cachalot":
    INSTALLED_APPS.append("cachalot")

WSGI_APPLICATION = "argument.wsgi.application"
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": "WARNING"},
}
