"""Purging the caches in front of Django (``PAGECACHE["PURGERS"]``), off the request path.

Each purge, once the cache has it, is announced once (:func:`pagecache.purging.purge.announce`)
and queued here; a worker thread per process sends it to every purger, with a timeout per
call and retries with backoff. Nothing here ever blocks a request, a hit or the purging
view: the queue is bounded, and a purge that finds it full is logged and dropped (pages
still leave the edge by their ``Cache-Control`` lifetime, see ``CACHE_CONTROL``).
Pages name their tags to each purger's target in its own header (:func:`tag_headers`).
"""

from __future__ import annotations

import logging
import os
import queue
import threading
import time
from collections.abc import Sequence
from typing import Any

from django.utils.module_loading import import_string

from ..conf import on_reload, settings
from ..outage import log_failure
from ..purgers.base import Purger, PurgerError, purged_tags

logger = logging.getLogger("pagecache")

#: Purges waiting for the worker, per process; beyond this they are dropped (logged).
QUEUE_SIZE = 1000
#: Pauses before each retry of a failed call.
BACKOFF = (0.5, 2.0, 5.0)

_lock = threading.Lock()
_loaded: list[Purger] | None = None
_queue: queue.Queue[tuple[tuple[str, ...], bool]] = queue.Queue(QUEUE_SIZE)
_worker: threading.Thread | None = None


def load(item: object) -> Purger:
    """A purger from one ``PURGERS`` item: a dotted path, or ``{"BACKEND", "OPTIONS"}``."""
    backend: object
    options: object
    if isinstance(item, str):
        backend, options = item, {}
    elif isinstance(item, dict):
        backend, options = item.get("BACKEND"), item.get("OPTIONS") or {}
    else:
        raise ValueError(f"a purger is a dotted path or a dict with BACKEND, not {item!r}")
    if not isinstance(backend, str) or not isinstance(options, dict):
        raise ValueError(f"BACKEND must be a dotted path and OPTIONS a dict: {item!r}")
    cls = import_string(backend)
    if not (isinstance(cls, type) and issubclass(cls, Purger)):
        raise ValueError(f"{backend} is not a pagecache.purgers.Purger")
    return cls(**options)


def purgers() -> list[Purger]:
    """The configured purgers (one that cannot be built is logged and left out; ``manage.py
    check`` reports it as ``pagecache.E006``)."""
    global _loaded
    with _lock:
        if _loaded is None:
            _loaded = []
            for item in settings.PURGERS:
                try:
                    _loaded.append(load(item))
                except Exception as exc:
                    logger.error("pagecache: PURGERS item %r is unusable: %s", item, exc)
        return _loaded


@on_reload
def _forget() -> None:
    global _loaded
    with _lock:
        _loaded = None


def tag_headers(tags: Sequence[str]) -> list[tuple[str, str]]:
    """The headers a page carries so that each purger's target can purge it by tag."""
    out: dict[str, str] = {}
    for purger in purgers():
        if purger.tag_header and purger.tag_header not in out:
            out[purger.tag_header] = purger.header_value([purger.encode_tag(t) for t in tags])
    return list(out.items())


def enqueue(tags: Sequence[str], soft: bool) -> None:
    """Queue a completed purge for every purger; never blocks."""
    if not purgers():
        return
    _ensure_worker()
    try:
        _queue.put_nowait((tuple(tags), soft))
    except queue.Full:
        log_failure(
            "purgers-full",
            "pagecache: %d purges are waiting for the purgers; dropped one of %d tags",
            QUEUE_SIZE,
            len(tags),
            level=logging.ERROR,
        )


def flush(timeout: float = 30.0) -> bool:
    """Wait until every queued purge was sent (or given up on); False on timeout."""
    done = _queue.all_tasks_done
    with done:
        return done.wait_for(lambda: _queue.unfinished_tasks == 0, timeout)


def _ensure_worker() -> None:
    global _worker
    with _lock:
        if _worker is not None and _worker.is_alive():
            return
        _worker = threading.Thread(target=_work, name="pagecache-purgers", daemon=True)
        _worker.start()


def _work() -> None:
    while True:
        tags, soft = _queue.get()
        try:
            for purger in purgers():
                try:
                    send(purger, tags, soft)
                except Exception:  # one purger's bug: the others still get the purge
                    logger.exception("pagecache: %r failed", purger)
        finally:
            _queue.task_done()


def send(purger: Purger, tags: Sequence[str], soft: bool, sleep: Any = time.sleep) -> bool:
    """Send one purge to ``purger`` (every batch; retries with backoff); False if a batch
    was given up on (logged)."""
    ok = True
    for batch in purger.batches(purged_tags(purger.encode_tag(t) for t in tags)):
        for attempt in range(purger.retries + 1):
            try:
                purger.purge_batch(batch, soft)
                break
            except PurgerError as exc:
                if attempt == purger.retries:
                    ok = False
                    log_failure(
                        f"purger:{type(purger).__name__}",
                        "pagecache: %r could not purge %d tags after %d attempts: %s",
                        purger,
                        len(batch),
                        attempt + 1,
                        exc,
                        level=logging.ERROR,
                    )
                else:
                    sleep(BACKOFF[min(attempt, len(BACKOFF) - 1)])
    return ok


def _after_fork() -> None:
    # A forked worker process starts with no worker thread and a queue of its own.
    global _queue, _worker, _lock
    _lock = threading.Lock()
    _queue = queue.Queue(QUEUE_SIZE)
    _worker = None


os.register_at_fork(after_in_child=_after_fork)
