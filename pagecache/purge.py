"""``purge_tags``: make every page and fragment carrying a tag stale, at once.

A purge is one round trip that stamps each tag with the next value of the store's purge
clock; entries are never scanned or deleted (see docs/design.md for the argument behind
each promise). This module adds what the store cannot know about:

* transactions — inside ``transaction.atomic()`` the purge is sent now *and* again when
  the outermost block commits, so a render that read the old rows between the two is
  purged as well;
* outages — a purge that cannot be delivered after a few quick retries is logged and
  remembered; :func:`flush_pending` re-sends it before this process serves anything
  from the cache again.
"""

from __future__ import annotations

import logging
import threading
import time
from functools import partial

from django.db import connections

from .exceptions import PurgeError, StoreUnavailable
from .health import log_failure
from .signals import tags_purged
from .store import get_store
from .tags import normalize_tags

logger = logging.getLogger("pagecache")

#: Pauses between delivery attempts: brief, because the caller is usually a request.
RETRY_DELAYS = (0.02, 0.1)

_lock = threading.Lock()
#: Undelivered purges: tag -> (soft, sequence number of the request that pended it).
#: A hard purge of a tag overrides a pending soft one.
_pending: dict[str, tuple[bool, int]] = {}
_sequence = 0


def purge_tags(*tags: object, soft: bool = False, raise_errors: bool = False) -> None:
    """Invalidate every page and fragment carrying any of ``tags``.

    Tags may be strings, model instances or model classes. With ``soft=True`` the entries
    become stale instead of gone. With ``raise_errors=True`` an undeliverable purge raises
    :class:`~pagecache.exceptions.PurgeError` (its tags are still kept and re-sent later).
    """
    names = normalize_tags(tags)
    if not names:
        return
    _deliver(names, soft, raise_errors)
    # Purge again when the outermost transaction commits: renders that ran between now and
    # the commit read the old rows, and their entries start before this second purge.
    for connection in connections.all(initialized_only=True):
        if connection.in_atomic_block:
            connection.on_commit(partial(_deliver, names, soft, False), robust=True)


def _deliver(tags: tuple[str, ...], soft: bool, raise_errors: bool) -> None:
    global _sequence
    with _lock:
        _sequence += 1
        for tag in tags:
            # Hard wins: remembering a tag as soft must never weaken a pending hard purge.
            was_soft = _pending.get(tag, (True, 0))[0]
            _pending[tag] = (was_soft and soft, _sequence)
    if _send_pending():
        return
    log_failure(
        "purge",
        "pagecache: purge of %s not delivered; kept and re-sent before the next hit",
        ", ".join(tags),
        level=logging.ERROR,
    )
    if raise_errors:
        raise PurgeError(f"purge of {', '.join(tags)} could not be delivered", tags)


def _send_pending() -> bool:
    """Try to deliver every pending purge, retrying briefly; True when none is left."""
    for delay in (0.0, *RETRY_DELAYS):
        if delay:
            time.sleep(delay)
        if flush_pending():
            return True
    return False


def flush_pending() -> bool:
    """Deliver remembered purges now; True when nothing is pending any more.

    Called before each cache read: a process that could not purge must not serve.
    """
    if not _pending:
        return True
    with _lock:
        batch = dict(_pending)
    try:
        store = get_store()
        for soft in (False, True):
            tags = tuple(tag for tag, (is_soft, _) in batch.items() if is_soft is soft)
            if tags:
                store.purge(tags, soft)
                _announce(tags, soft)
    except StoreUnavailable as exc:
        logger.debug("pagecache: purge attempt failed: %s", exc)
        return False
    with _lock:
        for tag, sent in batch.items():
            # A tag pended again while we sent must be sent again: that purge came later.
            if _pending.get(tag) == sent:
                del _pending[tag]
        return not _pending


def _announce(tags: tuple[str, ...], soft: bool) -> None:
    # A failing receiver (a CDN call, say) must not turn a delivered purge into an error.
    for receiver, result in tags_purged.send_robust(sender=purge_tags, tags=tags, soft=soft):
        if isinstance(result, Exception):
            log_failure(
                f"receiver:{getattr(receiver, '__qualname__', receiver)}",
                "pagecache: tags_purged receiver %r failed: %r",
                receiver,
                result,
            )


def pending_tags() -> dict[str, bool]:
    """A copy of the undelivered purges (tag -> soft), for inspection and tests."""
    with _lock:
        return {tag: soft for tag, (soft, _) in _pending.items()}


def forget_pending() -> None:
    """Drop undelivered purges (tests, and ``manage.py pagecache clear``)."""
    with _lock:
        _pending.clear()
