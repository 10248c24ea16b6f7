"""``purge_tags``: make every page and fragment carrying a tag stale, at once.

A purge is one round trip that stamps each tag with the next value of the store's purge
clock; entries are never scanned or deleted (see docs/design.md for the argument behind
each promise). This module adds what the store cannot know about:

* transactions — inside ``transaction.atomic()`` the purge is sent now *and* again when
  the outermost block commits, so a render that read the old rows between the two is
  purged as well; a record of it is written in the same transaction
  (:mod:`pagecache.purging.outbox`), so a process that dies between the commit and the second
  purge cannot lose it;
* outages — a purge that cannot be delivered after a few quick retries is logged, kept in
  memory (this process re-sends it before it serves anything from the cache again) and
  recorded in the database (any process re-delivers it, see :mod:`pagecache.purging.deliverer`);
* announcing — ``tags_purged`` is sent once per purge, after the data change committed:
  by the caller when its purge got through, otherwise by whoever delivers it later. A
  durable record decides: the delete that removes it announces it.

A request's read path only ever sends pending purges to the cache; deleting their records
and announcing them (database work, receivers) is left to the deliverer thread.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import partial

from django.db import connections

from .. import clock, observe, telemetry
from ..core.tags import normalize_tags
from ..exceptions import PurgeError, StoreUnavailable
from ..outage import breaker, log_failure
from ..signals import tags_purged
from ..stores.base import Store
from ..stores.select import get_store
from . import outbox

logger = logging.getLogger("pagecache")

#: Pauses between delivery attempts: brief, because the caller is usually a request.
RETRY_DELAYS = (0.02, 0.1)


@dataclass(eq=False)
class Purge:
    """One purge on its way to the cache."""

    tags: tuple[str, ...]
    soft: bool
    #: Durable copies to delete once delivered (see :mod:`pagecache.purging.outbox`).
    records: list[outbox.Record] = field(default_factory=list)
    #: Whether it sends ``tags_purged`` (not the first of two purges in a transaction).
    announce: bool = True
    #: Set once its records were claimed and it was announced (guarded by ``_lock``).
    settled: bool = False


_lock = threading.Lock()
#: One flush of the pending list at a time; a request's read path never waits for it.
_flush_lock = threading.Lock()
#: Purges not delivered yet, oldest first.
_pending: list[Purge] = []
#: Render locks whose release failed: (entry key, token). Released when the cache answers.
_releases: list[tuple[str, str]] = []
#: Purges delivered by a request's read path, to be settled by the deliverer.
_unsettled: list[Purge] = []


def _reset_after_fork() -> None:
    # A forked worker starts with none of its parent's work (the parent, or the records,
    # deliver it) and with locks no thread holds.
    global _lock, _flush_lock
    _lock, _flush_lock = threading.Lock(), threading.Lock()
    _pending.clear()
    _releases.clear()
    _unsettled.clear()


os.register_at_fork(after_in_child=_reset_after_fork)


def purge_tags(*tags: object, soft: bool = False, raise_errors: bool = False) -> None:
    """Invalidate every page and fragment carrying any of ``tags``.

    Tags may be strings, model instances or model classes. With ``soft=True`` the entries
    become stale instead of gone. With ``raise_errors=True`` an undeliverable purge raises
    :class:`~pagecache.exceptions.PurgeError` (its tags are still kept and re-sent later).
    """
    names = normalize_tags(tags)
    if not names:
        return
    in_atomic = [c for c in connections.all(initialized_only=True) if c.in_atomic_block]
    if not in_atomic:
        _deliver(Purge(names, soft), raise_errors)
        return
    # Renders that run between now and the commit read the old rows, and their entries
    # start before the purge at commit; renders that began earlier are caught by this one.
    for connection in in_atomic:
        record = outbox.record(connection.alias, names, soft)
        purge = Purge(names, soft, [record] if record else [])
        connection.on_commit(partial(_deliver, purge, False), robust=True)
    _deliver(Purge(names, soft, announce=False), raise_errors)


async def apurge_tags(*tags: object, soft: bool = False, raise_errors: bool = False) -> None:
    """:func:`purge_tags` for async code (an async view, a task): it runs in Django's
    thread for database work, so inside a transaction it joins the transaction's outbox."""
    from asgiref.sync import sync_to_async

    await sync_to_async(purge_tags)(*tags, soft=soft, raise_errors=raise_errors)


def _deliver(purge: Purge, raise_errors: bool) -> None:
    """Send the caller's own purge (retrying briefly), settle it, or keep it for later."""
    with _lock:
        _pending.append(purge)
    # The cache failed within the last second: trying now would only make the caller (a
    # write, usually) wait for timeouts. Keep and record it; the deliverer retries at once.
    attempts = (0.0, *RETRY_DELAYS) if breaker.allows() else ()
    for delay in attempts:
        if delay:
            time.sleep(delay)
        if _send([purge]):
            _settle(purge)
            return
    with _lock:
        if all(p is not purge for p in _pending):
            return  # another thread's flush delivered it meanwhile (the deliverer settles it)
    if purge.announce and not purge.records:
        record = outbox.record(_default_alias(), purge.tags, purge.soft)
        if record is not None:
            purge.records.append(record)
    log_failure(
        "purge",
        "pagecache: purge of %s not delivered; kept, recorded, and re-sent when the cache answers",
        ", ".join(purge.tags),
        level=logging.ERROR,
    )
    _wake_deliverer()
    if raise_errors:
        raise PurgeError(f"purge of {', '.join(purge.tags)} could not be delivered", purge.tags)


