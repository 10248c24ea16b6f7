"""The store contract (pagecache.stores.base.Store), one suite for every store: the Redis
fast path through django-redis and through Django's RedisCache, the generic store on
LocMem, and the async Redis store (lookups, stores and releases; its purges are the sync
store's, on the same server). The page tests (tests/test_store.py) use them through
the middleware; here each promise of the protocol is checked on its own."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from asgiref.sync import async_to_sync
from django.test import override_settings

from pagecache.core import entry as entries
from pagecache.core.freshness import Lock, State
from pagecache.stores.select import get_async_store, get_store

pytestmark = pytest.mark.django_db

KEY = "pc:p1:http://testserver/contract/"


class AsyncAsSync:
    """The async store behind the sync protocol's lookup/save/release, for one suite."""

    def __init__(self, store: Any) -> None:
        self.store = store

    def __getattr__(self, name: str) -> Callable[..., Any]:
        return async_to_sync(getattr(self.store, name))


@pytest.fixture(
    params=["django-redis", "django-RedisCache", "locmem", "async-redis"],
)
def stores(request) -> Iterator[tuple[Any, Any]]:
    """(the store under test, the sync store that purges for it)."""
    alias = {"django-RedisCache": "djredis", "locmem": "locmem"}.get(request.param, "default")
    with override_settings(PAGECACHE={"CACHE": alias}):
        sync = get_store()
        if request.param == "async-redis":
            async_store = get_async_store()
            assert async_store is not None
            yield AsyncAsSync(async_store), sync
        else:
            yield sync, sync


def entry_at(start: int, tags: tuple[str, ...] = ("t",), body: bytes = b"body") -> bytes:
    return entries.dumps(entries.Entry(200, "OK", (), body, tags, start, 60, 30))


def test_a_missing_key_is_a_miss_and_only_the_first_asker_takes_the_lock(stores):
    store, _ = stores
    first = store.lookup(KEY, "one", 10_000)
    second = store.lookup(KEY, "two", 10_000)
    assert (first.state, first.lock) == (State.MISS, Lock.ACQUIRED)
    assert (second.state, second.lock) == (State.MISS, Lock.HELD)
    assert store.lookup(KEY).lock is Lock.NONE  # no token: no lock asked


def test_a_stored_entry_is_fresh_and_storing_releases_the_lock(stores):
    store, sync = stores
    found = store.lookup(KEY, "one", 10_000)
    store.save(KEY, entry_at(found.clock), 90, lock_token="one")
    hit = store.lookup(KEY, "two", 10_000)
    assert (hit.state, hit.lock) == (State.FRESH, Lock.NONE)
    stored = entries.loads(hit.value)
    assert stored is not None and stored.body == b"body"
    # Storing released the lock: after a purge, the next asker takes it at once.
    sync.purge(["t"], soft=False)
    assert store.lookup(KEY, "two", 10_000).lock is Lock.ACQUIRED


def test_purges_condemn_entries_that_started_before_them(stores):
    store, sync = stores
    start = store.lookup(KEY).clock
    store.save(KEY, entry_at(start, ("t", "u")), 90)
    sync.purge(["u"], soft=True)
    assert store.lookup(KEY).state is State.SOFT_PURGED
    sync.purge(["t"], soft=False)
    assert store.lookup(KEY).state is State.PURGED
    # An entry whose start is the purge's clock (its data read after it) is fresh.
    now = store.lookup(KEY).clock
    store.save(KEY, entry_at(now, ("t", "u")), 90)
    assert store.lookup(KEY).state is State.FRESH
    sync.purge_all()
    assert store.lookup(KEY).state is State.PURGED


def test_a_clock_only_moves_forward(stores):
    store, sync = stores
    before = store.lookup(KEY).clock
    purged_at = sync.purge(["t"], soft=False)
    assert purged_at > before
    assert store.lookup(KEY).clock >= purged_at


def test_an_uncacheable_release_lets_others_render_without_waiting(stores):
    store, _ = stores
    store.lookup(KEY, "one", 10_000)
    store.release(KEY, "one", 60_000)
    assert store.lookup(KEY, "two", 10_000).lock is Lock.PASS


def test_only_the_holder_releases_a_lock(stores):
    store, _ = stores
    store.lookup(KEY, "one", 10_000)
    store.release(KEY, "intruder")
    assert store.lookup(KEY, "two", 10_000).lock is Lock.HELD
    store.release(KEY, "one")
    assert store.lookup(KEY, "two", 10_000).lock is Lock.ACQUIRED


def test_a_vary_marker_is_found_as_vary(stores):
    store, _ = stores
    start = store.lookup(KEY).clock
    variant = KEY + "|v:0123456789abcdef"
    store.save(variant, entry_at(start), 90, vary=(KEY, entries.dumps_vary(["cookie"])))
    found = store.lookup(KEY)
    assert found.state is State.VARY
    assert entries.loads_vary(found.value) == ("cookie",)
    assert store.lookup(variant).state is State.FRESH


def test_a_store_may_leave_out_a_body_the_caller_holds(stores):
    store, _ = stores
    start = store.lookup(KEY).clock
    store.save(KEY, entry_at(start), 90)
    first = store.lookup(KEY)
    again = store.lookup(KEY, known_id=first.entry_id)
    assert again.state is State.FRESH and again.entry_id == first.entry_id
    # Left out only when the ids match; either way what is sent is the entry itself.
    assert again.value is None or again.value == first.value
    assert store.lookup(KEY, known_id="0" * 16).value == first.value


def test_garbage_is_unreadable_never_an_error(stores):
    store, _ = stores
    store.save(KEY, b"PC3 not an entry\n0", 90)
    assert store.lookup(KEY).state is State.UNREADABLE
