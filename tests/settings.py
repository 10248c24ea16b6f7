"""Django settings for the pagecache test suite.

The database is PostgreSQL when one is reachable (``DATABASE_URL``, else a server on
127.0.0.1:5432), and in-memory SQLite otherwise; tests marked ``postgres`` skip (or, with
``CI=true``, fail) on SQLite. ``CACHES`` here is a placeholder: ``tests/conftest.py`` points
it at a private redis-server for the whole session.
"""

from __future__ import annotations

import os
import socket
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

BASE_DIR = Path(__file__).resolve().parent

SECRET_KEY = "pagecache-tests-not-secret"
DEBUG = False
ALLOWED_HOSTS = ["testserver", "localhost", "127.0.0.1", "example.com", "other.example.com"]

INSTALLED_APPS = [
    "django.contrib.contenttypes",
    "django.contrib.auth",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.admin",
    "pagecache",
    "templatetags_ext",
    "tests.testapp",
]

# pagecache's middleware is added per test with override_settings / modify_settings.
MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
]

ROOT_URLCONF = "tests.urls"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
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


def _postgres_from_url(url: str) -> dict[str, object]:
    parts = urlsplit(url)
    if parts.scheme not in ("postgres", "postgresql"):
        raise ValueError(f"DATABASE_URL must be a postgres:// URL, not {url!r}")
    return {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": unquote(parts.path.lstrip("/")) or "test",
        "USER": unquote(parts.username or "postgres"),
        "PASSWORD": unquote(parts.password or ""),
        "HOST": parts.hostname or "127.0.0.1",
        "PORT": str(parts.port or 5432),
    }


def _local_postgres_is_up() -> bool:
    try:
        with socket.create_connection(("127.0.0.1", 5432), timeout=0.3):
            return True
    except OSError:
        return False


def _mariadb() -> dict[str, object]:
    # PyMySQL (pure Python) stands in for mysqlclient, which needs C headers to build.
    import pymysql

    pymysql.install_as_MySQLdb()
    return {
        "ENGINE": "django.db.backends.mysql",
        "NAME": "test",
        "USER": "root",
        "HOST": "127.0.0.1",
        "PORT": "3306",
        "OPTIONS": {"charset": "utf8mb4"},
    }


LOCAL_POSTGRES = {
    "ENGINE": "django.db.backends.postgresql",
    "NAME": "test",
    "USER": "postgres",
    "HOST": "127.0.0.1",
    "PORT": "5432",
}
SQLITE = {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"}

# PAGECACHE_TEST_DATABASE picks one engine (tests that run the library on each of them).
_chosen = os.environ.get("PAGECACHE_TEST_DATABASE")
DATABASES: dict[str, Any]
if _chosen == "mariadb":
    DATABASES = {"default": _mariadb()}
elif _chosen == "sqlite":
    DATABASES = {"default": SQLITE}
elif _chosen == "postgres":
    DATABASES = {"default": LOCAL_POSTGRES}
elif os.environ.get("DATABASE_URL"):
    DATABASES = {"default": _postgres_from_url(os.environ["DATABASE_URL"])}
elif _local_postgres_is_up():
    DATABASES = {"default": LOCAL_POSTGRES}
else:
    DATABASES = {"default": SQLITE}

# Two suites running at once (e.g. a local run beside fresh-clone-ci) need two test databases.
if os.environ.get("PAGECACHE_TEST_DB_NAME"):
    DATABASES["default"]["TEST"] = {"NAME": os.environ["PAGECACHE_TEST_DB_NAME"]}

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# Placeholder; conftest.py overrides CACHES for the session.
CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

USE_TZ = True
STATIC_URL = "/static/"  # for tests that install django.contrib.staticfiles (the toolbar)
