"""Fixtures shared by the whole suite.

- ``redis_server`` (session): a private redis-server, or the server in ``REDIS_URL``.
- ``redis_factory``: more private servers, for tests that stop, restart or pause one.
- Django's ``CACHES`` point at ``redis_server`` for the whole session; before every test
  its keys are flushed and pagecache's derived state is reset (:func:`reset_pagecache_state`).
- Tests marked ``postgres`` skip on SQLite, or fail when ``CI=true``.
- ``redis_cluster`` / ``sentinel_set`` (session): a private Redis Cluster (3 masters, 3
  replicas) and a Sentinel set, started on first use; a test takes them through
  ``cluster`` / ``sentinel``, which first restart whatever an earlier test left down, wait
  until healthy and FLUSHALL.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import redis
from django.test import override_settings

from tests.cluster_harness import RedisClusterSet, SentinelSet
from tests.redis_harness import RedisServer

FLUSH_PATTERNS = ("pc:*", "pctest:*")

#: Imported only with django-debug-toolbar installed as an app (its test turns it on).
collect_ignore = ["toolbar_urls.py"]


class ExternalRedis:
    """The server named by ``REDIS_URL``: shared, so it is never stopped or FLUSHALLed."""

    def __init__(self, url: str) -> None:
        self.url = url
        probe = redis.Redis.from_url(url)
        kwargs = probe.connection_pool.connection_kwargs
        self.host = kwargs.get("host", "127.0.0.1")
        self.port = kwargs.get("port", 6379)
        probe.close()

    def __repr__(self) -> str:
        return f"<ExternalRedis {self.url}>"

    running = True

    def client(self, **kwargs: Any) -> redis.Redis:
        return redis.Redis.from_url(self.url, **kwargs)

    def flush(self) -> None:
        """Delete only keys this suite writes (``pc:*``, ``pctest:*``): SCAN + UNLINK."""
        client = self.client()
        try:
            for pattern in FLUSH_PATTERNS:
                batch: list[bytes] = []
                for key in client.scan_iter(match=pattern, count=1000):
                    batch.append(key)
                    if len(batch) >= 500:
                        client.unlink(*batch)
                        batch.clear()
                if batch:
                    client.unlink(*batch)
        finally:
            client.close()

    def _refuse(self, *args: object, **kwargs: object) -> None:
        pytest.skip("needs a private redis-server (REDIS_URL points at a shared one)")

    start = stop = restart = pause = _refuse


@pytest.fixture(scope="session")
def redis_server() -> Iterator[RedisServer | ExternalRedis]:
    url = os.environ.get("REDIS_URL")
    if url:
        yield ExternalRedis(url)
        return
    server = RedisServer()
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def redis_factory() -> Iterator[Callable[..., RedisServer]]:
    """``redis_factory(*extra_args, data_dir=None)`` starts a private redis-server, stopped
    after the test. With ``data_dir`` its files outlive ``stop()`` (e.g. with AOF on)."""
    servers: list[RedisServer] = []

    def start(
        *extra_args: str,
        data_dir: str | os.PathLike[str] | None = None,
        binary: str | None = None,
    ) -> RedisServer:
        server = RedisServer(extra_args=extra_args, data_dir=data_dir, binary=binary)
        servers.append(server)
        return server.start()

    yield start
    for server in servers:
        server.stop()


def redis_caches(url: str, timeout: float = 0.3) -> dict[str, dict[str, Any]]:
    """``CACHES`` with django-redis at ``url`` and short timeouts (outage tests stay quick)."""
    return {
        "default": {
            "BACKEND": "django_redis.cache.RedisCache",
            "LOCATION": url,
            "OPTIONS": {"SOCKET_CONNECT_TIMEOUT": timeout, "SOCKET_TIMEOUT": timeout},
        }
    }


@pytest.fixture
def private_cache(
    redis_factory: Callable[..., RedisServer],
) -> Iterator[Callable[..., RedisServer]]:
    """``private_cache(*redis_args, data_dir=None)`` starts a private redis-server and points
    the default cache at it for the rest of the test; returns the server to stop or pause."""
    overrides: list[override_settings] = []

    def start(*extra_args: str, data_dir: str | os.PathLike[str] | None = None) -> RedisServer:
        server = redis_factory(*extra_args, data_dir=data_dir)
        override = override_settings(CACHES=redis_caches(server.url))
        override.enable()
        overrides.append(override)
        return server

    yield start
    for override in reversed(overrides):
        override.disable()


def caches_for(url: str) -> dict[str, dict[str, Any]]:
    """The session's ``CACHES``: django-redis, LocMem and Django's RedisCache."""
    return {
        "default": {
            "BACKEND": "django_redis.cache.RedisCache",
            "LOCATION": url,
            "KEY_PREFIX": "pctest",
            "OPTIONS": {"SOCKET_CONNECT_TIMEOUT": 0.5, "SOCKET_TIMEOUT": 0.5},
        },
        "locmem": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"},
        "djredis": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": url,
            "KEY_PREFIX": "pctest",
        },
    }


@pytest.fixture(scope="session", autouse=True)
def _session_caches(redis_server: RedisServer | ExternalRedis) -> Iterator[None]:
    override = override_settings(CACHES=caches_for(redis_server.url))
    override.enable()
    try:
        yield
    finally:
        override.disable()


@pytest.fixture(scope="session", autouse=True)
def _stop_deliverer_before_the_test_database_goes(django_db_setup: None) -> Iterator[None]:
    """pagecache's background deliverer queries the database; stop it before pytest-django
    drops the test database (a connection it held would make DROP DATABASE fail)."""
    yield
    from pagecache.purging import deliverer

    deliverer.stop()


def reset_pagecache_state() -> None:
    """Forget everything pagecache derived from settings (cached clients, stores, ...), and
    empty the in-process LocMem caches (Redis is flushed separately)."""
    from django.conf import settings
    from django.core.cache import caches

    from pagecache import conf
    from pagecache.purging import purge

    for alias, config in settings.CACHES.items():
        if config.get("BACKEND") == "django.core.cache.backends.locmem.LocMemCache":
            caches[alias].clear()

    conf.settings.reload()
    for hook in list(conf._reload_hooks):
        hook()
    purge.forget_pending()


@pytest.fixture(autouse=True)
def _clean_cache(redis_server: RedisServer | ExternalRedis) -> Iterator[None]:
    redis_server.flush()
    reset_pagecache_state()
    yield


@pytest.fixture
def pages_site() -> Iterator[None]:
    """The page-cache test site (tests/pages_urls.py) behind pagecache and Django's usual
    middleware, with its render counters and hooks cleared."""
    from tests.pages_urls import HOOKS, MIDDLEWARE, RENDERS

    RENDERS.clear()
    HOOKS.clear()
    with override_settings(ROOT_URLCONF="tests.pages_urls", MIDDLEWARE=MIDDLEWARE):
        yield


@pytest.fixture
def quiet_deliverer(monkeypatch: pytest.MonkeyPatch) -> None:
    """No background deliverer for this test: its turn-taking SET NX twice a second would
    show up in server-wide counts (INFO commandstats, MONITOR). Nor the site dictionary's
    thread, which reads the current dictionary after a store."""
    from pagecache import dictionary_worker
    from pagecache.purging import deliverer

    deliverer.stop()
    monkeypatch.setattr(deliverer, "_start", lambda: None)
    dictionary_worker.stop()
    monkeypatch.setattr(dictionary_worker, "_start", lambda: None)


@pytest.fixture
def rows_site() -> Iterator[None]:
    """The freshness test site (tests/freshness_site.py): views read their rows before their
    templates reach {% cachetag %}; MODELS purges articles."""
    from tests.freshness_site import GATE, MIDDLEWARE

    with override_settings(
        ROOT_URLCONF="tests.freshness_site",
        MIDDLEWARE=MIDDLEWARE,
        PAGECACHE={"MODELS": ["testapp.article"]},
    ):
        yield
    GATE.disarm()


def database_is_postgres() -> bool:
    from django.db import connections

    return connections["default"].vendor == "postgresql"


def _in_ci() -> bool:
    return os.environ.get("CI", "").lower() in ("true", "1", "yes")


POSTGRES_REASON = (
    "needs PostgreSQL: set DATABASE_URL=postgres://... or run one on 127.0.0.1:5432 "
    "(the default database is {vendor})"
)


def _postgres_missing(item: pytest.Item) -> str | None:
    if item.get_closest_marker("postgres") is None or database_is_postgres():
        return None
    from django.db import connections

    return POSTGRES_REASON.format(vendor=connections["default"].vendor)


def pytest_runtest_setup(item: pytest.Item) -> None:
    reason = _postgres_missing(item)
    if reason and not _in_ci():
        pytest.skip(reason)


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_call(item: pytest.Item) -> None:
    # In CI a missing PostgreSQL is a failure, never a quiet skip.
    reason = _postgres_missing(item)
    if reason and _in_ci():
        pytest.fail(f"CI=true: {reason}", pytrace=False)


@pytest.fixture(scope="session")
def redis_cluster() -> Iterator[RedisClusterSet]:
    """One private Redis Cluster (3 masters with a replica each) for the whole session."""
    with RedisClusterSet(masters=3, replicas=1) as deployment:
        yield deployment


@pytest.fixture
def cluster(redis_cluster: RedisClusterSet) -> RedisClusterSet:
    """The session's cluster, whole again (nodes a test killed are restarted), flushed."""
    redis_cluster.repair()
    redis_cluster.flush()
    return redis_cluster


@pytest.fixture(scope="session")
def sentinel_set() -> Iterator[SentinelSet]:
    """One private master + replica + three sentinels (service ``pcmaster``) per session."""
    with SentinelSet() as deployment:
        yield deployment


@pytest.fixture
def sentinel(sentinel_set: SentinelSet) -> SentinelSet:
    """The session's sentinel set with every server up and healthy, master flushed."""
    sentinel_set.repair()
    sentinel_set.flush()
    return sentinel_set
