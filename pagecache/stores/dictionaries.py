"""The site dictionary's keys in the cache, and the one write that compresses an entry again.

Everything here is a single-key command (GET, SET, EXPIRE, DEL, one-key EVAL), so it works on
one Redis and on a Redis Cluster alike (each key goes to its own slot), and on any other
Django cache through its API:

* :class:`RedisDictionaries` — a redis-py ``Redis`` or ``RedisCluster`` client (the one
  :class:`~pagecache.stores.redis.RedisStore` holds);
* :class:`CacheDictionaries` — a Django cache (the one
  :class:`~pagecache.stores.django_cache.DjangoCacheStore` holds); it cannot replace an
  entry only if it is unchanged, so entries there are never compressed again;
* :func:`aget` — a read on :class:`~pagecache.stores.redis_async.AsyncRedisStore`'s loop.

The key names and what is stored under them are :mod:`pagecache.core.dictionary`'s; every
cache error becomes :class:`~pagecache.exceptions.StoreUnavailable` here.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, Protocol

from ..exceptions import StoreUnavailable

if TYPE_CHECKING:
    from django.core.cache.backends.base import BaseCache

    from .base import Store
    from .redis_async import AsyncRedisStore

__all__ = ["CacheDictionaries", "DictionaryStore", "RedisDictionaries", "aget", "dictionaries_for"]

#: KEYS: entry key. ARGV: the entry's header line (with its newline), the new value.
#: Writes the value only if the key still holds that entry — the same header, so the same
#: content id — keeping its time to live; 1 if it did. Reads only the header (GETRANGE).
RECOMPRESS_LUA = """
local head = redis.call('GETRANGE', KEYS[1], 0, #ARGV[1] - 1)
if head ~= ARGV[1] then return 0 end
local ttl = redis.call('PTTL', KEYS[1])
if ttl <= 0 then return 0 end
redis.call('SET', KEYS[1], ARGV[2], 'PX', ttl)
return 1
"""


class DictionaryStore(Protocol):
    """What :mod:`pagecache.dictionary` and its worker need from the cache."""

    #: Whether :meth:`replace_entry` can work here.
    replaces_entries: bool

    def get(self, key: str) -> bytes | None:
        """The bytes under ``key``, or ``None``."""

    def put(self, key: str, value: bytes, ttl_s: int, *, only_new: bool = False) -> bool:
        """Store ``value`` for ``ttl_s`` seconds (with ``only_new``, only if ``key`` is
        free); whether it was stored."""

    def keep(self, key: str, ttl_s: int) -> bool:
        """Let ``key`` live ``ttl_s`` seconds from now; whether it exists."""

    def take_turn(self, key: str, ms: int) -> bool:
        """Claim ``key`` for ``ms`` milliseconds if nobody holds it; whether this call did."""

    def delete(self, key: str) -> None:
        """Remove ``key`` (a turn given back)."""

    def replace_entry(self, key: str, header: bytes, value: bytes) -> bool:
        """Replace the entry under ``key`` by ``value`` if it still starts with ``header``."""


class RedisDictionaries:
    """On a redis-py client, one Redis or a cluster; ``stored`` maps an entry key to the
    key the store wrote it under (a cluster's hash tag)."""

    replaces_entries = True

    def __init__(self, client: Any, stored: Callable[[str], str] | None = None) -> None:
        self.client = client
        self._stored = stored or (lambda key: key)

    def get(self, key: str) -> bytes | None:
        with _redis_errors():
            value = self.client.get(key)
        return value if isinstance(value, bytes) else None

    def put(self, key: str, value: bytes, ttl_s: int, *, only_new: bool = False) -> bool:
        with _redis_errors():
            return bool(self.client.set(key, value, ex=ttl_s, nx=only_new))

    def keep(self, key: str, ttl_s: int) -> bool:
        with _redis_errors():
            return bool(self.client.expire(key, ttl_s))

    def take_turn(self, key: str, ms: int) -> bool:
        with _redis_errors():
            return bool(self.client.set(key, b"1", nx=True, px=ms))

    def delete(self, key: str) -> None:
        with _redis_errors():
            self.client.delete(key)

    def replace_entry(self, key: str, header: bytes, value: bytes) -> bool:
        with _redis_errors():
            # EVAL, not EVALSHA: this runs rarely, off the request path, and a cluster
            # routes it by its one key like any other command.
            done = self.client.eval(RECOMPRESS_LUA, 1, self._stored(key), header, value)
        return bool(done == 1)


class CacheDictionaries:
    """On any Django cache, through its API."""

    replaces_entries = False

    def __init__(self, cache: BaseCache) -> None:
        self.cache = cache

    def get(self, key: str) -> bytes | None:
        with _cache_errors():
            value = self.cache.get(key)
        return value if isinstance(value, bytes) else None

    def put(self, key: str, value: bytes, ttl_s: int, *, only_new: bool = False) -> bool:
        with _cache_errors():
            if only_new:
                return bool(self.cache.add(key, value, ttl_s))
            self.cache.set(key, value, ttl_s)
            return True

    def keep(self, key: str, ttl_s: int) -> bool:
        with _cache_errors():
            return bool(self.cache.touch(key, ttl_s))

    def take_turn(self, key: str, ms: int) -> bool:
        with _cache_errors():
            return bool(self.cache.add(key, 1, max(1, -(-ms // 1000))))

    def delete(self, key: str) -> None:
        with _cache_errors():
            self.cache.delete(key)

    def replace_entry(self, key: str, header: bytes, value: bytes) -> bool:
        return False  # no compare-and-set in the cache API: a newer entry could be lost


def dictionaries_for(store: Store) -> DictionaryStore:
    """The dictionary keys of the cache ``store`` talks to."""
    from .redis import RedisStore

    if isinstance(store, RedisStore):
        layout = getattr(store, "layout", None)
        return RedisDictionaries(store.client, layout.stored if layout is not None else None)
    cache = getattr(store, "cache", None)
    if cache is None:
        raise StoreUnavailable(f"{type(store).__name__} keeps no dictionaries")
    return CacheDictionaries(cache)


async def aget(store: AsyncRedisStore, key: str) -> bytes | None:
    """The bytes under ``key``, read on the event loop's own connection pool."""
    from redis.exceptions import RedisClusterException, RedisError

    try:
        value = await store.client().get(key)  # one Redis, or a cluster's asyncio client
    except (RedisError, RedisClusterException, OSError, TimeoutError) as exc:
        raise StoreUnavailable(f"{type(exc).__name__}: {exc}") from exc
    return value if isinstance(value, bytes) else None


@contextmanager
def _redis_errors() -> Iterator[None]:
    from redis.exceptions import RedisClusterException, RedisError

    try:
        yield
    except (RedisError, RedisClusterException, OSError) as exc:
        raise StoreUnavailable(f"{type(exc).__name__}: {exc}") from exc


@contextmanager
def _cache_errors() -> Iterator[None]:
    try:
        yield
    except Exception as exc:  # any backend's own errors: the cache is unusable now
        raise StoreUnavailable(f"{type(exc).__name__}: {exc}") from exc
