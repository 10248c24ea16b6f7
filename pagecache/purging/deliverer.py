"""The background deliverer: one daemon thread per process that finishes what faults left.

It does two things, off the request path:

* while this process holds undelivered purges, unreleased render locks or purges a
  request's read path delivered but did not settle, it works on them every
  :data:`RETRY_INTERVAL` (so a lock whose release failed is gone moments after the cache
  answers again, and nobody waits for it until ``LOCK_TIMEOUT``);
* every :data:`POLL_INTERVAL` it looks for recorded purges in the database
  (:mod:`pagecache.purging.outbox`) — those of a process that died, or could not reach the cache —
  and delivers them. Only one process per interval looks: each takes a turn with a short
  ``SET NX`` in the cache, so a hundred workers cost the database two cheap queries a
  second, and a hit never queries the database at all.

The thread starts with the first use of the cache in a process (and again in a forked
child). Under uWSGI, threads need ``enable-threads``.
"""

from __future__ import annotations

import logging
import os
import random
import threading
import time

from django.db import DatabaseError, connections

from ..conf import settings
from ..core import keys
from ..exceptions import StoreUnavailable
from ..outage import log_failure
from ..stores.select import get_store
from . import outbox, purge

logger = logging.getLogger("pagecache")

#: Seconds between looks for recorded purges (by one process of all, in turn).
POLL_INTERVAL = 0.5
#: Seconds between retries while this process holds undelivered work.
RETRY_INTERVAL = 0.05
THREAD_NAME = "pagecache-deliverer"

#: Jitter for the polls; an instance of its own, so the thread never moves the global
#: random state under an application (or a test framework) that seeds it.
_jitter = random.Random()

_wake = threading.Event()
_thread: threading.Thread | None = None
#: The running thread's own stop signal (a stopped thread's never affects the next one).
_stop: threading.Event | None = None
_start_lock = threading.Lock()


def ensure_started() -> None:
    """Start this process's deliverer if it is not running (one comparison when it is:
    this is on every request's path)."""
    if _thread is None:
        _start()


def _forget_after_fork() -> None:
    # A forked child has no deliverer thread (only the forking thread survives a fork).
    global _thread, _start_lock, _wake
    _thread, _start_lock, _wake = None, threading.Lock(), threading.Event()


os.register_at_fork(after_in_child=_forget_after_fork)


def _start() -> None:
    global _thread, _stop
    with _start_lock:
        if _thread is not None and _thread.is_alive():
            return
        _stop = threading.Event()
        _thread = threading.Thread(target=_run, args=(_stop,), name=THREAD_NAME, daemon=True)
        _thread.start()


def stop(timeout: float = 5.0) -> None:
    """Stop this process's deliverer (tests, and a process about to drop its database);
    the next use of the cache starts a new one."""
    global _thread
    with _start_lock:
        thread, stopping, _thread = _thread, _stop, None
    if thread is None or stopping is None or not thread.is_alive():
        return
    stopping.set()
    _wake.set()
    thread.join(timeout)


def wake() -> None:
    """Work on this process's undelivered work now."""
    thread = _thread
    if thread is None or not thread.is_alive():
        _start()  # never started, or died (it catches everything, but still)
    _wake.set()


def _run(stopping: threading.Event) -> None:
    next_poll = time.monotonic()
    while not stopping.is_set():
        busy = purge.has_pending()
        _wake.wait(RETRY_INTERVAL if busy else POLL_INTERVAL * _jitter.uniform(0.9, 1.1))
        _wake.clear()
        if stopping.is_set():
            return
        try:
            if purge.has_pending():
                purge.flush_pending(blocking=True)
                purge.settle_delivered()
            if time.monotonic() >= next_poll:
                next_poll = time.monotonic() + POLL_INTERVAL
                if _take_turn():
                    deliver_recorded()
        except Exception as exc:  # the thread must survive anything
            log_failure("deliverer", "pagecache: background delivery failed: %r", exc)
        finally:
            # The thread keeps no database connection between rounds (one per process would
            # pile up, and a test database could not be dropped).
            connections.close_all()


def _take_turn() -> bool:
    """Whether this process looks for recorded purges this interval."""
    try:
        return get_store().take_turn(
            keys.deliverer_key(settings.KEY_PREFIX), int(POLL_INTERVAL * 900)
        )
    except StoreUnavailable:
        return False  # nothing can be delivered now anyway


def deliver_recorded() -> int:
    """Deliver every recorded purge now; the number of records delivered.

    Each batch is purged in the cache, then its records are deleted one by one; the
    process whose delete removes a record sends its ``tags_purged``. Raises
    ``StoreUnavailable`` if the cache cannot be reached.
    """
    delivered = 0
    for alias in outbox.aliases():
        try:
            while True:
                batch = outbox.recorded(alias)
                if not batch:
                    break
                purge.send_grouped(get_store(), ((r.tags, r.soft) for r in batch))
                stuck = False
                for item in batch:
                    claimed = outbox.claim([item.record])
                    if claimed:
                        purge.announce(item.tags, item.soft)
                    stuck = stuck or claimed is None
                delivered += len(batch)
                if stuck or len(batch) < outbox.BATCH:
                    break  # delivered; rows that would not delete wait for the next round
        except DatabaseError as exc:
            log_failure(
                f"poll:{alias}",
                "pagecache: cannot read recorded purges from database %r (run migrate?): %s",
                alias,
                exc,
            )
    if delivered:
        logger.info("pagecache: delivered %d recorded purge(s)", delivered)
    return delivered
