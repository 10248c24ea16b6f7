"""The site dictionary's background thread: samples what this process stores, trains and
publishes a dictionary, and compresses long-lived entries again.

:func:`stored` is the only call on the request path: the drivers hand it each entry they
stored, and it queues it (never blocks; when the queue is full the entry is left as the
request compressed it). The thread (``pagecache-dictionary``, started by the first store)
works only when this process stores entries, so a process that only reads sends nothing.
For each entry it:

* reads which dictionary the site uses (at most every
  :data:`~pagecache.core.dictionary.REFRESH_S`), adopts it (:func:`pagecache.dictionary.adopt`)
  and keeps it alive in the cache, putting back what the cache lost;
* samples its payload, and trains and publishes a dictionary when
  :func:`~pagecache.core.dictionary.training_due` says so (one process at a time);
* compresses it again at the slow level when
  :func:`~pagecache.core.dictionary.recompress_due` says so, and replaces it only if its
  key still holds the same entry — resting three times as long as it worked.

docs/design.md, "The site dictionary".
"""

from __future__ import annotations

import contextlib
import logging
import os
import queue
import sys
import threading
import time
from typing import TYPE_CHECKING

from . import dictionary
from .conf import on_reload, settings
from .core import dictionary as policy
from .core import entry as entries
from .core.compression import SLOW_LEVEL, Dictionary, train
from .exceptions import StoreUnavailable
from .outage import breaker, log_failure

if TYPE_CHECKING:
    from .stores.dictionaries import DictionaryStore

logger = logging.getLogger("pagecache")

THREAD_NAME = "pagecache-dictionary"
#: Entries waiting for the thread, and the largest value queued (bigger ones are left).
QUEUE_SIZE = 64
QUEUE_MAX_VALUE_BYTES = 256 * 1024
#: How long one process may train before another may try, and the wait after a failure.
TRAINING_TURN_MS = 60_000
TRAINING_RETRY_S = 60.0

Job = tuple[str, bytes, int, int]  # key, value, life in seconds, generation

_queue: queue.Queue[Job | None] = queue.Queue(QUEUE_SIZE)
_work_lock = threading.Lock()  # everything below the request path
_samples = policy.Samples()
_ratio = policy.Ratio()
_refresh_at = 0.0
_train_after = 0.0

_thread: threading.Thread | None = None
#: The running thread's own stop signal (a stopped thread's never affects the next one).
_stop = threading.Event()
_start_lock = threading.Lock()


def stored(key: str, value: bytes, life_s: int) -> None:
    """Hand an entry just stored to the thread (sampled; maybe compressed again)."""
    if not settings.COMPRESSION_DICTIONARY or len(value) > QUEUE_MAX_VALUE_BYTES:
        return
    newline = value.find(b"\n", 0, 65536)
    if value[newline + 1 : newline + 2] not in (b"s", b"d"):
        return  # too small to be compressed: the dictionary has nothing to do with it
    if _thread is None:
        _start()
    try:
        _queue.put_nowait((key, value, life_s, dictionary.generation))
    except queue.Full:
        dictionary.stats["dropped"] += 1


def refresh() -> None:
    """Adopt the dictionary the site uses now; keep it (and its name) alive in the cache,
    putting back what the cache lost."""
    global _refresh_at
    with _work_lock:
        _refresh_at = time.monotonic() + policy.REFRESH_S
        since, prefix, ttl = dictionary.generation, settings.KEY_PREFIX, policy.DICTIONARY_TTL_S
        store = dictionary.shelf()
        site = policy.Current.loads(store.get(policy.current_key(prefix)))
        mine = dictionary.current()
        if site is not None and (mine is None or site.id != mine[1].id):
            found = dictionary.held(site.id) or dictionary.hold_fetched(
                site.id, store.get(policy.dictionary_key(prefix, site.id))
            )
            if found is not None:
                _adopt(site, found, since)
                return
        if mine is None or since != dictionary.generation:
            return
        key = policy.dictionary_key(prefix, mine[1].id)
        if not store.keep(key, ttl):
            store.put(key, mine[1].data, ttl, only_new=True)
        if site is None or site.id != mine[1].id:  # lost, or naming a lost dictionary
            store.put(policy.current_key(prefix), mine[0].dumps(), ttl)
        else:
            store.keep(policy.current_key(prefix), ttl)


