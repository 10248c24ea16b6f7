"""One freshness rule, written twice (``entry.judge`` and the Lua lookup script): one table
of cases, and generated ones, run through both, which must agree."""

from __future__ import annotations

import time

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pagecache.core.entry import Entry, dumps
from pagecache.core.freshness import State, judge
from pagecache.stores.redis import RedisStore

KEY = "pc:p1:http://rule.test/"
TAGS_KEY = "pc:tags"
STALE_MS = 30_000


def through_lua(client, case: dict) -> State:
    client.delete(KEY, TAGS_KEY, KEY + "|lock")
    fields = {"floor": case["floor"], "clock": case["clock"]}
    fields.update({f"h:{t}": v for t, v in case["hard"].items()})
    fields.update({f"s:{t}": v for t, v in case["soft"].items()})
    client.hset(TAGS_KEY, mapping=fields)
    entry = Entry(
        200, "OK", (), b"body", case["tags"], case["start"], 0, STALE_MS // 1000, case["carried"]
    )
    if case["ttl_left_ms"] < 0:
        client.set(KEY, dumps(entry))  # no expiry
    else:
        client.set(KEY, dumps(entry), px=case["ttl_left_ms"])
    return RedisStore(client, "pc").lookup(KEY).state


def through_python(case: dict) -> State:
    return judge(
        start=case["start"],
        tags=case["tags"],
        carried=case["carried"],
        clock=case["clock"],
        floor=case["floor"],
        hard=case["hard"],
        soft=case["soft"],
        ttl_left_ms=case["ttl_left_ms"],
        stale_ms=STALE_MS,
    )


def case(**changes: object) -> dict:
    base = {
        "start": 100,
        "tags": ("a", "b"),
        "carried": (),
        "clock": 120,
        "floor": 50,
        "hard": {},
        "soft": {},
        "ttl_left_ms": 50_000,
    }
    base.update(changes)
    return base


CASES = {
    "fresh": (case(), State.FRESH),
    "purged before the render began": (case(hard={"a": 100}), State.FRESH),
    "purged after it began": (case(hard={"a": 101}), State.PURGED),
    "tag versions lost": (case(floor=101), State.PURGED),
    "soft-purged": (case(soft={"b": 110}), State.SOFT_PURGED),
    "hard beats soft": (case(soft={"b": 110}, hard={"a": 110}), State.PURGED),
    "past its TTL": (case(ttl_left_ms=20_000), State.STALE),
    "a start the clock never handed out": (case(clock=99), State.UNREADABLE),
    "carried, purged after its part": (case(carried=(("c", 80),), hard={"c": 90}), State.PURGED),
    "carried, purged before its part": (case(carried=(("c", 80),), hard={"c": 80}), State.FRESH),
    "carried, soft-purged": (case(carried=(("c", 80),), soft={"c": 90}), State.SOFT_PURGED),
    "floor above a carried start": (case(carried=(("c", 80),), floor=90), State.PURGED),
    "own tag purged between the starts": (
        case(carried=(("c", 80),), hard={"a": 90}),
        State.FRESH,
    ),
    "carried soft, own hard": (
        case(carried=(("c", 80),), soft={"c": 90}, hard={"b": 101}),
        State.PURGED,
    ),
    "a tag both own and carried: its earlier start": (
        case(carried=(("a", 80),), hard={"a": 90}),
        State.PURGED,
    ),
    "no expiry on the key": (case(ttl_left_ms=-1), State.FRESH),
    "250 tags, the purged one past the first batch of 200": (
        case(tags=tuple(f"t{i}" for i in range(250)), hard={"t249": 110}),
        State.PURGED,
    ),
    "250 tags, none purged after the start": (
        case(tags=tuple(f"t{i}" for i in range(250)), hard={"t249": 90}),
        State.FRESH,
    ),
    "odd characters in tags": (
        case(tags=("blog.article:42", "ü/ß%*[x]", "a'b\"c"), hard={"ü/ß%*[x]": 101}),
        State.PURGED,
    ),
}


@pytest.mark.parametrize(("rule_case", "expected"), CASES.values(), ids=list(CASES))
def test_judge_and_lua_agree_on_each_case(redis_server, rule_case, expected):
    assert through_python(rule_case) is expected
    assert through_lua(redis_server.client(), rule_case) is expected


