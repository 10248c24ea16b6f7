"""The Redis fast path: ``RedisStore`` and its Lua scripts; the only module using redis-py.

Tag versions, the purge clock, the floor and the longest entry life live in one hash per
group (one group on a single Redis, :data:`~pagecache.core.keys.CLUSTER_GROUPS` on a
cluster), so eviction loses all of a group's state or none (docs/design.md explains why that
makes purges eviction-safe). The lookup script reads an entry's header and checks its tags
in the round trip that reads it, against its own group; the purge script stamps tags with
the next clock value and prunes versions no live entry needs. On a cluster a purge takes
two round trips, each sent to every group at once: read every group's clock, then stamp
every group with one version above all of them (docs/scaling.md).
"""

from __future__ import annotations

import hashlib
import os
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from functools import partial
from importlib import resources
from typing import Any

from .. import stats
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
SAVE_LUA = _lua("save.lua", prelude=False)
_PURGE_LUA = _lua("purge.lua")
_CLOCK_LUA = _lua("clock.lua")

_LOCKS = {lock.value: lock for lock in Lock}

#: How long a purge waits for a replica to acknowledge it before it counts as failed.
REPLICA_WAIT_MS = 250

#: Seconds between two re-alignments of a cluster's group clocks by one process.
_SYNC_INTERVAL = 1.0


def is_cluster(client: Any) -> bool:
    """Whether ``client`` is redis-py's Redis Cluster client."""
    from redis.cluster import RedisCluster

    return isinstance(client, RedisCluster)


def script_sha(script: str) -> str:
    return hashlib.sha1(script.encode("utf-8")).hexdigest()


