"""Settings of the soak site, shared by its gunicorn servers and the purger process.

The orchestrator (``python -m tests.soak.run``) passes the services in the environment:
``SOAK_REDIS_URL`` (its private redis-server) and ``SOAK_DB_NAME`` (a throwaway database
on the PostgreSQL at 127.0.0.1:5432, user postgres).
"""

from __future__ import annotations

import os
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent

REDIS_URL = os.environ.get("SOAK_REDIS_URL", "")
DB_NAME = os.environ.get("SOAK_DB_NAME", "")
if not REDIS_URL or not DB_NAME:
    raise RuntimeError(
        "SOAK_REDIS_URL and SOAK_DB_NAME are not set: run the soak with "
        "`python -m tests.soak.run` (or `make soak`)"
    )
#: Seconds the home page's view spends on "other work" between reading its rows and
#: rendering the template (a second query, an API call...). /fast/ skips it.
VIEW_DELAY = float(os.environ.get("SOAK_VIEW_DELAY", "0.01"))

SECRET_KEY = "pagecache-soak-not-secret"
DEBUG = False
ALLOWED_HOSTS = ["127.0.0.1", "localhost"]
ROOT_URLCONF = "tests.soak.site.urls"
WSGI_APPLICATION = "tests.soak.site.wsgi.application"
USE_TZ = True
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

INSTALLED_APPS = [
    "django.contrib.contenttypes",
    "django.contrib.auth",
    "django.contrib.sessions",
    "django.contrib.messages",
    "pagecache",
    "templatetags_ext",
    "tests.soak.site.apps.SoakSiteConfig",
]

MIDDLEWARE = [
    "pagecache.middleware.PageCacheMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
]

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": False,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
            ],
        },
    },
    {
        "BACKEND": "django.template.backends.jinja2.Jinja2",
        "DIRS": [BASE_DIR / "jinja2"],
        "APP_DIRS": False,
        "OPTIONS": {"extensions": ["templatetags_ext.jinja2.cachetag"]},
    },
]

DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": DB_NAME,
        "USER": "postgres",
        "HOST": "127.0.0.1",
        "PORT": "5432",
        "CONN_MAX_AGE": 60,
    }
}

CACHES = {
    "default": {
        "BACKEND": "django_redis.cache.RedisCache",
        "LOCATION": REDIS_URL,
        "OPTIONS": {"SOCKET_CONNECT_TIMEOUT": 0.5, "SOCKET_TIMEOUT": 0.5},
    }
}

PAGECACHE = {"TTL": 20, "STALE_TTL": 10, "LOCK_TIMEOUT": 5, "MODELS": ["soaksite.article"]}

# Logging in is not what is measured: a fast hasher keeps start-up quick.
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"stderr": {"class": "logging.StreamHandler"}},
    "loggers": {"pagecache": {"handlers": ["stderr"], "level": "WARNING"}},
}
