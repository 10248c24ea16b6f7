"""What pagecache needs from a cache: the :class:`Store` protocol.

Two implementations:

* :class:`~pagecache.stores.redis.RedisStore` — the fast path for django-redis and
  Django's own ``RedisCache``: Lua scripts check an entry's tag versions in the same round
  trip that reads it, and purge in one round trip.
* :class:`~pagecache.stores.django_cache.DjangoCacheStore` — any other Django cache
  backend, through the cache API.

:mod:`pagecache.stores.select` picks one for ``PAGECACHE["CACHE"]``. Every cache error is
converted to :class:`~pagecache.exceptions.StoreUnavailable` inside the implementations
and nowhere else.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from ..core.freshness import Lookup

__all__ = ["Store"]


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

    def add_counts(self, counts: Sequence[str | int]) -> None:
        """Add ``STATS`` counters (``field, amount, ...``)."""

    def read_counts(self) -> list[tuple[bytes, bytes]]:
        """Every ``STATS`` counter, as (field, amount) pairs."""

    def reset_counts(self) -> None:
        """Set every ``STATS`` counter back to zero."""

    def take_turn(self, key: str, ms: int) -> bool:
        """Claim ``key`` for ``ms`` milliseconds if nobody holds it; whether this call did."""

    def clear(self) -> int | None:
        """Remove this library's keys (never anything else); the number removed, if known."""