class RedisStore:
    """Store on a redis-py client (one server, Sentinel or Cluster): one round trip per
    lookup; one per purge, two on a cluster."""

    def __init__(self, client: Any, prefix: str, *, allowance_ms: int = 0) -> None:
        from redis.exceptions import ConnectionError, NoScriptError, RedisError

        self.client = client
        self.prefix = prefix
        self.cluster = is_cluster(client)
        self.layout = keys.Layout(prefix, keys.CLUSTER_GROUPS if self.cluster else 1)
        #: How long a render may take and its entry still be kept (see freshness.prune).
        self.allowance_ms = allowance_ms
        self._lookup_sha = script_sha(LOOKUP_LUA)
        self._save_sha = script_sha(SAVE_LUA)
        self._release_sha = script_sha(RELEASE_LUA)
        self._purge_sha = script_sha(_PURGE_LUA)
        self._clock_sha = script_sha(_CLOCK_LUA)
        self._no_script = NoScriptError
        self._errors: tuple[type[BaseException], ...] = (RedisError, OSError)
        if self.cluster:
            from redis.exceptions import RedisClusterException

            # Cluster-side refusals (no slot coverage, cross-slot) are not RedisErrors.
            self._errors = (RedisError, RedisClusterException, OSError)
        self._connection_error = ConnectionError
        self._local = threading.local()
        self._hot_connections = not self.cluster and plain_pool(client.connection_pool)
        self._synced_at = 0.0
        self._realigned_at = 0.0
        #: Whether the server had replicas at the last purge (it then waits for one).
        self._replicas = False

    @property
    def tags_key(self) -> str:
        """The versions hash on a single Redis (a cluster has one per group)."""
        return self.layout.tags_keys[0]

    # -- commands --------------------------------------------------------------------------

    def _evalsha(self, sha: str, script: str, *args: Any) -> Any:
        """EVALSHA, loading the script where the server lacks it (one server, or the node
        that owns the keys: ``SCRIPT LOAD`` goes to every primary of a cluster)."""
        try:
            return self.client.execute_command("EVALSHA", sha, *args)
        except self._no_script:
            self.client.script_load(script)
            return self.client.execute_command("EVALSHA", sha, *args)

    def _evalsha_each(self, sha: str, script: str, calls: Sequence[tuple[Any, ...]]) -> list[Any]:
        """One EVALSHA per argument tuple, all sent before any reply is read (redis-py's
        cluster pipeline writes to every node, then reads)."""
        for attempt in (1, 2):
            pipe = self.client.pipeline(transaction=False)
            for args in calls:
                # execute_command, not .evalsha(): the cluster pipeline refuses the method
                # name but routes the command by its keys like any other.
                pipe.execute_command("EVALSHA", sha, *args)
            results = pipe.execute(raise_on_error=False)
            if attempt == 1 and any(isinstance(r, self._no_script) for r in results):
                self.client.script_load(script)
                continue
            for result in results:
                if isinstance(result, Exception):
                    raise result
            return list(results)
        raise AssertionError("unreachable")  # pragma: no cover

    def _hot_call(self, command: tuple[Any, ...]) -> Any:
        """Run one command on this thread's own connection (the lookup, once per request).

        redis-py's generic command path (pool checkout, retry wrapper, observability hooks)
        costs about as much Python time as the rest of a hit; the connection itself (packing,
        parsing, health checks, timeouts) is redis-py's. Other pools (Sentinel, cluster) and
        every other command use the client as usual.
        """
        if self.cluster:
            return self._hot_call_cluster(command)
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

    def _hot_call_cluster(self, command: tuple[Any, ...]) -> Any:
        """The lookup on this thread's own connection to the node that owns the key's slot
        (from redis-py's slot map). redis-py's cluster command path costs several times the
        round trip itself; anything unusual (a redirect, a node that went away) is handed to
        it, and it follows the redirect and refreshes the slot map."""
        from redis.exceptions import AskError, ClusterDownError, MovedError, TryAgainError

        local = self._local
        connections: dict[str, Any] | None = getattr(local, "nodes", None)
        if connections is None or local.nodes_pid != os.getpid():
            connections = local.nodes = {}
            local.nodes_pid = os.getpid()
        try:
            node = self.client.get_node_from_key(command[3])  # EVALSHA sha numkeys KEY ...
        except self._errors:
            return self.client.execute_command(*command)
        connection = connections.get(node.name)
        if connection is None:
            pool = self.client.get_redis_connection(node).connection_pool
            connection = connections[node.name] = pool.connection_class(**pool.connection_kwargs)
        try:
            connection.send_command(*command)
            return connection.read_response()
        except (MovedError, AskError, ClusterDownError, TryAgainError, OSError) as exc:
            if not isinstance(exc, MovedError | AskError):
                connection.disconnect()
                del connections[node.name]
            return self.client.execute_command(*command)
        except self._connection_error:
            connection.disconnect()
            del connections[node.name]
            return self.client.execute_command(*command)

    # -- the Store protocol ----------------------------------------------------------------

    def lookup(
        self, key: str, lock_token: str = "", lock_ms: int = 0, known_id: str = ""
    ) -> Lookup:
        # The hit path: plain EVALSHA (loading the script only when Redis lost it).
        counts = stats.take()
        command = lookup_command(
            self._lookup_sha,
            self.layout.stored(key),
            self.layout.tags_key_of(key),
            lock_token,
            lock_ms,
            known_id,
            self.layout.stats_key_of(key),
            counts,
        )
        try:
            try:
                reply = self._hot_call(command)
            except self._no_script:
                self.client.script_load(LOOKUP_LUA)
                reply = self._hot_call(command)
        except self._errors as exc:
            if counts:
                stats.give_back(counts)
            raise StoreUnavailable(f"{type(exc).__name__}: {exc}") from exc
        found = parse_lookup(reply)
        if self.cluster and reply[6:7] == [1]:
            self._realign_clocks()
        return found

    def save(
        self,
        key: str,
        value: bytes,
        timeout: int,
        vary: tuple[str, bytes] | None = None,
        lock_token: str = "",
    ) -> None:
        save_args = save_arguments(self.layout, key, value, timeout, lock_token)
        with _converted_errors():
            if self.cluster:
                # Entry before marker: whoever sees the Vary marker must find the variant.
                self._evalsha(self._save_sha, SAVE_LUA, *save_args)
                if vary is not None:
                    self.client.set(self.layout.stored(vary[0]), vary[1], px=timeout * 1000)
                return
            pipe = self.client.pipeline(transaction=False)
            pipe.execute_command("EVALSHA", self._save_sha, *save_args)
            if vary is not None:
                pipe.set(vary[0], vary[1], px=timeout * 1000)
            results = pipe.execute(raise_on_error=False)
            if isinstance(results[0], self._no_script):
                # The script cache was flushed: load it and store again (the marker, written
                # second, may already point here; the entry follows at once).
                self._evalsha(self._save_sha, SAVE_LUA, *save_args)
            for result in results:
                if isinstance(result, Exception) and not isinstance(result, self._no_script):
                    raise result

    def release(self, key: str, lock_token: str, uncacheable_ms: int = 0) -> None:
        lock = keys.lock_key(self.layout.stored(key))
        with _converted_errors():
            self._evalsha(self._release_sha, RELEASE_LUA, 1, lock, lock_token, uncacheable_ms)

    def clock(self) -> int:
        with _converted_errors():
            if not self.cluster:
                return int(self._evalsha(self._clock_sha, _CLOCK_LUA, 1, self.tags_key)[0])
            replies = self._group_clocks()
        # The earliest group clock: a start later than some group's clock would make that
        # group's entries unreadable until the next purge.
        return min(int(reply[0]) for reply in replies)

    def _group_clocks(self) -> list[Any]:
        calls = [(1, tags_key) for tags_key in self.layout.tags_keys]
        return self._evalsha_each(self._clock_sha, _CLOCK_LUA, calls)

    def purge(self, tags: Sequence[str], soft: bool) -> int:
        with _converted_errors():
            return self._purge("s" if soft else "h", tags)

    def purge_all(self) -> int:
        """Raise the floor: every entry stored so far becomes stale (O(1))."""
        with _converted_errors():
            return self._purge("f", ())

    def _purge(self, mode: str, tags: Sequence[str]) -> int:
        if not self.cluster:
            return self._purge_one(mode, tags)
        # Every start any group handed out is at most its clock or its server's time then:
        # one version above all of them, stamped in every group, condemns every render that
        # began before this purge, whichever group its start came from.
        clocks = self._group_clocks()
        least = max(int(reply[1]) for reply in clocks) + 1
        by_node: dict[str, tuple[Any, list[str], bool]] = {}
        for tags_key, reply in zip(self.layout.tags_keys, clocks, strict=True):
            node = self.client.get_node_from_key(tags_key)
            _, group_keys, replicated = by_node.setdefault(node.name, (node, [], False))
            group_keys.append(tags_key)
            by_node[node.name] = (node, group_keys, replicated or int(reply[3]) > 0)
        self._synced_at = time.monotonic()
        work = [
            partial(self._stamp_node, node, group_keys, replicated, mode, least, tags)
            for node, group_keys, replicated in by_node.values()
        ]
        # One round trip of wall time: every node's stamp is sent at once.
        versions = [v for stamped in _in_parallel(work) for v in stamped]
        if len(set(versions)) > 1 and tags:
            # Another purge ran between this one's phases on some node: level the clocks
            # (a start above a group's clock is unreadable there until the next purge).
            self._purge(mode, ())
        return min(versions)

    def _stamp_node(
        self,
        node: Any,
        group_keys: list[str],
        replicated: bool,
        mode: str,
        least: int,
        tags: Sequence[str],
    ) -> list[int]:
        """Stamp the groups one node owns, on one connection, and (with replicas) WAIT on
        that same connection: no redirect can move a script off the connection the WAIT
        covers. A node that no longer owns a group refuses (MOVED): the purge fails, the
        slot map is refreshed, and the purge is retried from the start."""
        from redis.exceptions import AskError, MovedError

        connection = self.client.get_redis_connection(node)
        for attempt in (1, 2):
            pipe = connection.pipeline(transaction=False)
            for tags_key in group_keys:
                args = (1, tags_key, mode, self.allowance_ms, least, *tags)
                pipe.execute_command("EVALSHA", self._purge_sha, *args)
            if replicated:
                pipe.execute_command("WAIT", 1, REPLICA_WAIT_MS)
            results = pipe.execute(raise_on_error=False)
            if attempt == 1 and any(isinstance(r, self._no_script) for r in results):
                connection.script_load(_PURGE_LUA)
                continue
            for result in results:
                if isinstance(result, MovedError | AskError):
                    self.client.nodes_manager.initialize()  # the slots moved: learn where
                    raise StoreUnavailable(f"a purge reached a node that moved: {result}")
                if isinstance(result, Exception):
                    raise result
            if replicated:
                _check_replicated(results[-1:])
            return [int(reply[0]) for reply in results[: len(group_keys)]]
        raise AssertionError("unreachable")  # pragma: no cover

    def _purge_one(self, mode: str, tags: Sequence[str]) -> int:
        """One round trip; with replicas, the WAIT for one of them rides in the same one."""
        args = (1, self.tags_key, mode, self.allowance_ms, 0, *tags)
        if not self._replicas:
            version, replicas = self._evalsha(self._purge_sha, _PURGE_LUA, *args)
            self._replicas = int(replicas) > 0
            if not self._replicas:
                return int(version)
            # Replicas appeared: wait behind an empty purge sent after this one (replication
            # is in order, so a replica holding the later write holds this one too).
            args = (1, self.tags_key, "h", self.allowance_ms, 0)
        for attempt in (1, 2):
            pipe = self.client.pipeline(transaction=False)
            pipe.execute_command("EVALSHA", self._purge_sha, *args)
            pipe.execute_command("WAIT", 1, REPLICA_WAIT_MS)
            reply, acknowledged = pipe.execute(raise_on_error=False)
            if attempt == 1 and isinstance(reply, self._no_script):
                self.client.script_load(_PURGE_LUA)
                continue
            for result in (reply, acknowledged):
                if isinstance(result, Exception):
                    raise result
            self._replicas = int(reply[1]) > 0
            if self._replicas:
                _check_replicated([acknowledged])
            return int(reply[0])
        raise AssertionError("unreachable")  # pragma: no cover

    def _realign_clocks(self) -> None:
        """A group whose versions were lost restarts its clock at its server's time, ahead
        of the others, and says so (its hash holds ``unaligned`` until a cluster stamp):
        starts read elsewhere would be older than its floor (every entry a miss) until the
        next purge. An empty purge brings every group level now; every lookup that sees the
        mark asks for one, at most once a second per process."""
        now = time.monotonic()
        if now - self._realigned_at < _SYNC_INTERVAL:
            return
        self._realigned_at = now
        try:
            with _converted_errors():
                self._purge("h", ())
        except StoreUnavailable:
            pass  # the next lookup that sees a recreated group tries again

    def add_counts(self, counts: Sequence[str | int]) -> None:
        """Add STATS counters (``field, amount, ...``) to the stats hash (one round trip;
        lookups normally carry them)."""
        pairs = list(zip(counts[::2], counts[1::2], strict=True))
        with _converted_errors():
            pipe = self.client.pipeline(transaction=False)
            for field, amount in pairs:
                pipe.hincrby(self.layout.stats_keys[0], str(field), int(amount))
            pipe.execute()

    def read_counts(self) -> list[tuple[bytes, bytes]]:
        """Every counter of every stats hash (a cluster has one per group)."""
        with _converted_errors():
            return [
                item
                for stats_key in self.layout.stats_keys
                for item in self.client.hgetall(stats_key).items()
            ]

    def reset_counts(self) -> None:
        with _converted_errors():
            for stats_key in self.layout.stats_keys:
                self.client.delete(stats_key)

    def take_turn(self, key: str, ms: int) -> bool:
        with _converted_errors():
            return bool(self.client.set(key, b"1", nx=True, px=ms))

    def clear(self) -> int:
        """SCAN this prefix's keys and UNLINK them in batches (never FLUSHDB); on a
        cluster, every primary is scanned and each key unlinked in its own slot."""
        removed = 0
        with _converted_errors():
            batch: list[bytes] = []
            for key in self.client.scan_iter(match=f"{glob_escape(self.prefix)}:*", count=1000):
                batch.append(key)
                if len(batch) >= 500:
                    removed += self._unlink(batch)
                    batch.clear()
            if batch:
                removed += self._unlink(batch)
        return removed

    def _unlink(self, batch: list[bytes]) -> int:
        if not self.cluster:
            return int(self.client.unlink(*batch))
        pipe = self.client.pipeline(transaction=False)
        for key in batch:
            pipe.unlink(key)
        return sum(int(n) for n in pipe.execute())


