"""The Redis fast path: ``RedisStore`` and its Lua scripts; the only module using redis-py.

All tag versions, the purge clock and the floor live in one hash, so eviction loses all
of them or none (docs/design.md explains why that makes purges eviction-safe). The lookup
script reads an entry's header and checks its tags in the round trip that reads it; the
purge script stamps tags with the next clock value in one round trip.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from importlib import resources
from typing import Any

from ..core import keys
from ..core.freshness import LUA_CODES, Lock, Lookup
from ..exceptions import StoreUnavailable


def _lua(name: str, *, prelude: bool = True) -> str:
    """A script from ``lua/`` (one per file, so they read, diff and lint as Lua), after the
    shared helpers when it uses them."""
    text = (_LUA_DIR / name).read_text(encoding="utf-8")
    return (_lua("prelude.lua", prelude=False) + text) if prelude else text


_LUA_DIR = resources.files(__package__) / "lua"
LOOKUP_LUA = _lua("lookup.lua")
RELEASE_LUA = _lua("release.lua", prelude=False)
_PURGE_LUA = _lua("purge.lua")
_CLOCK_LUA = _lua("clock.lua")

_LOCKS = {lock.value: lock for lock in Lock}


class RedisStore:
    """Store on a redis-py client: one round trip per lookup and per purge."""

    def __init__(self, client: Any, prefix: str) -> None:
        self.client = client
        self.prefix = prefix
        self.tags_key = keys.tag_versions_key(prefix)
        self._lookup = client.register_script(LOOKUP_LUA)
        self._purge = client.register_script(_PURGE_LUA)
        self._release = client.register_script(RELEASE_LUA)
        self._clock = client.register_script(_CLOCK_LUA)
        from redis.exceptions import ConnectionError, NoScriptError, RedisError

        self._no_script = NoScriptError
        self._errors = (RedisError, OSError)
        self._connection_error = ConnectionError
        self._local = threading.local()
        self._hot_connections = plain_pool(client.connection_pool)

    def _hot_call(self, command: tuple[Any, ...]) -> Any:
        """Run one command on this thread's own connection (the lookup, once per request).

        redis-py's generic command path (pool checkout, retry wrapper, observability hooks)
        costs about as much Python time as the rest of a hit; the connection itself (packing,
        parsing, health checks, timeouts) is redis-py's. Other pools (Sentinel, cluster) and
        every other command use the client as usual.
        """
        if not self._hot_connections:
            return self.client.execute_command(*command)
        local = self._local
        connection = getattr(local, "connection", None)
        if connection is None or local.pid != os.getpid():
            pool = self.client.connection_pool
            connection = pool.connection_class(**pool.connection_kwargs)
            local.connection, local.pid = connection, os.getpid()
        try:
            connection.send_command(*command)
            return connection.read_response()
        except self._connection_error:
            # A connection Redis closed (restart, idle timeout): one retry on a new socket.
            connection.disconnect()
            connection.send_command(*command)
            return connection.read_response()

    def lookup(
        self, key: str, lock_token: str = "", lock_ms: int = 0, known_id: str = ""
    ) -> Lookup:
        # The hit path: plain EVALSHA (loading the script only when Redis lost it).
        command = lookup_command(
            self._lookup.sha, key, self.tags_key, lock_token, lock_ms, known_id
        )
        try:
            try:
                reply = self._hot_call(command)
            except self._no_script:
                self.client.script_load(LOOKUP_LUA)
                reply = self._hot_call(command)
        except self._errors as exc:
            raise StoreUnavailable(f"{type(exc).__name__}: {exc}") from exc
        return parse_lookup(reply)

    def save(
        self,
        key: str,
        value: bytes,
        timeout: int,
        vary: tuple[str, bytes] | None = None,
        lock_token: str = "",
    ) -> None:
        from redis.exceptions import NoScriptError

        with _converted_errors():
            pipe = self.client.pipeline(transaction=False)
            # Entry before marker: whoever sees the Vary marker must find the variant.
            pipe.set(key, value, px=timeout * 1000)
            if vary is not None:
                pipe.set(vary[0], vary[1], px=timeout * 1000)
            if lock_token:
                # Plain EVALSHA: a Script object in a pipeline costs a SCRIPT EXISTS round trip.
                pipe.evalsha(self._release.sha, 1, keys.lock_key(key), lock_token, 0)
            results = pipe.execute(raise_on_error=False)
            for result in results:
                if isinstance(result, NoScriptError):
                    self.release(key, lock_token)  # script cache was flushed: load and retry
                elif isinstance(result, Exception):
                    raise result

    def release(self, key: str, lock_token: str, uncacheable_ms: int = 0) -> None:
        with _converted_errors():
            self._release(keys=[keys.lock_key(key)], args=[lock_token, uncacheable_ms])

    def clock(self) -> int:
        with _converted_errors():
            return int(self._clock(keys=[self.tags_key]))

    def purge(self, tags: Sequence[str], soft: bool) -> int:
        with _converted_errors():
            return int(self._purge(keys=[self.tags_key], args=["s" if soft else "h", *tags]))

    def purge_all(self) -> int:
        """Raise the floor: every entry stored so far becomes stale (O(1))."""
        with _converted_errors():
            return int(self._purge(keys=[self.tags_key], args=["f"]))

    def take_turn(self, key: str, ms: int) -> bool:
        with _converted_errors():
            return bool(self.client.set(key, b"1", nx=True, px=ms))

    def clear(self) -> int:
        """SCAN this prefix's keys and UNLINK them in batches (never FLUSHDB)."""
        removed = 0
        with _converted_errors():
            batch: list[bytes] = []
            for key in self.client.scan_iter(match=f"{glob_escape(self.prefix)}:*", count=1000):
                batch.append(key)
                if len(batch) >= 500:
                    removed += int(self.client.unlink(*batch))
                    batch.clear()
            if batch:
                removed += int(self.client.unlink(*batch))
        return removed


