"""Guarded access to the store, shared by pages and fragments.

Every read and write of an entry goes through :func:`lookup` and :func:`save`, which
leave the cache alone while the outage breaker is open, refuse to read while this
process still owes the cache a purge, and turn a failing cache into "no cache" (logged,
rate-limited) instead of an error. Callers then simply render.
"""

from __future__ import annotations

from .exceptions import StoreUnavailable
from .health import breaker, log_failure
from .purge import flush_pending
from .store import Lookup, Store, get_store


def usable_store() -> Store | None:
    """The store, or ``None`` when it must not be used for this request now."""
    if not breaker.allows():
        return None
    # A process whose purge did not get through must not serve what that purge removed.
    if not flush_pending():
        breaker.failed()
        return None
    try:
        return get_store()
    except StoreUnavailable as exc:
        failed("connect", exc)
        return None


def lookup(store: Store, key: str) -> Lookup | None:
    """Look ``key`` up; ``None`` (and the breaker opened) if the cache failed."""
    try:
        found = store.lookup(key)
    except StoreUnavailable as exc:
        failed("lookup", exc)
        return None
    breaker.succeeded()
    return found


def save(key: str, value: bytes, timeout: int, vary: tuple[str, bytes] | None = None) -> bool:
    """Store ``value``; False (logged) if the cache failed."""
    try:
        get_store().save(key, value, timeout, vary)
    except StoreUnavailable as exc:
        failed("store", exc)
        return False
    return True


def failed(action: str, exc: Exception) -> None:
    breaker.failed()
    log_failure("store", "pagecache: cache %s failed, serving uncached: %s", action, exc)
