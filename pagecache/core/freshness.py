"""Freshness, once: what a lookup can find (:class:`State`), what it learns about the
render lock (:class:`Lock`), its result (:class:`Lookup`), and the rule that decides
(:func:`judge`). The Lua lookup script implements the same rule; ``LUA_CODES`` maps its
integer codes to these states, and tests/test_freshness_rule.py runs one table of cases
through both.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping
from dataclasses import dataclass


class State(enum.Enum):
    """What a lookup found under a key, and what the entry may be used for right now.

    The Lua lookup script returns the same states as integer codes (``LUA_CODES``).
    """

    MISS = "miss"
    FRESH = "fresh"
    #: Past its TTL, inside its stale window.
    STALE = "stale"
    #: A tag was soft-purged after the start it is judged against: usable as stale.
    SOFT_PURGED = "soft-purged"
    #: A tag was purged after its start, or the versions were lost: never usable.
    PURGED = "purged"
    #: Not an entry this version can read, or a start this purge clock never handed out.
    UNREADABLE = "unreadable"
    #: A Vary marker: the entry lives under a variant key.
    VARY = "vary"


#: The lookup script's integer codes for each state.
LUA_CODES: dict[int, State] = {
    0: State.MISS,
    1: State.FRESH,
    2: State.STALE,
    3: State.SOFT_PURGED,
    4: State.UNREADABLE,
    5: State.PURGED,
    6: State.VARY,
}


def judge(
    *,
    start: int,
    tags: Iterable[str],
    carried: Iterable[tuple[str, int]] = (),
    clock: int | None,
    floor: int,
    hard: Mapping[str, int | None],
    soft: Mapping[str, int | None],
    ttl_left_ms: int,
    stale_ms: int,
) -> State:
    """The freshness rule (the Lua lookup script implements the same lines).

    Each tag is judged against the start of the part that carried it (``start`` for
    ``tags``, its own for ``carried``): the entry is purged when the floor is newer than
    any of those starts or a tag's hard version is newer than its start; soft-purged
    likewise for soft versions; otherwise fresh until only its stale window is left of its
    key's time to live. A ``start`` later than ``clock`` was never handed out by this
    clock (a forged entry, or one from before the tag versions were reset): unreadable.

    >>> judge(start=10, tags=["a"], clock=12, floor=1, hard={"a": 11}, soft={},
    ...       ttl_left_ms=5000, stale_ms=1000)
    <State.PURGED: 'purged'>
    >>> judge(start=10, tags=[], carried=[("a", 5)], clock=12, floor=1, hard={"a": 7},
    ...       soft={}, ttl_left_ms=5000, stale_ms=1000)
    <State.PURGED: 'purged'>
    """
    if clock is not None and start > clock:
        return State.UNREADABLE
    judged = [(tag, start) for tag in tags]
    judged.extend(carried)
    earliest = min([start, *(tag_start for _, tag_start in judged)])
    if floor > earliest:
        return State.PURGED
    soft_purged = False
    for tag, tag_start in judged:
        hard_version = hard.get(tag)
        if hard_version is not None and hard_version > tag_start:
            return State.PURGED
        soft_version = soft.get(tag)
        if soft_version is not None and soft_version > tag_start:
            soft_purged = True
    if soft_purged:
        return State.SOFT_PURGED
    # A negative time to live is Redis' "no expiry" (a key written without one): not stale.
    if 0 <= ttl_left_ms <= stale_ms:
        return State.STALE
    return State.FRESH


class Lock(enum.Enum):
    """What a lookup that needs a render learnt about the key's render lock."""

    #: No lock was asked for (or the entry is fresh).
    NONE = 0
    #: This request holds the lock: it renders, stores, and releases.
    ACQUIRED = 1
    #: Another request is rendering this key right now.
    HELD = 2
    #: The last render of this key was not storable: render without waiting (hit-for-miss).
    PASS = 3


@dataclass(frozen=True, slots=True)
class Lookup:
    """The result of one lookup: a state, the raw value when usable, and the purge clock."""

    state: State
    clock: int
    value: bytes | None = None
    ttl_left_ms: int = 0
    lock: Lock = Lock.NONE
    #: The stored payload's content id; with ``value`` None, the caller's copy is current.
    entry_id: str = ""


#: Besides the longest entry life, how long a render may take between reading its start and
#: storing its entry and still be kept (past it, pruning may make the entry a miss): the
#: lock timeout plus this margin, which also absorbs clock skew between cluster nodes.
PRUNE_MARGIN_MS = 5_000


def prune(
    versions: Mapping[str, int], *, floor: int, now_us: int, life_ms: int, allowance_ms: int
) -> tuple[list[str], int]:
    """Which tag versions a purge may drop, and the floor that makes dropping them safe
    (the purge script implements the same lines).

    An entry is judged against a version only while it lives, and it lives at most the
    longest entry life after its render began, plus the render's own duration. Versions
    older than ``now_us - (life_ms + allowance_ms)`` therefore condemn nothing alive. They
    are dropped and the floor is raised to the newest one dropped: an entry whose render
    took longer than the allowance becomes a miss, never fresh again.

    >>> prune({"h:a": 10, "s:b": 1_500, "clock": 1_500}, floor=5, now_us=2_000, life_ms=1,
    ...       allowance_ms=0)
    (['h:a'], 10)
    """
    horizon = now_us - (life_ms + allowance_ms) * 1000
    dropped = [
        field
        for field, version in versions.items()
        if field[:2] in ("h:", "s:") and version <= horizon
    ]
    return dropped, max([floor, *(versions[field] for field in dropped)])