def _check_replicated(acknowledgements: Sequence[Any]) -> None:
    """A purge no replica holds would be lost by a failover: fail it (it is then retried,
    and recorded durably if it keeps failing)."""
    if any(int(count) < 1 for count in acknowledgements):
        raise StoreUnavailable(
            f"no replica acknowledged the purge within {REPLICA_WAIT_MS} ms (WAIT)"
        )


def lookup_command(
    sha: str,
    key: str,
    tags_key: str,
    lock_token: str,
    lock_ms: int,
    known_id: str,
    stats_key: str = "",
    counts: Sequence[str | int] = (),
) -> tuple[Any, ...]:
    """The lookup script's EVALSHA, its KEYS and ARGV as lookup.lua reads them (sync and
    async stores alike); ``counts`` (STATS counters, ``field, amount, ...``) ride along."""
    if counts:
        lock = keys.lock_key(key)
        return (
            "EVALSHA",
            sha,
            4,
            key,
            tags_key,
            lock,
            stats_key,
            lock_token,
            lock_ms,
            known_id,
            *counts,
        )
    return ("EVALSHA", sha, 3, key, tags_key, keys.lock_key(key), lock_token, lock_ms, known_id)


def save_arguments(
    layout: keys.Layout, key: str, value: bytes, timeout: int, lock_token: str
) -> tuple[Any, ...]:
    """The save script's numkeys, KEYS and ARGV as save.lua reads them (sync and async
    stores alike): the entry, its group's versions hash and its lock; value, ms, token."""
    stored = layout.stored(key)
    lock = keys.lock_key(stored)
    return (3, stored, layout.tags_key_of(key), lock, value, timeout * 1000, lock_token)


