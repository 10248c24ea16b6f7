"""The Redis store for the async driver: the same scripts and replies as
:class:`~pagecache.stores.redis.RedisStore`, on ``redis.asyncio``.

It serves what a request does in the event loop — look up, store, release the render
lock — and leaves purges, the clock and maintenance to the sync store (they run in
threads: the deliverer, ``purge_tags``, management commands). Its connections are built
from the sync client's own pool settings (host, database, credentials, timeouts, TLS), so
it talks to the same server as the cache backend. One pool per event loop: asyncio
connections belong to the loop that opened them, and a pool reused across requests keeps
a hit at one round trip with no connection setup (a fresh connection per request was
what made the thread-hop path slow).
"""

from __future__ import annotations

import asyncio
import weakref
from typing import Any

from .. import stats
from ..core import keys
from ..core.freshness import Lookup
from ..exceptions import StoreUnavailable
from .redis import (
    LOOKUP_LUA,
    RELEASE_LUA,
    SAVE_LUA,
    is_cluster,
    lookup_command,
    parse_lookup,
    plain_pool,
    save_arguments,
    script_sha,
)

#: Connection options of the sync pool that mean the same on an asyncio connection.
_SHARED_OPTIONS = frozenset(
    (
        "host",
        "port",
        "path",
        "db",
        "username",
        "password",
        "credential_provider",
        "client_name",
        "socket_timeout",
        "socket_connect_timeout",
        "socket_keepalive",
        "socket_keepalive_options",
        "health_check_interval",
        "protocol",
    )
)


#: Seconds a request waits for a pooled connection when all are busy.
POOL_WAIT_SECONDS = 2.0


def _parameters(cls: type) -> frozenset[str]:
    """Keyword arguments an asyncio connection class takes (some sync TLS options, such as
    OCSP checks, have no asyncio counterpart)."""
    import inspect

    names: set[str] = set()
    for klass in cls.__mro__:
        init = klass.__dict__.get("__init__")
        if init is not None:
            names.update(inspect.signature(init).parameters)
    return frozenset(names)


