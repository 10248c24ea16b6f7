"""The site dictionary in this process: the one new entries are compressed with, and the
ones kept for reading. docs/design.md, "The site dictionary".

On the request path (no I/O but a reader's first fetch of a dictionary it lacks):

* :func:`for_writing` — the dictionary a render compresses its entry with (level 3,
  about 0.1 ms for 20 KB, as without one), or ``None``;
* :func:`needed_by` (sync), :func:`lacking` and :func:`afetch` (async) — the dictionary
  a stored entry names, fetched once and kept (at most
  :data:`~pagecache.core.dictionary.HELD_DICTIONARIES`); one that cannot be had makes
  the entry a miss, never an error.

Which dictionary is current, and training, publishing and recompressing, are
:mod:`pagecache.dictionary_worker`'s: a background thread that calls :func:`adopt`.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections import OrderedDict
from typing import TYPE_CHECKING

from .conf import on_reload, settings
from .core import dictionary as policy
from .core import entry as entries
from .core.compression import FAST_LEVEL, Dictionary, load_dictionary
from .exceptions import StoreUnavailable
from .outage import log_failure
from .stores import dictionaries
from .stores.select import get_store

if TYPE_CHECKING:
    from .stores.dictionaries import DictionaryStore
    from .stores.redis_async import AsyncRedisStore

logger = logging.getLogger("pagecache")

#: What happened, for the benchmark and the tests.
stats: dict[str, int] = dict.fromkeys(
    ("trained", "fetched", "recompressed", "not_smaller", "dropped"), 0
)

_lock = threading.Lock()  # the held dictionaries and what was found missing
_held: OrderedDict[int, Dictionary] = OrderedDict()
_missing: dict[int, float] = {}
#: The site's dictionary as this process last read it, and the dictionary itself.
_current: tuple[policy.Current, Dictionary] | None = None
_shelf: tuple[object, DictionaryStore] | None = None
#: Raised by every reload: work begun before it is dropped, never published.
generation = 0


def for_writing() -> Dictionary | None:
    """The dictionary to compress an entry with now (``None``: plain zstd)."""
    if not settings.COMPRESSION_DICTIONARY:
        return None
    current = _current
    return current[1] if current is not None else None


def current() -> tuple[policy.Current, Dictionary] | None:
    """The site's current dictionary as this process knows it."""
    return _current


def needed_by(value: object, *, fetch: bool = True) -> Dictionary | None:
    """The dictionary ``value`` is compressed with; fetched from the cache if this process
    lacks it (unless not ``fetch``); ``None`` if it needs none or it cannot be had."""
    wanted = entries.wanted_dictionary(value)
    if wanted is None:
        return None
    found = held(wanted)
    if found is not None or not fetch or _recently_missing(wanted):
        return found
    try:
        data = shelf().get(policy.dictionary_key(settings.KEY_PREFIX, wanted))
    except StoreUnavailable as exc:
        _fetch_failed(wanted, exc)
        return None
    return hold_fetched(wanted, data)


def lacking(value: object) -> int | None:
    """The id of a dictionary ``value`` needs and this process lacks (and has not just
    found missing), else ``None``: what the async driver fetches with :func:`afetch`."""
    wanted = entries.wanted_dictionary(value)
    if wanted is None or held(wanted) is not None or _recently_missing(wanted):
        return None
    return wanted


async def afetch(wanted: int, store: AsyncRedisStore) -> None:
    """Fetch dictionary ``wanted`` on the event loop (the sync :func:`needed_by` then
    finds it held, or found missing)."""
    try:
        data = await dictionaries.aget(store, policy.dictionary_key(settings.KEY_PREFIX, wanted))
    except StoreUnavailable as exc:
        _fetch_failed(wanted, exc)
        return
    hold_fetched(wanted, data)


# -- dictionaries held -------------------------------------------------------------------


def held(wanted: int) -> Dictionary | None:
    """Dictionary ``wanted`` if this process holds it."""
    current = _current
    if current is not None and current[1].id == wanted:
        return current[1]
    with _lock:
        found = _held.get(wanted)
        if found is not None:
            _held.move_to_end(wanted)
        return found


def _hold(dictionary: Dictionary) -> None:
    with _lock:
        _held[dictionary.id] = dictionary
        _held.move_to_end(dictionary.id)
        _missing.pop(dictionary.id, None)
        while len(_held) > policy.HELD_DICTIONARIES:
            _held.popitem(last=False)


def hold_fetched(wanted: int, data: bytes | None) -> Dictionary | None:
    """Keep the dictionary fetched as ``wanted``; ``None`` (and not asked for again for a
    moment) if it was not there, or is not that dictionary."""
    found = load_dictionary(data)
    if found is None or found.id != wanted:
        logger.debug("pagecache: dictionary %08x is not in the cache: a miss", wanted)
        with _lock:
            _missing[wanted] = time.monotonic() + policy.MISSING_RETRY_S
        return None
    stats["fetched"] += 1
    _hold(found)
    return found


def adopt(site: policy.Current, found: Dictionary, since: int) -> bool:
    """Write entries with ``found`` from now on (unless settings changed ``since``)."""
    global _current
    found.prepare(FAST_LEVEL)  # digested here, not by the first request that writes
    if since != generation:
        return False
    _hold(found)
    _current = (site, found)
    logger.debug("pagecache: writing entries with dictionary %08x", found.id)
    return True


def _recently_missing(wanted: int) -> bool:
    until = _missing.get(wanted)
    return until is not None and time.monotonic() < until


def _fetch_failed(wanted: int, exc: Exception) -> None:
    log_failure("dictionary", "pagecache: cannot fetch dictionary %08x: %s", wanted, exc)
    with _lock:
        _missing[wanted] = time.monotonic() + policy.MISSING_RETRY_S


def shelf() -> DictionaryStore:
    """The dictionary keys of the pagecache store (raises ``StoreUnavailable``)."""
    global _shelf
    store = get_store()
    known = _shelf
    if known is None or known[0] is not store:
        known = _shelf = (store, dictionaries.dictionaries_for(store))
    return known[1]


@on_reload
def forget() -> None:
    """Forget every dictionary this process holds (settings changed; tests)."""
    global _current, _shelf, generation
    generation += 1
    with _lock:
        _held.clear()
        _missing.clear()
        _current = None
        _shelf = None
    for name in stats:
        stats[name] = 0


def _forget_after_fork() -> None:
    global _lock
    _lock = threading.Lock()  # another thread may have held it at the fork


os.register_at_fork(after_in_child=_forget_after_fork)
