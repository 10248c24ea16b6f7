"""Choosing the store for ``PAGECACHE["CACHE"]``: the Redis fast path when the backend
carries a redis-py client pagecache can run scripts on, the generic store otherwise."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..conf import on_reload, settings
from .base import Store

if TYPE_CHECKING:
    from django.core.cache.backends.base import BaseCache

    from .redis_async import AsyncRedisStore


def redis_client_of(cache: BaseCache) -> Any | None:
    """The redis-py client behind a django-redis or Django ``RedisCache`` backend, if any."""
    try:
        return built_redis_client(cache)
    except Exception:
        # A client that cannot even be built (django-redis given RedisCluster as its client
        # class): the generic path, whose every failure is a logged miss, never a 500.
        # ``check --deploy`` names the error (pagecache.E008).
        return None


def built_redis_client(cache: BaseCache) -> Any | None:
    """:func:`redis_client_of`, raising whatever building the backend's client raised."""
    from django.core.cache.backends.redis import RedisCache

    try:
        if _is_django_redis(cache):
            client = cache.client.get_client(write=True)  # type: ignore[attr-defined]
        elif isinstance(cache, RedisCache):
            # Django offers no public accessor for its client; _cache is its RedisCacheClient.
            client = cache._cache.get_client(write=True)
        else:
            return None
    except (AttributeError, TypeError):
        return None  # a sharded or custom client: use the generic path
    pool_kwargs = getattr(getattr(client, "connection_pool", None), "connection_kwargs", {})
    if pool_kwargs.get("decode_responses"):
        return None  # entries are bytes; a decoding client cannot return them intact
    return client


def _is_django_redis(cache: BaseCache) -> bool:
    try:
        from django_redis.cache import RedisCache as DjangoRedisCache
    except ImportError:
        return False
    return isinstance(cache, DjangoRedisCache)


_store: Store | None = None


def get_store() -> Store:
    """The store for ``PAGECACHE["CACHE"]``, built once per settings change."""
    global _store
    if _store is None:
        from django.core.cache import InvalidCacheBackendError, caches

        from ..exceptions import StoreUnavailable

        try:
            cache = caches[settings.CACHE]
        except InvalidCacheBackendError as exc:
            # Reported by check pagecache.E003; at run time the site works uncached.
            raise StoreUnavailable(str(exc)) from exc
        try:
            client = built_redis_client(cache)
        except Exception as exc:
            # The client could not be built now: a cluster it could not reach, or a client
            # class that cannot work (check E008). Never settle for the generic store then:
            # its keys are not the Redis store's, so its purges would miss the others'.
            # Unusable now, asked again once the breaker lets a request through.
            raise StoreUnavailable(f"{type(exc).__name__}: {exc}") from exc
        if client is not None:
            from ..core.freshness import PRUNE_MARGIN_MS
            from .redis import RedisStore

            allowance_ms = int(settings.LOCK_TIMEOUT * 1000) + PRUNE_MARGIN_MS
            _store = RedisStore(client, settings.KEY_PREFIX, allowance_ms=allowance_ms)
        else:
            from .django_cache import DjangoCacheStore

            _store = DjangoCacheStore(cache, settings.KEY_PREFIX)
    return _store


#: The async driver's store, once decided (``None`` inside: this cache has none).
_async_store: tuple[AsyncRedisStore | None] | None = None


def get_async_store() -> AsyncRedisStore | None:
    """The store for the async driver: the Redis fast path on ``redis.asyncio`` (one server
    or a cluster); ``None`` when the cache offers none (another backend, Sentinel), and the
    async path then runs the sync one in a thread."""
    global _async_store
    if _async_store is None:
        from .redis import RedisStore
        from .redis_async import AsyncRedisStore

        store = get_store()
        client = store.client if isinstance(store, RedisStore) else None
        supported = client is not None and AsyncRedisStore.supports(client)
        _async_store = (AsyncRedisStore(client, settings.KEY_PREFIX) if supported else None,)
    return _async_store[0]


@on_reload
def reset_store() -> None:
    global _store, _async_store
    _store = None
    _async_store = None
