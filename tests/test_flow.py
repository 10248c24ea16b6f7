"""Single flight as a pure decision (pagecache.core.flow): one table, no store."""

from __future__ import annotations

import pytest

from pagecache.core.entry import Entry
from pagecache.core.flow import Action, decide, outcome
from pagecache.core.freshness import Lock, Lookup, State

WITH_STALE = Entry(200, "OK", (), b"x", (), 1, 10, 5)
NO_STALE = Entry(200, "OK", (), b"x", (), 1, 10, 0)


@pytest.mark.parametrize(
    ("state", "lock", "stored", "waited", "action"),
    [
        (State.FRESH, Lock.NONE, WITH_STALE, False, Action.HIT),
        (State.VARY, Lock.NONE, None, False, Action.VARY),
        # Fresh but this process could not decode it (corrupt): render, never serve.
        (State.FRESH, Lock.ACQUIRED, None, False, Action.RENDER),
        (State.MISS, Lock.ACQUIRED, None, False, Action.RENDER),
        (State.MISS, Lock.HELD, None, False, Action.WAIT),
        (State.MISS, Lock.HELD, None, True, Action.RENDER),  # waited long enough
        (State.MISS, Lock.PASS, None, False, Action.RENDER),  # hit-for-miss: no waiting
        (State.MISS, Lock.NONE, None, False, Action.RENDER),  # no lock asked
        (State.STALE, Lock.HELD, WITH_STALE, False, Action.STALE),
        (State.STALE, Lock.ACQUIRED, WITH_STALE, False, Action.RENDER),  # the one who renders
        (State.SOFT_PURGED, Lock.HELD, WITH_STALE, False, Action.STALE),
        (State.SOFT_PURGED, Lock.HELD, NO_STALE, False, Action.WAIT),  # no stale window
        (State.PURGED, Lock.HELD, WITH_STALE, False, Action.WAIT),  # a hard purge: never served
        (State.UNREADABLE, Lock.HELD, None, False, Action.WAIT),
    ],
)
def test_decide(state, lock, stored, waited, action):
    assert decide(Lookup(state, 7, lock=lock), stored, waited_enough=waited) is action


def test_only_the_request_that_took_the_lock_holds_it():
    took = outcome(Action.RENDER, "k", Lookup(State.MISS, 7, lock=Lock.ACQUIRED), None, "t1")
    waited = outcome(Action.RENDER, "k", Lookup(State.MISS, 7, lock=Lock.HELD), None, "t2")
    assert (took.token, took.start) == ("t1", 7)
    assert (waited.token, waited.start) == ("", 7)
