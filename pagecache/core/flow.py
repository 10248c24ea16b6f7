"""Single flight as a pure decision: what a request does with what a lookup found.

The drivers (:mod:`pagecache.driver`) loop: look the key up, then :func:`decide`.
``WAIT`` means another request holds the render lock and nothing servable is stored: poll
again, until the lock goes or ``LOCK_TIMEOUT`` has passed. :func:`outcome` turns the
decision into what the page and fragment layers act on.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from . import entry as entries
from .freshness import Lock, Lookup, State


class Action(enum.Enum):
    """What to do with a key."""

    #: Serve the stored entry: fresh.
    HIT = "hit"
    #: Serve the stored entry: stale (its TTL passed inside its stale window, or soft-purged).
    STALE = "stale"
    #: Render (and store, holding the render lock, if this request took it).
    RENDER = "render"
    #: A Vary marker: look up the variant key.
    VARY = "vary"
    #: Another request is rendering: poll again.
    WAIT = "wait"


def decide(found: Lookup, stored: entries.Entry | None, *, waited_enough: bool) -> Action:
    """Serve, wait or render (SPEC §7): one request renders a missing, purged or stale key
    while the others serve what is servable, or wait for its render."""
    if found.state is State.VARY:
        return Action.VARY
    if found.state is State.FRESH and stored is not None:
        return Action.HIT
    if found.lock is Lock.ACQUIRED:
        return Action.RENDER
    if stored is not None and servable_stale(found, stored):
        return Action.STALE
    if found.lock is not Lock.HELD or waited_enough:
        # Nothing to wait for (hit-for-miss marker, no lock asked) or waited long enough.
        return Action.RENDER
    return Action.WAIT


def servable_stale(found: Lookup, stored: entries.Entry) -> bool:
    """Past its TTL inside the stale window, or soft-purged while it has a stale window; a
    hard purge is never served."""
    if found.state is State.STALE:
        return True
    return found.state is State.SOFT_PURGED and stored.stale_ttl > 0


@dataclass(frozen=True, slots=True)
class Outcome:
    """What to do with a key: serve ``entry`` (HIT/STALE), follow a Vary marker, or render."""

    action: Action
    #: The key looked up (where a render lock, if any, is held).
    key: str = ""
    found: Lookup | None = None
    entry: entries.Entry | None = None
    #: RENDER: the purge clock to store the result with; None means "don't store".
    start: int | None = None
    #: RENDER: the render lock this request holds ("" if none).
    token: str = ""


#: Render without the cache: it could not be used.
NO_CACHE = Outcome(Action.RENDER)


def outcome(
    action: Action, key: str, found: Lookup, stored: entries.Entry | None, token: str
) -> Outcome:
    """The :class:`Outcome` of a decision (never ``WAIT``) for a lookup made with ``token``."""
    if action in (Action.HIT, Action.STALE):
        return Outcome(action, key, found, stored)
    if action is Action.VARY:
        return Outcome(action, key, found)
    held = token if found.lock is Lock.ACQUIRED else ""
    return Outcome(Action.RENDER, key, found, start=found.clock, token=held)


@dataclass(frozen=True, slots=True)
class Save:
    """Store ``value`` under ``key`` (and the Vary marker; releasing ``lock_token``)."""

    key: str
    value: bytes
    timeout: int
    vary: tuple[str, bytes] | None
    lock_token: str
    #: (base key, Vary names) to remember once stored.
    remember: tuple[str, tuple[str, ...]] | None = None


@dataclass(frozen=True, slots=True)
class Release:
    """Give up a render lock (leaving the hit-for-miss marker if ``uncacheable``)."""

    key: str
    lock_token: str
    uncacheable: bool


#: What a finished render asks the driver to do, in order.
StoreOps = list[Save | Release]
