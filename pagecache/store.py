"""The one layer that talks to the cache: its interface, and choosing an implementation.

Two implementations of the small :class:`Store` interface:

* :class:`~pagecache.redis_store.RedisStore` — the fast path for django-redis and Django's
  own ``RedisCache``: Lua scripts check an entry's tag versions in the same round trip
  that reads it, and purge in one round trip.
* :class:`~pagecache.django_store.DjangoCacheStore` — any other Django cache backend,
  through the cache API.

Every cache error is converted to :class:`~pagecache.exceptions.StoreUnavailable` inside
the implementations and nowhere else.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from .conf import on_reload, settings
from .entry import State

if TYPE_CHECKING:
    from django.core.cache.backends.base import BaseCache


class Lock(enum.Enum):
    """What a lookup that needs a render learnt about the key's render lock."""

    #: No lock was asked for (or the entry is fresh).
    NONE = 0
    #: This request holds the lock: it renders, stores, and releases.
    ACQUIRED = 1
    #: Another request is rendering this key right now.
    HELD = 2
    #: The last render of this key was not storable: render without waiting (hit-for-miss).
    PASS = 3


__all__ = ["Lock", "Lookup", "State", "Store", "get_store"]


@dataclass(frozen=True, slots=True)
class Lookup:
    """The result of one lookup: a state, the raw value when usable, and the purge clock."""

    state: State
    clock: int
    value: bytes | None = None
    ttl_left_ms: int = 0
    lock: Lock = Lock.NONE
    #: The stored payload's content id; with ``value`` None, the caller's copy is current.
    entry_id: str = ""


class Store(Protocol):
    """What the page and fragment layers need from a cache."""

    def lookup(
        self, key: str, lock_token: str = "", lock_ms: int = 0, known_id: str = ""
    ) -> Lookup:
        """Read ``key``; unless it is fresh and ``lock_token`` is given, also try to take its
        render lock for ``lock_ms`` (the answer is in :attr:`Lookup.lock`). A store may leave
        ``value`` out when the entry's content id equals ``known_id``."""

    def save(
        self,
        key: str,
        value: bytes,
        timeout: int,
        vary: tuple[str, bytes] | None = None,
        lock_token: str = "",
    ) -> None:
        """Store ``value``; with ``vary=(base_key, marker)`` also (re)write the Vary marker;
        with ``lock_token`` also release the render lock of ``key``."""

    def release(self, key: str, lock_token: str, uncacheable_ms: int = 0) -> None:
        """Release ``key``'s render lock if ``lock_token`` holds it; with ``uncacheable_ms``
        leave a marker instead that lets requests render without waiting for that long."""

    def clock(self) -> int:
        """The purge clock now: a render whose data is read after this call may start here."""

    def purge(self, tags: Sequence[str], soft: bool) -> int:
        """Stamp ``tags`` with a new version; return the clock value used."""

    def purge_all(self) -> int:
        """Make every entry stored so far stale; return the clock value used."""

    def take_turn(self, key: str, ms: int) -> bool:
        """Claim ``key`` for ``ms`` milliseconds if nobody holds it; whether this call did."""

    def clear(self) -> int | None:
        """Remove this library's keys (never anything else); the number removed, if known."""


# -- choosing a store -----------------------------------------------------------------------


def redis_client_of(cache: BaseCache) -> Any | None:
    """The redis-py client behind a django-redis or Django ``RedisCache`` backend, if any."""
    module = type(cache).__module__
    try:
        if module.startswith("django_redis"):
            client = cache.client.get_client(write=True)  # type: ignore[attr-defined]
        elif module == "django.core.cache.backends.redis":
            client = cache._cache.get_client(write=True)  # type: ignore[attr-defined]
        else:
            return None
    except (AttributeError, TypeError):
        return None  # a sharded or custom client: use the generic path
    pool_kwargs = getattr(getattr(client, "connection_pool", None), "connection_kwargs", {})
    if pool_kwargs.get("decode_responses"):
        return None  # entries are bytes; a decoding client cannot return them intact
    return client


_store: Store | None = None


def get_store() -> Store:
    """The store for ``PAGECACHE["CACHE"]``, built once per settings change."""
    global _store
    if _store is None:
        from django.core.cache import InvalidCacheBackendError, caches

        from .exceptions import StoreUnavailable

        try:
            cache = caches[settings.CACHE]
        except InvalidCacheBackendError as exc:
            # Reported by check pagecache.E003; at run time the site works uncached.
            raise StoreUnavailable(str(exc)) from exc
        client = redis_client_of(cache)
        if client is not None:
            from .redis_store import RedisStore

            _store = RedisStore(client, settings.KEY_PREFIX)
        else:
            from .django_store import DjangoCacheStore

            _store = DjangoCacheStore(cache, settings.KEY_PREFIX)
    return _store


@on_reload
def reset_store() -> None:
    global _store
    _store = None
