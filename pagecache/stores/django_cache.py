"""``DjangoCacheStore``: pages and fragments on any Django cache backend.

Two round trips per hit, wall-clock versions, one cache key per tag version. Used when
the pagecache cache is not django-redis or Django's own ``RedisCache``.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING

from ..core import keys
from ..core.entry import VARY_MAGIC, read_header
from ..core.freshness import Lock, Lookup, State, judge
from ..exceptions import StoreUnavailable

if TYPE_CHECKING:
    from django.core.cache.backends.base import BaseCache


def _now_us() -> int:
    return time.time_ns() // 1000


class DjangoCacheStore:
    """Store through the Django cache API, for backends without a Redis client.

    Versions are wall-clock microseconds of the app servers (keep their clocks in sync),
    one cache key per tag. A missing tag version or floor is recreated as "now" and the
    entry read is treated as purged, so eviction costs misses, never stale content.
    """

    def __init__(self, cache: BaseCache, prefix: str) -> None:
        self.cache = cache
        self.prefix = prefix
        self.floor_key = f"{prefix}:floor"
        self.stats_key = f"{prefix}:stats"

    def _tag_key(self, kind: str, tag: str) -> str:
        return f"{self.prefix}:tv{kind}:{keys._digest(tag)}"

    def lookup(
        self, key: str, lock_token: str = "", lock_ms: int = 0, known_id: str = ""
    ) -> Lookup:
        with _django_errors():
            found = self._judge(key)
            if found.state in (State.FRESH, State.VARY) or not lock_token:
                return found
            lock_key = keys.lock_key(key)
            if self.cache.add(lock_key, lock_token, max(1, -(-lock_ms // 1000))):
                lock = Lock.ACQUIRED
            else:
                lock = Lock.PASS if self.cache.get(lock_key) == "U" else Lock.HELD
            return Lookup(found.state, found.clock, found.value, found.ttl_left_ms, lock)

    def _judge(self, key: str) -> Lookup:
        found = self.cache.get_many([key, self.floor_key])
        now = _now_us()
        floor = found.get(self.floor_key)
        if not isinstance(floor, int):
            floor = now + 1
            self.cache.set(self.floor_key, floor, None)
        now = max(now, floor)  # a render starting now must not predate the floor
        stored = found.get(key)
        if stored is None:
            return Lookup(State.MISS, now)
        if not (isinstance(stored, tuple) and len(stored) == 2 and isinstance(stored[1], bytes)):
            return Lookup(State.UNREADABLE, now)
        expires_ms, value = stored
        if value.startswith(VARY_MAGIC):
            return Lookup(State.VARY, now, value)
        # Only the header decides freshness; the caller decodes the payload once, if at all.
        entry = read_header(value)
        if entry is None:
            return Lookup(State.UNREADABLE, now)
        tags = entry.tags + tuple(tag for tag, _ in entry.carried)
        hard_keys = {self._tag_key("h", t): t for t in tags}
        soft_keys = {self._tag_key("s", t): t for t in tags}
        versions = self.cache.get_many([*hard_keys, *soft_keys]) if hard_keys else {}
        hard: dict[str, int | None] = {}
        for tag_key, tag in hard_keys.items():
            version = versions.get(tag_key)
            if not isinstance(version, int):
                # Lost or never written: assume a purge we cannot see happened just now.
                self.cache.add(tag_key, now, None)
                return Lookup(State.PURGED, now)
            hard[tag] = version
        soft = {tag: versions.get(k) for k, tag in soft_keys.items()}
        ttl_left_ms = max(0, int(expires_ms) - now // 1000)
        state = judge(
            start=entry.start,
            tags=entry.tags,
            carried=entry.carried,
            # Versions here are each app server's wall clock: a start "from the future" is
            # clock skew between servers, not forgery, so it is not held against the entry.
            clock=None,
            floor=floor,
            hard=hard,
            soft={t: v for t, v in soft.items() if isinstance(v, int)},
            ttl_left_ms=ttl_left_ms,
            stale_ms=entry.stale_ms,
        )
        return Lookup(state, now, value, ttl_left_ms)

    def save(
        self,
        key: str,
        value: bytes,
        timeout: int,
        vary: tuple[str, bytes] | None = None,
        lock_token: str = "",
    ) -> None:
        entry = read_header(value)
        with _django_errors():
            expires_ms = _now_us() // 1000 + timeout * 1000
            items: dict[str, object] = {key: (expires_ms, value)}
            if vary is not None:
                items[vary[0]] = (expires_ms, vary[1])
            self.cache.set_many(items, timeout)
            if entry is not None:
                # A tag never purged gets its first version: the earliest start it is
                # judged against (a later one would condemn the entry at once).
                starts = dict.fromkeys(entry.tags, entry.start)
                starts.update(entry.carried)
                for tag, start in starts.items():
                    self.cache.add(self._tag_key("h", tag), start, None)
        if lock_token:
            self.release(key, lock_token)

    def release(self, key: str, lock_token: str, uncacheable_ms: int = 0) -> None:
        # Not atomic (the cache API has no compare-and-delete); a lock that expired and was
        # taken by another request in between is, at worst, released early.
        with _django_errors():
            lock_key = keys.lock_key(key)
            if self.cache.get(lock_key) not in (lock_token, "U"):
                return
            if uncacheable_ms:
                self.cache.set(lock_key, "U", max(1, uncacheable_ms // 1000))
            else:
                self.cache.delete(lock_key)

    def clock(self) -> int:
        with _django_errors():
            floor = self.cache.get(self.floor_key)
        return max(_now_us(), floor if isinstance(floor, int) else 0)

    def purge(self, tags: Sequence[str], soft: bool) -> int:
        with _django_errors():
            now = _now_us()
            kind = "s" if soft else "h"
            self.cache.set_many({self._tag_key(kind, t): now for t in tags}, None)
            return now

    def purge_all(self) -> int:
        with _django_errors():
            now = _now_us()
            self.cache.set(self.floor_key, now, None)
            return now

    def add_counts(self, counts: Sequence[str | int]) -> None:
        """Counters in one cache value (read, add, write: two processes writing at the same
        moment can lose each other's counts; Redis keeps them exact)."""
        with _django_errors():
            current = self.cache.get(self.stats_key)
            table = dict(current) if isinstance(current, dict) else {}
            for field, amount in zip(counts[::2], counts[1::2], strict=True):
                table[str(field)] = table.get(str(field), 0) + int(amount)
            self.cache.set(self.stats_key, table, None)

    def read_counts(self) -> list[tuple[bytes, bytes]]:
        with _django_errors():
            current = self.cache.get(self.stats_key)
        if not isinstance(current, dict):
            return []
        return [(str(k).encode(), str(v).encode()) for k, v in current.items()]

    def reset_counts(self) -> None:
        with _django_errors():
            self.cache.delete(self.stats_key)

    def take_turn(self, key: str, ms: int) -> bool:
        with _django_errors():
            return bool(self.cache.add(key, 1, max(1, -(-ms // 1000))))

    def clear(self) -> None:
        # The cache API cannot list keys by prefix: make everything stale instead.
        self.purge_all()


@contextmanager
def _django_errors() -> Iterator[None]:
    """Turn any cache-backend error into :class:`StoreUnavailable`.

    Django backends raise their own errors (django-redis ``ConnectionInterrupted``,
    pymemcache, database errors): all of them mean the cache is unusable right now.
    """
    try:
        yield
    except StoreUnavailable:
        raise
    except Exception as exc:
        raise StoreUnavailable(f"{type(exc).__name__}: {exc}") from exc
