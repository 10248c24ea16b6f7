"""The async driver: :mod:`pagecache.driver`'s store calls for code running in an event
loop, on :class:`~pagecache.stores.redis_async.AsyncRedisStore`.

The decisions are the same functions (:func:`pagecache.core.flow.decide`, the breaker,
the decoded-entry memo, lock tokens); only the waiting (``asyncio.sleep``) and the store
calls differ. Work that needs the database or the sync store — delivering purges this
process still owes — is left to the background deliverer: while any is pending, requests
render uncached rather than block the loop (never stale, as in the sync driver).
"""

from __future__ import annotations

import asyncio
import time

from . import clock, dictionary, dictionary_worker, driver, telemetry
from .conf import settings
from .core import flow
from .core.flow import NO_CACHE, Action, Outcome
from .core.freshness import Lookup, State
from .exceptions import StoreUnavailable
from .outage import breaker
from .purging import deliverer, purge
from .stores.redis_async import AsyncRedisStore
from .stores.select import get_async_store


def has_async_store() -> bool:
    """Whether the cache has an async store (else the async path runs the sync one)."""
    try:
        return get_async_store() is not None
    except StoreUnavailable:
        return False  # the sync path reports it, and renders uncached


def usable_store() -> AsyncRedisStore | None:
    """The async store, or ``None`` when it must not (or cannot) be used now."""
    deliverer.ensure_started()
    if not breaker.allows():
        return None
    if purge.has_pending():
        # A purge this process owes must reach the cache before it serves from it; the
        # deliverer sends it within moments, without blocking this loop.
        deliverer.wake()
        return None
    try:
        return get_async_store()
    except StoreUnavailable as exc:
        driver.failed("connect", exc)
        return None


async def lookup(
    store: AsyncRedisStore, key: str, lock_token: str = "", lock_ms: int = 0, known_id: str = ""
) -> Lookup | None:
    """Look ``key`` up; ``None`` (and the breaker opened) if the cache failed."""
    try:
        with telemetry.span("pagecache.lookup", {"pagecache.key": key}) as span:
            found = await store.lookup(key, lock_token, lock_ms, known_id)
            span.set_attribute("pagecache.status", found.state.value)
    except Exception as exc:  # StoreUnavailable, or anything else: never a 500
        driver.failed("lookup", exc)
        if lock_token:
            purge.release_later(key, lock_token)  # it may have run after we gave up
        return None
    except BaseException:
        # Cancelled (the client went away) after the script was sent: the lock may be
        # taken in this request's name. The deliverer releases it.
        if lock_token:
            purge.release_later(key, lock_token)
        raise
    breaker.succeeded()
    clock.saw(found.clock)
    return found


async def obtain(key: str, *, lock: bool = True) -> Outcome:
    """Serve, wait or render: the single-flight rule for ``key`` (as :func:`driver.obtain`)."""
    store = usable_store()
    if store is None:
        return NO_CACHE
    token = driver.next_token() if lock else ""
    lock_ms = int(settings.LOCK_TIMEOUT * 1000)
    deadline = time.monotonic() + settings.LOCK_TIMEOUT
    pause = driver.POLL_FIRST
    while True:
        known = driver.decoded(key)
        found = await lookup(store, key, token, lock_ms, known[0] if known else "")
        if found is None:
            return NO_CACHE
        stored = None
        if found.state is not State.VARY:
            lacking = dictionary.lacking(found.value)
            if lacking is not None:  # fetched on this loop, once per process
                await dictionary.afetch(lacking, store)
            stored = driver.decode(key, found, known, fetch=False)
        action = flow.decide(found, stored, waited_enough=time.monotonic() >= deadline)
        if action is not Action.WAIT:
            return flow.outcome(action, key, found, stored, token)
        await _pause(pause)
        pause = min(pause * 1.5, driver.POLL_MAX)


async def _pause(seconds: float) -> None:
    """Wait between polls for another request's render (a seam for concurrency tests)."""
    await asyncio.sleep(seconds)


async def save(
    key: str,
    value: bytes,
    timeout: int,
    vary: tuple[str, bytes] | None = None,
    lock_token: str = "",
) -> bool:
    """Store ``value`` (and release the render lock); False (logged) if the cache failed."""
    if not driver.header_fits(key, value):
        await release(key, lock_token, uncacheable=True)
        return False
    store = get_async_store()
    if store is None:  # settings changed under us: leave it to the next render
        return False
    try:
        with telemetry.span(
            "pagecache.store", {"pagecache.key": key, "pagecache.bytes": len(value)}
        ):
            await store.save(key, value, timeout, vary, lock_token)
    except Exception as exc:  # StoreUnavailable, or anything else: never a 500
        driver.failed("store", exc)
        if lock_token:
            purge.release_later(key, lock_token)
        return False
    dictionary_worker.stored(key, value, timeout)  # sampled, maybe recompressed, off the loop
    return True


async def release(key: str, lock_token: str, *, uncacheable: bool) -> None:
    """Give up the render lock (see :func:`driver.release`)."""
    if not lock_token:
        return
    store = get_async_store()
    try:
        if store is None:
            raise StoreUnavailable("no async store")
        await store.release(key, lock_token, settings.TTL * 1000 if uncacheable else 0)
    except Exception as exc:  # StoreUnavailable, or anything else: never a 500
        driver.failed("release", exc)
        purge.release_later(key, lock_token)