class AsyncRedisStore:
    """Lookups, stores and releases on ``redis.asyncio``, one pool per event loop."""

    def __init__(self, client: Any, prefix: str, max_connections: int = 128) -> None:
        from redis.exceptions import NoScriptError, RedisClusterException, RedisError

        self.prefix = prefix
        self.cluster = is_cluster(client)
        self.layout = keys.Layout(prefix, keys.CLUSTER_GROUPS if self.cluster else 1)
        self.tags_key = self.layout.tags_keys[0]
        self.max_connections = max_connections
        self._sync_client = client
        self._sync_pool = None if self.cluster else client.connection_pool
        self._pools: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, Any] = (
            weakref.WeakKeyDictionary()
        )
        self._hot_idle: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, list[Any]] = (
            weakref.WeakKeyDictionary()
        )
        self._hot_open: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, int] = (
            weakref.WeakKeyDictionary()
        )
        self._closing: set[asyncio.Task[None]] = set()
        self._lookup_sha = script_sha(LOOKUP_LUA)
        self._release_sha = script_sha(RELEASE_LUA)
        self._save_sha = script_sha(SAVE_LUA)
        self._no_script = NoScriptError
        self._errors = (RedisError, RedisClusterException, OSError, asyncio.TimeoutError)

    @staticmethod
    def supports(client: Any) -> bool:
        """Whether an asyncio client can be built like the sync one (plain TCP, TLS, a Unix
        socket, or a Redis Cluster; Sentinel pools keep the sync path)."""
        return is_cluster(client) or plain_pool(getattr(client, "connection_pool", None))

    def client(self) -> Any:
        """This event loop's client (its pool is built on first use in the loop)."""
        loop = asyncio.get_running_loop()
        client = self._pools.get(loop)
        if client is None:
            client = self._pools[loop] = self._new_client()
        return client

    def _new_client(self) -> Any:
        import redis.asyncio as aioredis
        from redis import connection as sync_connection

        if self._sync_pool is None:
            return self._new_cluster_client()
        connection_class = {
            sync_connection.Connection: aioredis.Connection,
            sync_connection.SSLConnection: aioredis.SSLConnection,
            sync_connection.UnixDomainSocketConnection: aioredis.UnixDomainSocketConnection,
        }[self._sync_pool.connection_class]
        accepted = _parameters(connection_class)
        options = {
            name: value
            for name, value in self._sync_pool.connection_kwargs.items()
            if (name in _SHARED_OPTIONS or name.startswith("ssl_")) and name in accepted
        }
        pool = aioredis.BlockingConnectionPool(
            connection_class=connection_class,
            max_connections=self.max_connections,
            # How long a lookup waits for a free connection in a burst: not the socket
            # timeout (a short one would make a busy moment look like an outage).
            timeout=POOL_WAIT_SECONDS,
            **options,
        )
        return aioredis.Redis(connection_pool=pool)

    def _new_cluster_client(self) -> Any:
        """redis.asyncio's cluster client, seeded with the nodes the sync one knows and its
        connection options (timeouts, credentials)."""
        from redis.asyncio.cluster import ClusterNode, RedisCluster
        from redis.connection import SSLConnection

        node = self._sync_client.get_default_node()
        pool = self._sync_client.get_redis_connection(node).connection_pool
        kwargs = pool.connection_kwargs
        import redis.asyncio as aioredis

        accepted = _parameters(RedisCluster) | _parameters(aioredis.Connection)
        options = {
            name: value
            for name, value in kwargs.items()
            if (name in _SHARED_OPTIONS or name.startswith("ssl_"))
            and name in accepted
            and name not in ("host", "port", "db", "path")
        }
        if issubclass(pool.connection_class, SSLConnection):
            options["ssl"] = True  # the sync pool says TLS by its class, not by an option
        nodes = [ClusterNode(n.host, n.port) for n in self._sync_client.get_nodes()]
        return RedisCluster(startup_nodes=nodes, **options)

    async def _evalsha(self, sha: str, script: str, *args: Any) -> Any:
        client = self.client()
        try:
            return await client.execute_command("EVALSHA", sha, *args)
        except self._no_script:
            await client.script_load(script)
            return await client.execute_command("EVALSHA", sha, *args)

    async def lookup(
        self, key: str, lock_token: str = "", lock_ms: int = 0, known_id: str = ""
    ) -> Lookup:
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
                reply = await self._hot_call(command)
            except self._no_script:
                await self.client().script_load(LOOKUP_LUA)
                reply = await self._hot_call(command)
        except self._errors as exc:
            if counts:
                stats.give_back(counts)
            raise StoreUnavailable(f"{type(exc).__name__}: {exc}") from exc
        found = parse_lookup(reply)
        if self.cluster and reply[6:7] == [1]:
            # A group's versions were lost: level the clocks (rare; the sync store does it).
            from asgiref.sync import sync_to_async

            from .select import get_store

            store = get_store()
            realign = getattr(store, "_realign_clocks", None)
            if realign is not None:
                await sync_to_async(realign, thread_sensitive=False)()
        return found

    async def _hot_call(self, command: tuple[Any, ...]) -> Any:
        """Run the lookup on one of this loop's own connections (as the sync store does).

        The pool's checkout (locks, a readiness probe, metrics hooks) costs about as much
        as the rest of a hit; these connections are the pool's own class and settings,
        kept in a free list this loop alone touches (no lock: nothing awaits between the
        pop and the use). A connection whose command failed or was cancelled midway is
        closed, never reused; past ``max_connections`` the pool's path is taken."""
        if self.cluster:
            return await self.client().execute_command(*command)
        idle = self._idle()
        if idle:
            connection = idle.pop()
        elif self._hot_open.get(asyncio.get_running_loop(), 0) < self.max_connections:
            connection = self.client().connection_pool.make_connection()
            loop = asyncio.get_running_loop()
            self._hot_open[loop] = self._hot_open.get(loop, 0) + 1
        else:
            return await self.client().execute_command(*command)
        try:
            await connection.send_command(*command)
            reply = await connection.read_response()
        except self._no_script:
            idle.append(connection)  # an error reply: the connection is fine
            raise
        except BaseException:
            self._drop(connection)
            raise
        idle.append(connection)
        return reply

    def _idle(self) -> list[Any]:
        loop = asyncio.get_running_loop()
        idle = self._hot_idle.get(loop)
        if idle is None:
            idle = self._hot_idle[loop] = []
        return idle

    def _drop(self, connection: Any) -> None:
        loop = asyncio.get_running_loop()
        self._hot_open[loop] = max(0, self._hot_open.get(loop, 1) - 1)
        # Closing awaits; a cancelled caller must not, so the loop closes it.
        task = loop.create_task(connection.disconnect(nowait=True))
        self._closing.add(task)
        task.add_done_callback(self._closing.discard)

    async def save(
        self,
        key: str,
        value: bytes,
        timeout: int,
        vary: tuple[str, bytes] | None = None,
        lock_token: str = "",
    ) -> None:
        save_args = save_arguments(self.layout, key, value, timeout, lock_token)
        try:
            if self.cluster:
                # Entry before marker: whoever sees the Vary marker must find the variant.
                await self._evalsha(self._save_sha, SAVE_LUA, *save_args)
                if vary is not None:
                    marker_key = self.layout.stored(vary[0])
                    await self.client().set(marker_key, vary[1], px=timeout * 1000)
                return
            async with self.client().pipeline(transaction=False) as pipe:
                # Entry before marker: whoever sees the Vary marker must find the variant.
                pipe.execute_command("EVALSHA", self._save_sha, *save_args)
                if vary is not None:
                    pipe.set(vary[0], vary[1], px=timeout * 1000)
                results = await pipe.execute(raise_on_error=False)
            if isinstance(results[0], self._no_script):
                await self._evalsha(self._save_sha, SAVE_LUA, *save_args)  # cache was flushed
            for result in results:
                if isinstance(result, Exception) and not isinstance(result, self._no_script):
                    raise result
        except self._errors as exc:
            raise StoreUnavailable(f"{type(exc).__name__}: {exc}") from exc

    async def release(self, key: str, lock_token: str, uncacheable_ms: int = 0) -> None:
        args = (1, keys.lock_key(self.layout.stored(key)), lock_token, uncacheable_ms)
        try:
            await self._evalsha(self._release_sha, RELEASE_LUA, *args)
        except self._errors as exc:
            raise StoreUnavailable(f"{type(exc).__name__}: {exc}") from exc
