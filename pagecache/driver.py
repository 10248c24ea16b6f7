"""Guarded access to the store, and the single-flight rule, shared by pages and fragments.

Every read and write of an entry goes through here. Reads are skipped while the outage
breaker is open or while this process still owes the cache a purge; a failing cache
becomes "no cache" (logged, rate-limited), never an error.

:func:`obtain` decides what a request does with a key (see docs/design.md, "Stampedes"):

* fresh entry: serve it;
* otherwise exactly one request — the one whose lookup took the key's render lock in the
  same round trip — renders and stores; the others serve the stale copy at once if there
  is a servable one (``STALE``), or wait for the render (bounded by ``LOCK_TIMEOUT``);
* if the last render of the key could not be stored, a short-lived marker replaces the
  lock and requests render without waiting (Varnish's hit-for-miss), so nothing queues
  behind an uncacheable page.
"""

from __future__ import annotations

import itertools
import logging
import os
import secrets
import time

from . import clock, dictionary, dictionary_worker, telemetry
from .conf import on_reload, settings
from .core import entry as entries
from .core import flow
from .core.flow import NO_CACHE, Action, Outcome
from .core.freshness import Lookup, State
from .exceptions import StoreUnavailable
from .outage import breaker, is_cluster_refusal, log_failure
from .purging import deliverer
from .purging.purge import flush_pending, release_later
from .stores.base import Store
from .stores.select import get_store

#: The lookup script reads at most this much of an entry to find the end of its header.
MAX_HEADER_BYTES = 65536

#: First pause between polls while another request renders; grows to POLL_MAX.
POLL_FIRST = 0.01
POLL_MAX = 0.1


def usable_store() -> Store | None:
    """The store, or ``None`` when it must not be used for this request now."""
    deliverer.ensure_started()
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


def render_start() -> int | None:
    """A safe start for a render beginning now: the latest purge clock this process saw,
    asking the store only if it has seen none yet; ``None`` if the cache is unusable."""
    return clock.latest() or current_clock()


def current_clock() -> int | None:
    """The store's purge clock now (one round trip); ``None`` if the cache is unusable."""
    store = usable_store()
    if store is None:
        return None
    try:
        now = store.clock()
    except StoreUnavailable as exc:
        failed("clock", exc)
        return None
    clock.saw(now)
    return now


def lookup(
    store: Store, key: str, lock_token: str = "", lock_ms: int = 0, known_id: str = ""
) -> Lookup | None:
    """Look ``key`` up; ``None`` (and the breaker opened) if the cache failed."""
    try:
        with telemetry.span("pagecache.lookup", {"pagecache.key": key}) as span:
            found = store.lookup(key, lock_token, lock_ms, known_id)
            span.set_attribute("pagecache.status", found.state.value)
    except StoreUnavailable as exc:
        failed("lookup", exc)
        if lock_token:
            # A stalled Redis (DEBUG SLEEP, a paused process) runs the lookup once it wakes,
            # after we gave up on it: the lock may be taken in our name. Release it then.
            release_later(key, lock_token)
        return None
    breaker.succeeded()
    clock.saw(found.clock)
    return found


def save(
    key: str,
    value: bytes,
    timeout: int,
    vary: tuple[str, bytes] | None = None,
    lock_token: str = "",
) -> bool:
    """Store ``value`` (and release the render lock); False (logged) if the cache failed."""
    if not header_fits(key, value):
        release(key, lock_token, uncacheable=True)
        return False
    try:
        with telemetry.span(
            "pagecache.store", {"pagecache.key": key, "pagecache.bytes": len(value)}
        ):
            get_store().save(key, value, timeout, vary, lock_token)
    except StoreUnavailable as exc:
        failed("store", exc)
        if lock_token:
            # The release rode on the failed store: without it, every request for this key
            # would wait for the lock until LOCK_TIMEOUT. Release it once the cache answers.
            release_later(key, lock_token)
        return False
    dictionary_worker.stored(key, value, timeout)  # sampled, maybe recompressed, off this path
    return True


def header_fits(key: str, value: bytes) -> bool:
    """Whether the lookup script will find the end of the entry's header (a page with very
    many tags may not fit); logged when it will not."""
    if value.find(b"\n", 0, MAX_HEADER_BYTES) != -1:
        return True
    log_failure(
        "header", "pagecache: not storing %s: its tags exceed %d bytes", key, MAX_HEADER_BYTES
    )
    return False