def parse_lookup(reply: Any) -> Lookup:
    """The lookup script's reply as a :class:`Lookup` (sync and async stores alike)."""
    try:
        code, clock, value, ttl_left_ms, lock, entry_id = reply[:6]
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


def _in_parallel(work: Sequence[Callable[[], list[int]]]) -> list[list[int]]:
    """Run each call on its own thread (the first on this one) and return their results in
    order, raising the first error: requests to different nodes sent at once."""
    if len(work) == 1:
        return [work[0]()]
    results: list[list[int] | BaseException] = [[] for _ in work]

    def run(index: int) -> None:
        try:
            results[index] = work[index]()
        except BaseException as exc:  # re-raised below, in the caller's thread
            results[index] = exc

    threads = [threading.Thread(target=run, args=(i,), daemon=True) for i in range(1, len(work))]
    for thread in threads:
        thread.start()
    run(0)
    for thread in threads:
        thread.join()
    for result in results:
        if isinstance(result, BaseException):
            raise result
    return [r for r in results if not isinstance(r, BaseException)]


@contextmanager
def _converted_errors() -> Iterator[None]:
    """Turn redis-py's errors (a cluster client's own included) and socket errors into
    :class:`StoreUnavailable`."""
    from redis.exceptions import RedisClusterException, RedisError

    try:
        yield
    except (RedisError, RedisClusterException, OSError) as exc:
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


