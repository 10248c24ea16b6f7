"""One freshness rule, written twice (``entry.judge`` and the Lua lookup script): one table
of cases, and generated ones, run through both, which must agree."""

from __future__ import annotations

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