def release(key: str, lock_token: str, *, uncacheable: bool) -> None:
    """Give up the render lock; ``uncacheable`` leaves the hit-for-miss marker for one TTL."""
    if not lock_token:
        return
    try:
        get_store().release(key, lock_token, settings.TTL * 1000 if uncacheable else 0)
    except StoreUnavailable as exc:
        failed("release", exc)
        release_later(key, lock_token)


#: Lock tokens only need to be unique among the requests holding locks: a random
#: per-process prefix and a counter, without a system call per request. Forked workers
#: (gunicorn --preload) draw a new prefix.
_token_prefix = secrets.token_hex(8)
_token_counter = itertools.count()


def _new_token_prefix() -> None:
    global _token_prefix
    _token_prefix = secrets.token_hex(8)


os.register_at_fork(after_in_child=_new_token_prefix)


def next_token() -> str:
    return f"{_token_prefix}{next(_token_counter)}"


def obtain(key: str, *, lock: bool = True) -> Outcome:
    """Serve, wait or render: apply the single-flight rule (:func:`flow.decide`) to ``key``."""
    store = usable_store()
    if store is None:
        return NO_CACHE
    token = next_token() if lock else ""
    lock_ms = int(settings.LOCK_TIMEOUT * 1000)
    deadline = time.monotonic() + settings.LOCK_TIMEOUT
    pause = POLL_FIRST
    while True:
        known = decoded(key)
        found = lookup(store, key, token, lock_ms, known[0] if known else "")
        if found is None:
            return NO_CACHE
        stored = None if found.state is State.VARY else decode(key, found, known)
        action = flow.decide(found, stored, waited_enough=time.monotonic() >= deadline)
        if action is not Action.WAIT:
            return flow.outcome(action, key, found, stored, token)
        _pause(pause)
        pause = min(pause * 1.5, POLL_MAX)


def _pause(seconds: float) -> None:
    """Wait between polls for another request's render (a seam for concurrency tests)."""
    time.sleep(seconds)


#: Entry key -> (content id, decoded entry): the entries this process decoded last. Each
#: hit is still checked in Redis; when the stored content id is the one held here, Redis
#: sends no body and nothing is decoded. Bounded by total body size.
_decoded: dict[str, tuple[str, entries.Entry]] = {}
_decoded_bytes = 0
DECODED_LIMIT_BYTES = 16 * 1024 * 1024


def decoded(key: str) -> tuple[str, entries.Entry] | None:
    """The entry this process last decoded for ``key``, with its content id."""
    return _decoded.get(key)


def decode(
    key: str, found: Lookup, known: tuple[str, entries.Entry] | None, *, fetch: bool = True
) -> entries.Entry | None:
    """The entry a lookup found: ``known`` if Redis left the body out (same content id),
    else the body decoded (and remembered). A dictionary the body needs is fetched first
    if this process lacks it (unless not ``fetch``: the async driver fetched it already);
    one that cannot be had makes it a miss."""
    global _decoded_bytes
    if found.value is None:
        # Redis left the body out: only because our copy has the current content id.
        if known is not None and found.entry_id and known[0] == found.entry_id:
            return known[1]
        return None
    stored = entries.loads(found.value, dictionary.needed_by(found.value, fetch=fetch))
    if stored is not None and found.entry_id:
        if _decoded_bytes + len(stored.body) > DECODED_LIMIT_BYTES:
            forget_decoded()
        _decoded[key] = (found.entry_id, stored)
        _decoded_bytes += len(stored.body)
    return stored


@on_reload
def forget_decoded() -> None:
    global _decoded_bytes
    _decoded.clear()
    _decoded_bytes = 0


def failed(action: str, exc: Exception) -> None:
    breaker.failed()
    if is_cluster_refusal(str(exc)):
        log_failure(
            "cluster",
            "pagecache: nothing is cached: CACHES[%r] points at a Redis Cluster node through a "
            "single-server client (%s). Use BACKEND 'pagecache.backends.RedisClusterCache' "
            "(docs/scaling.md).",
            settings.CACHE,
            exc,
            level=logging.ERROR,
        )
        return
    log_failure("store", "pagecache: cache %s failed, serving uncached: %s", action, exc)