def probe_server(client: Any) -> tuple[str, dict[str, str], bool]:
    """The server's version, ``maxmemory*`` settings and whether it is a cluster node, for
    the deploy checks (a cluster client answers for every primary: the oldest version, the
    settings of the first).

    A plain pool gets a short-timeout, no-retry connection to the client's server (a check
    must not hang on a dead host); Sentinel and Cluster clients are asked through their own
    connections (they know where the master is). ``CONFIG`` being disabled (managed Redis)
    gives an empty dict.
    """
    if is_cluster(client):
        with _converted_errors():
            replies = [_probe(client.get_redis_connection(n)) for n in client.get_primaries()]
        if not replies:
            raise StoreUnavailable("the cluster has no reachable primary")
        oldest = min(replies, key=lambda reply: _version_tuple(reply[0]))
        return oldest[0], replies[0][1], True
    if not plain_pool(getattr(client, "connection_pool", None)):
        with _converted_errors():
            return _probe(client)
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
            return _probe(probe)
    finally:
        probe_pool.disconnect()


def _probe(client: Any) -> tuple[str, dict[str, str], bool]:
    import redis

    info = client.info()
    version = str(info.get("redis_version", "0"))
    try:
        config = {str(k): str(v) for k, v in client.config_get("maxmemory*").items()}
    except redis.ResponseError:
        config = {}
    return version, config, str(info.get("cluster_enabled", "0")) == "1"


def _version_tuple(text: str) -> tuple[int, ...]:
    return tuple(int(part) if part.isdigit() else 0 for part in text.split("."))