def work(key: str, value: bytes, life_s: int, since: int) -> None:
    """Sample an entry this process stored; train if due; compress it again if due."""
    with _work_lock:
        if since != dictionary.generation:
            return
        source = dictionary.held(entries.wanted_dictionary(value) or 0)
        parts = entries.payload_of(value, source)
        if parts is None:
            return
        head, payload = parts
        codec = value[len(head) : len(head) + 1]
        _samples.add(key, payload)
        mine = dictionary.current()
        if mine is not None and source is mine[1]:
            _ratio.add(len(payload), len(value) - len(head) - 1)
        try:
            store = dictionary.shelf()
            _train_if_due(store, since)
        except StoreUnavailable as exc:
            log_failure("dictionary", "pagecache: dictionary work skipped: %s", exc)
            return
        mine = dictionary.current()
        due = policy.recompress_due(life_s, have_dictionary=mine is not None, codec=codec)
        if not due or mine is None or not store.replaces_entries:
            logger.debug("pagecache: not recompressing %s: %s", key, due.reason)
            return
        started = time.perf_counter()
        smaller = entries.with_payload(head, payload, mine[1], SLOW_LEVEL)
        worked = time.perf_counter() - started
        if len(smaller) >= len(value):
            dictionary.stats["not_smaller"] += 1
        elif since == dictionary.generation and store.replace_entry(key, head, smaller):
            dictionary.stats["recompressed"] += 1
    if threading.current_thread() is _thread:
        _stop.wait(policy.pause_after(worked))


def _train_if_due(store: DictionaryStore, since: int) -> None:
    global _train_after
    mine = dictionary.current()
    decision = policy.training_due(
        mine[0] if mine is not None else None,
        samples=len(_samples),
        sample_bytes=_samples.bytes,
        worse_by=_ratio.worse_by(),
        now=time.time(),
    )
    if not decision or time.monotonic() < _train_after:
        return
    prefix, ttl = settings.KEY_PREFIX, policy.DICTIONARY_TTL_S
    _train_after = time.monotonic() + TRAINING_RETRY_S
    if not store.take_turn(policy.training_key(prefix), TRAINING_TURN_MS):
        return  # another process trains; the next refresh adopts its dictionary
    logger.info("pagecache: training a compression dictionary: %s", decision.reason)
    try:
        trained = train(_samples.payloads(), policy.dictionary_size(_samples.bytes))
        if trained is None or since != dictionary.generation:
            return
        key = policy.dictionary_key(prefix, trained.id)
        if not store.put(key, trained.data, ttl, only_new=True) and store.get(key) != trained.data:
            return  # another dictionary has this id: keep the current one
        site = policy.Current(trained.id, len(_samples), int(time.time()))
        store.put(policy.current_key(prefix), site.dumps(), ttl)
        if mine is not None and mine[1].id != trained.id:
            superseded = policy.dictionary_key(prefix, mine[1].id)
            store.keep(superseded, policy.SUPERSEDED_TTL_S)
    finally:
        store.delete(policy.training_key(prefix))
    dictionary.stats["trained"] += 1
    _train_after = 0.0
    _adopt(site, trained, since)


def _adopt(site: policy.Current, found: Dictionary, since: int) -> None:
    global _ratio
    if dictionary.adopt(site, found, since):
        _ratio = policy.Ratio()


def drain() -> None:
    """Do the queued work now, in this thread (the tests and the benchmark)."""
    while True:
        try:
            job = _queue.get_nowait()
        except queue.Empty:
            return
        if job is None:
            continue
        if time.monotonic() >= _refresh_at:
            refresh()
        work(*job)


# -- the thread --------------------------------------------------------------------------


def _start() -> None:
    global _thread, _stop
    with _start_lock:
        if _thread is not None and _thread.is_alive():
            return
        _stop = threading.Event()
        _thread = threading.Thread(target=_run, args=(_stop,), name=THREAD_NAME, daemon=True)
        _thread.start()


def stop(timeout: float = 5.0) -> None:
    """Stop this process's thread (tests); the next store starts a new one."""
    global _thread
    with _start_lock:
        thread, _thread = _thread, None
    if thread is None:
        return
    _stop.set()
    with contextlib.suppress(queue.Full):
        _queue.put_nowait(None)
    thread.join(timeout)


def _run(stopping: threading.Event) -> None:
    if sys.platform.startswith("linux"):  # this thread only (Linux: a thread id is a pid)
        with contextlib.suppress(OSError):
            os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), 10)
    while True:
        job = _queue.get()
        if stopping.is_set():
            return
        if job is None or not settings.COMPRESSION_DICTIONARY or not breaker.allows():
            continue
        try:
            if time.monotonic() >= _refresh_at:
                refresh()
            work(*job)
        except StoreUnavailable as exc:
            log_failure("dictionary", "pagecache: dictionary work skipped: %s", exc)
        except Exception as exc:  # the thread must survive anything
            log_failure("dictionary", "pagecache: dictionary work failed: %r", exc)


@on_reload
def forget() -> None:
    """Forget the samples and the queued entries (settings changed; tests)."""
    global _ratio, _refresh_at, _train_after
    with _work_lock:
        _samples.clear()
        _ratio = policy.Ratio()
        _refresh_at = _train_after = 0.0
    with contextlib.suppress(queue.Empty):
        while True:
            _queue.get_nowait()


def _forget_after_fork() -> None:
    # Only the forking thread survives a fork: a new thread, queue and locks in the child.
    global _thread, _queue, _start_lock, _work_lock
    _thread, _start_lock, _work_lock = None, threading.Lock(), threading.Lock()
    _queue = queue.Queue(QUEUE_SIZE)


os.register_at_fork(after_in_child=_forget_after_fork)
