"""``PAGECACHE["STATS"]``: count hits, stale hits, misses, bypasses, stores, render time saved
and purges, per URL name and per fragment name, without a round trip of their own.

Counts collect in this process and ride along with a lookup once a batch is due (64 counts
or a second): the lookup script adds them to the stats hash in the round trip the request
makes anyway, and a busy page's hits add up in the process first. A process that stops
looking things up (idle, or on a generic cache backend) writes what it holds every
:data:`FLUSH_SECONDS` from a background thread. With ``STATS`` off nothing is counted and a
lookup carries nothing. With OpenTelemetry installed, every count is also a metric
(:mod:`pagecache.telemetry`).
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
from collections import Counter

from . import telemetry
from .conf import on_reload, settings
from .core.stats import field_name

#: Counters one lookup carries at most (the rest wait for the next one).
PER_LOOKUP = 32
#: A lookup carries counts once this many were made, or once a second: counts of one page
#: add up in the process, so a busy page costs one HINCRBY per batch, not per hit.
BATCH_EVENTS = 64
BATCH_SECONDS = 1.0
#: Seconds between background writes of counts no lookup carried.
FLUSH_SECONDS = 5.0

_pending: Counter[str] = Counter()
_events = 0
_last_taken = 0.0
_lock = threading.Lock()
_flusher: threading.Thread | None = None
_stop = threading.Event()


def count(scope: str, name: str, event: str, amount: int = 1) -> None:
    """Count ``amount`` of ``event`` for a page or fragment ``name`` (no-op with STATS off)."""
    global _events
    if not settings.STATS or amount <= 0:
        return
    telemetry.counted(scope, name, event, amount)
    with _lock:
        _pending[field_name(scope, name, event)] += amount
        _events += 1
    if _flusher is None:
        _start()


def take(limit: int = PER_LOOKUP, *, now: bool = False) -> list[str | int]:
    """Pending counters for a lookup to carry, as ``[field, amount, ...]`` (at most
    ``limit``), once a batch is due (:data:`BATCH_EVENTS`, :data:`BATCH_SECONDS`) or ``now``;
    removed from the pending set (:func:`give_back` them if the write fails)."""
    global _events, _last_taken
    if not _pending:
        return []
    clock = time.monotonic()
    if not now and _events < BATCH_EVENTS and clock - _last_taken < BATCH_SECONDS:
        return []
    out: list[str | int] = []
    with _lock:
        for name in list(_pending)[:limit]:
            out += [name, _pending.pop(name)]
        _events = 0 if not _pending else _events
        _last_taken = clock
    return out


def give_back(items: list[str | int]) -> None:
    """Counters a failed write took: pending again (a down Redis loses no counts)."""
    with _lock:
        for name, amount in zip(items[::2], items[1::2], strict=True):
            _pending[str(name)] += int(amount)


def pending() -> dict[str, int]:
    with _lock:
        return dict(_pending)


def flush() -> None:
    """Write every pending counter now (one round trip; the background thread's job)."""
    from .exceptions import StoreUnavailable
    from .stores.select import get_store

    while True:
        items = take(500, now=True)
        if not items:
            return
        try:
            get_store().add_counts(items)
        except StoreUnavailable:
            give_back(items)
            return


def _start() -> None:
    global _flusher
    with _lock:
        if _flusher is not None:
            return
        _stop.clear()
        _flusher = threading.Thread(target=_run, name="pagecache-stats", daemon=True)
        _flusher.start()


def _run() -> None:
    while not _stop.wait(FLUSH_SECONDS):
        with contextlib.suppress(Exception):  # a stats write must never end the thread
            flush()


@on_reload
def forget() -> None:
    """Settings changed (another store, STATS off): drop what was counted for the old one."""
    global _flusher
    _stop.set()
    with _lock:
        _pending.clear()
    _flusher = None


def _forget_after_fork() -> None:  # pragma: no cover - runs in forked children
    global _flusher, _lock
    _lock = threading.Lock()
    _pending.clear()
    _flusher = None


os.register_at_fork(after_in_child=_forget_after_fork)
