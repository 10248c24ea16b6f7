"""``RedisClusterCache``: Django's own ``RedisCache`` on redis-py's Redis Cluster client.

Django's backend builds a ``redis.Redis`` per server and django-redis ships no cluster
client, so this is the supported way to point ``CACHES`` (and pagecache) at a Redis
Cluster. It is Django's ``RedisCache`` in every behaviour; only the client differs:
a ``redis.cluster.RedisCluster`` (one per thread, as Django keeps cache objects per
thread; pagecache's own store uses one per process), built from ``LOCATION`` (any node or
several; the rest of the cluster is discovered), with multi-key operations split by hash
slot, as a cluster requires.

    CACHES = {
        "default": {
            "BACKEND": "pagecache.backends.RedisClusterCache",
            "LOCATION": "redis://10.0.0.1:7000,redis://10.0.0.2:7000",
            "OPTIONS": {"socket_timeout": 0.5},  # given to RedisCluster
        }
    }
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import urlsplit

from django.core.cache.backends.redis import RedisCache, RedisCacheClient
from django.utils.module_loading import import_string


class RedisClusterCacheClient(RedisCacheClient):
    """Django's Redis cache client with a ``RedisCluster`` instead of one server's pool."""

    def __init__(
        self,
        servers: list[str],
        serializer: Any = None,
        pool_class: Any = None,
        parser_class: Any = None,
        **options: Any,
    ) -> None:
        super().__init__(servers, serializer=serializer, **options)
        # Django's client keeps these private attributes untyped in its stubs.
        self._servers: list[str] = servers
        self._serializer: Any = self._serializer
        if parser_class is not None:
            options["parser_class"] = (
                import_string(parser_class) if isinstance(parser_class, str) else parser_class
            )
        self._cluster_options = options
        self._cluster: Any = None
        self._cluster_lock = threading.Lock()

    def get_client(self, key: Any = None, *, write: bool = False) -> Any:
        # One client per cache object (Django makes one per thread): it holds the slot map
        # and a pool per node.
        if self._cluster is None:
            with self._cluster_lock:
                if self._cluster is None:
                    self._cluster = self._build()
        return self._cluster

    def _build(self) -> Any:
        from redis.cluster import ClusterNode, RedisCluster

        nodes, credentials = [], dict[str, Any]()
        for server in self._servers:
            url = urlsplit(server if "://" in server else f"redis://{server}")
            host, port = url.hostname or "127.0.0.1", url.port or 6379
            nodes.append(ClusterNode(host, port))  # type: ignore[no-untyped-call]
            if url.username:
                credentials["username"] = url.username
            if url.password:
                credentials["password"] = url.password
            if url.scheme == "rediss":
                credentials["ssl"] = True
        return RedisCluster(startup_nodes=nodes, **{**credentials, **self._cluster_options})

    def get_many(self, keys: Iterable[Any]) -> dict[Any, Any]:
        keys = list(keys)
        values = self.get_client(None).mget_nonatomic(keys)  # one MGET per slot
        pairs = zip(keys, values, strict=True)
        return {k: self._serializer.loads(v) for k, v in pairs if v is not None}

    def set_many(self, data: Mapping[Any, Any], timeout: Any) -> None:
        if timeout == 0:  # Django's meaning: expire at once
            self.delete_many(data)
            return
        pipe = self.get_client(None, write=True).pipeline()  # commands grouped per node
        for key, value in data.items():
            pipe.set(key, self._serializer.dumps(value), ex=timeout)
        pipe.execute()

    def delete_many(self, keys: Iterable[Any]) -> None:
        keys = list(keys)
        if keys:
            self.get_client(None, write=True).delete(*keys)  # split by slot by redis-py

    def clear(self) -> bool:
        # Like Django's RedisCache: FLUSHDB, here on every primary of the cluster.
        return bool(self.get_client(None, write=True).flushdb(target_nodes="primaries"))


class RedisClusterCache(RedisCache):
    """Django's ``RedisCache`` on a Redis Cluster (see the module docstring)."""

    def __init__(self, server: str | list[str], params: dict[str, Any]) -> None:
        super().__init__(server, params)
        self._class = RedisClusterCacheClient