def _default_alias() -> str:
    from django.db import router

    from ..models import PurgeRecord

    return router.db_for_write(PurgeRecord) or "default"


def send_grouped(store: Store, purges: Iterable[tuple[Iterable[str], bool]]) -> None:
    """Purge ``(tags, soft)`` pairs in ``store``: one round trip for the hard tags, one for
    the soft ones. Raises ``StoreUnavailable``."""
    purges = list(purges)
    for soft in (False, True):
        tags = tuple(dict.fromkeys(t for names, s in purges if s is soft for t in names))
        if tags:
            attributes = {"pagecache.tags": len(tags), "pagecache.soft": soft}
            with telemetry.span("pagecache.purge", attributes):
                clock.saw(store.purge(tags, soft))
            observe.purged(tags, soft)


def _send(batch: list[Purge]) -> bool:
    """Purge ``batch`` in the cache (no database, no receivers); True if it got there."""
    try:
        send_grouped(get_store(), ((p.tags, p.soft) for p in batch))
    except StoreUnavailable as exc:
        logger.debug("pagecache: purge attempt failed: %s", exc)
        breaker.failed()
        return False
    breaker.succeeded()
    with _lock:
        # Purges pended while we sent stay: they came later and must be sent again.
        _pending[:] = [p for p in _pending if all(p is not sent for sent in batch)]
    return True


def _settle(purge: Purge) -> None:
    """After delivery: delete the purge's records and announce it — once."""
    with _lock:
        if purge.settled:
            return
        purge.settled = True
    # The delete that removes a durable record decides who announces it: another
    # process's deliverer may have delivered the same record already.
    claimed = outbox.claim(purge.records) if purge.records else True
    if purge.announce and claimed:
        announce(purge.tags, purge.soft)


def has_pending() -> bool:
    """Whether purges, lock releases or settlements are waiting."""
    return bool(_pending or _releases or _unsettled)


def flush_pending(*, blocking: bool = False) -> bool:
    """Send remembered purges (and lock releases) now; True when no purge is pending.

    Called before each cache read: a process that could not purge must not serve. On that
    path (``blocking=False``) it never waits for another thread's flush — a busy flush
    means "not yet" — and leaves records and announcements to the deliverer.
    """
    if not _pending and not _releases:
        return True
    if not _flush_lock.acquire(blocking=blocking):
        return False
    try:
        with _lock:
            batch, releases = list(_pending), list(_releases)
        if batch:
            if not _send(batch):
                return False
            with _lock:
                _unsettled.extend(batch)
            _wake_deliverer()
        if releases:
            _release(releases)
    finally:
        _flush_lock.release()
    with _lock:
        return not _pending


def settle_delivered() -> None:
    """Settle the purges a read path delivered (the deliverer thread calls this)."""
    with _lock:
        batch = list(_unsettled)
        del _unsettled[: len(batch)]
    for purge in batch:
        _settle(purge)


def _release(releases: list[tuple[str, str]]) -> None:
    try:
        store = get_store()
        for key, token in releases:
            store.release(key, token)
    except StoreUnavailable as exc:
        logger.debug("pagecache: lock release failed: %s", exc)
        return
    with _lock:
        _releases[:] = [r for r in _releases if r not in releases]


def release_later(key: str, token: str) -> None:
    """Remember a render lock this process could not release; it is released as soon as
    the cache answers again, so nobody waits for it the full ``LOCK_TIMEOUT``."""
    with _lock:
        _releases.append((key, token))
    _wake_deliverer()


def _wake_deliverer() -> None:
    from . import deliverer  # it imports this module

    deliverer.wake()


def announce(tags: tuple[str, ...], soft: bool) -> None:
    """Queue the purge for the purgers (:mod:`pagecache.purging.edge`, off this thread) and
    send ``tags_purged``; a failing receiver is logged, never raised."""
    from . import edge

    edge.enqueue(tags, soft)
    for receiver, result in tags_purged.send_robust(sender=purge_tags, tags=tags, soft=soft):
        if isinstance(result, Exception):
            log_failure(
                f"receiver:{getattr(receiver, '__qualname__', receiver)}",
                "pagecache: tags_purged receiver %r failed: %r",
                receiver,
                result,
            )


def pending_tags() -> dict[str, bool]:
    """The undelivered purges (tag -> soft; a hard purge of a tag wins), for inspection."""
    found: dict[str, bool] = {}
    with _lock:
        for purge in _pending:
            for tag in purge.tags:
                found[tag] = found.get(tag, True) and purge.soft
    return found


def forget_pending() -> None:
    """Drop undelivered purges and releases (tests, and ``manage.py pagecache clear``)."""
    with _lock:
        _pending.clear()
        _releases.clear()
        _unsettled.clear()