versions = st.dictionaries(st.sampled_from("abcd"), st.integers(1, 200), max_size=4)


@st.composite
def cases(draw: st.DrawFn) -> dict:
    start = draw(st.integers(10, 200))
    tags = tuple(draw(st.lists(st.sampled_from("ab"), unique=True, max_size=2)))
    carried_tags = draw(st.lists(st.sampled_from("cd"), unique=True, max_size=2))
    carried = tuple((t, draw(st.integers(1, start - 1))) for t in carried_tags)
    return case(
        start=start,
        tags=tags,
        carried=carried,
        clock=draw(st.integers(1, 250)),
        floor=draw(st.integers(1, 200)),
        hard=draw(versions),
        soft=draw(versions),
        ttl_left_ms=draw(st.sampled_from([10_000, 50_000])),
    )


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(rule_case=cases())
def test_judge_and_lua_agree_on_generated_cases(redis_server, rule_case):
    assert through_lua(redis_server.client(), rule_case) is through_python(rule_case)


# -- pruning: freshness.prune and the purge script agree ------------------------------------

PRUNE_KEY = "pc:tags"
LIFE_MS, ALLOWANCE_MS = 10_000, 5_000  # versions older than 15 s may go
ages = st.sampled_from([0.5, 3, 12, 40, 600])  # seconds; none near the 15 s horizon


def _server_now_us(client) -> int:
    seconds, micros = client.time()
    return seconds * 1_000_000 + micros


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    hard=st.dictionaries(st.sampled_from("abcdef"), ages, max_size=6),
    soft=st.dictionaries(st.sampled_from("abcdef"), ages, max_size=6),
    floor_age=st.sampled_from([30, 900]),
)
def test_prune_and_the_purge_script_agree(redis_server, hard, soft, floor_age):
    from pagecache.core.freshness import prune

    client = redis_server.client()
    client.delete(PRUNE_KEY)
    now = _server_now_us(client)
    versions = {f"h:{t}": now - int(age * 1e6) for t, age in hard.items()}
    versions.update({f"s:{t}": now - int(age * 1e6) for t, age in soft.items()})
    floor = now - floor_age * 1_000_000
    client.hset(PRUNE_KEY, mapping={"floor": floor, "clock": now - 100_000, "life": LIFE_MS})
    if versions:
        client.hset(PRUNE_KEY, mapping=versions)
    dropped, new_floor = prune(
        {**versions, "floor": floor}, floor=floor, now_us=now, life_ms=LIFE_MS,
        allowance_ms=ALLOWANCE_MS,
    )  # fmt: skip
    RedisStore(client, "pc", allowance_ms=ALLOWANCE_MS).purge(["fresh-tag"], soft=False)
    left = {
        k.decode(): int(v) for k, v in client.hgetall(PRUNE_KEY).items() if k[:2] in (b"h:", b"s:")
    }
    assert set(versions) - set(left) == set(dropped)
    assert int(client.hget(PRUNE_KEY, "floor")) == new_floor
    assert "h:fresh-tag" in left


def test_tag_state_stays_bounded_and_pruned_versions_condemn_nothing_fresh(redis_server):
    """Distinct tags purged for longer than the longest entry life: the versions hash holds
    only the recent ones, and an entry older than a dropped version is a miss, not fresh."""
    client = redis_server.client()
    store = RedisStore(client, "pc", allowance_ms=0)
    old = Entry(200, "OK", (), b"old", ("gone-0",), store.clock(), 30, 0)
    client.set(KEY, dumps(old), px=60_000)  # outlives the recorded life: pruning must not revive it
    client.hset(PRUNE_KEY, "life", 50)  # entries live 50 ms here
    store.purge(["gone-0"], soft=False)
    assert store.lookup(KEY).state is State.PURGED
    sizes = []
    for batch in range(40):
        store.purge([f"gone-{batch}-{i}" for i in range(250)], soft=batch % 2 == 1)
        sizes.append(client.hlen(PRUNE_KEY))
        time.sleep(0.06)  # the behaviour under test: this batch ages past the 50 ms life
    assert max(sizes) < 1_000  # 10,000 tags purged; at most a few batches are ever kept
    assert client.hget(PRUNE_KEY, "h:gone-0") is None
    assert store.lookup(KEY).state is State.PURGED  # its version went; the floor condemns it