def lookup_command(
    sha: str, key: str, tags_key: str, lock_token: str, lock_ms: int, known_id: str
) -> tuple[Any, ...]:
    """The lookup script's EVALSHA, its KEYS and ARGV as lookup.lua reads them (sync and
    async stores alike)."""
    return ("EVALSHA", sha, 3, key, tags_key, keys.lock_key(key), lock_token, lock_ms, known_id)


def parse_lookup(reply: Any) -> Lookup:
    """The lookup script's reply as a :class:`Lookup` (sync and async stores alike)."""
    try:
        code, clock, value, ttl_left_ms, lock, entry_id = reply
        return Lookup(
            LUA_CODES[code],
            int(clock),
            value if value is None or type(value) is bytes else bytes(value),
            int(ttl_left_ms),
            _LOCKS[lock],
            entry_id.decode("ascii") if entry_id else "",
        )
    except (TypeError, ValueError, KeyError) as exc:
        raise StoreUnavailable(f"unreadable lookup reply: {reply!r:.80}") from exc


@contextmanager
def _converted_errors() -> Iterator[None]:
    """Turn redis-py and socket errors into :class:`StoreUnavailable`."""
    from redis.exceptions import RedisError

    try:
        yield
    except (RedisError, OSError) as exc:
        raise StoreUnavailable(f"{type(exc).__name__}: {exc}") from exc


def glob_escape(text: str) -> str:
    r"""``text`` as a literal in a Redis glob pattern (``SCAN MATCH``).

    >>> glob_escape("p?[x]*")
    'p\\?\\[x\\]\\*'
    """
    return "".join("\\" + c if c in "*?[]\\^-" else c for c in text)


def plain_pool(pool: Any) -> bool:
    """Whether connections can be built from the pool's class and kwargs alone."""
    from redis.connection import (
        BlockingConnectionPool,
        Connection,
        ConnectionPool,
        SSLConnection,
        UnixDomainSocketConnection,
    )

    return type(pool) in (ConnectionPool, BlockingConnectionPool) and pool.connection_class in (
        Connection,
        SSLConnection,
        UnixDomainSocketConnection,
    )


_PROBE_OPTIONS = frozenset(
    ("host", "port", "path", "db", "username", "password", "credential_provider", "client_name")
)


def probe_server(client: Any) -> tuple[str, dict[str, str]]:
    """The server's version and ``maxmemory*`` settings, for the deploy checks.

    Uses a short-timeout, no-retry connection to the client's server (a check must not hang
    on a dead host); ``CONFIG`` being disabled (managed Redis) gives an empty dict.
    """
    import redis
    from redis.backoff import NoBackoff
    from redis.retry import Retry

    pool = client.connection_pool
    # Where and as whom to connect, not how: newer redis-py adds RESP3-only options.
    options = {
        name: value
        for name, value in pool.connection_kwargs.items()
        if name in _PROBE_OPTIONS or name.startswith("ssl")
    }
    options.update(socket_connect_timeout=2, socket_timeout=2, retry=Retry(NoBackoff(), 0))
    options["protocol"] = 2  # every Redis speaks RESP2; an old one must be told it is old
    probe_pool = redis.ConnectionPool(connection_class=pool.connection_class, **options)
    probe = redis.Redis(connection_pool=probe_pool)
    try:
        with _converted_errors():
            version = str(probe.info("server").get("redis_version", "0"))
            try:
                config = {str(k): str(v) for k, v in probe.config_get("maxmemory*").items()}
            except redis.ResponseError:
                config = {}
    finally:
        probe_pool.disconnect()
    return version, config
