"""The soak's checker on hand-made responses and purges (no services)."""

from __future__ import annotations

from tests.soak import checker
from tests.soak.checker import (
    ERROR,
    HARD,
    SERVER_ERROR,
    SLOW,
    SOFT_HIT,
    UNDELIVERED,
    Phase,
    Purge,
    Response,
    classify,
)

PHASE = Phase("baseline", 0.0, 100.0)


def get(
    t_start: float,
    *shown: tuple[int, int],
    x_cache: str = "MISS",
    status: int | None = 200,
    took: float = 0.01,
    url: str = "/",
) -> Response:
    return Response(t_start, t_start + took, url, status, x_cache, tuple(shown))


def post(t_start: float, *, status: int | None = 200, took: float = 0.01) -> Response:
    return Response(t_start, t_start + took, "/write/1/", status, "BYPASS", method="POST")


def hard(pk: int, version: int, t_done: float, **kwargs: object) -> Purge:
    return Purge(pk, version, False, t_done, **kwargs)  # type: ignore[arg-type]


def soft(pk: int, version: int, t_done: float, **kwargs: object) -> Purge:
    return Purge(pk, version, True, t_done, **kwargs)  # type: ignore[arg-type]


def kinds(
    responses: list[Response], purges: list[Purge], phases: list[Phase] | None = None
) -> list[tuple[str, int | None, int | None]]:
    result = classify(responses, purges, phases or [PHASE])
    return [(v.kind, v.pk, v.shown_version) for v in result.violations]


# -- hard purges -------------------------------------------------------------------------------


def test_older_version_after_a_hard_purge_is_a_hard_violation_whatever_x_cache() -> None:
    purges = [hard(1, 5, t_done=10.0)]
    for x_cache in ("HIT", "MISS", "STALE", "BYPASS"):
        assert kinds([get(10.5, (1, 4), x_cache=x_cache)], purges) == [(HARD, 1, 4)]


def test_a_response_that_started_before_the_purge_completed_may_show_the_old_version() -> None:
    purges = [hard(1, 5, t_done=10.0)]
    assert kinds([get(9.9, (1, 4), x_cache="HIT", took=1.5)], purges) == []
    # Started at the very moment the purge completed: not after it.
    assert kinds([get(10.0, (1, 4), x_cache="HIT")], purges) == []


def test_the_purged_version_or_a_newer_one_is_fine() -> None:
    purges = [hard(1, 5, t_done=10.0)]
    assert kinds([get(11.0, (1, 5)), get(11.0, (1, 6), x_cache="HIT")], purges) == []


def test_only_the_purged_article_is_judged() -> None:
    purges = [hard(1, 5, t_done=10.0)]
    assert kinds([get(11.0, (2, 1), (3, 1), (1, 5))], purges) == []
    assert kinds([get(11.0, (2, 1), (1, 4), (3, 1))], purges) == [(HARD, 1, 4)]


def test_the_newest_purge_completed_before_the_start_counts() -> None:
    purges = [hard(1, 5, t_done=10.0), hard(1, 6, t_done=20.0)]
    assert kinds([get(15.0, (1, 5))], purges) == []
    result = classify([get(21.0, (1, 5))], purges, [PHASE])
    (violation,) = result.violations
    assert violation.kind == HARD
    assert violation.purge == purges[1]


def test_purges_completing_out_of_version_order_use_the_highest_version() -> None:
    # The purger's purge of v7 returns before the writer's response for v6 arrives.
    purges = [hard(1, 7, t_done=10.0), hard(1, 6, t_done=12.0, source="writer")]
    result = classify([get(13.0, (1, 6))], purges, [PHASE])
    (violation,) = result.violations
    assert violation.purge == purges[0]


def test_each_article_of_a_response_is_judged_once() -> None:
    purges = [hard(1, 5, t_done=10.0), soft(1, 5, t_done=10.0), hard(2, 3, t_done=10.0)]
    assert kinds([get(11.0, (1, 4), (2, 2), x_cache="HIT")], purges) == [
        (HARD, 1, 4),
        (HARD, 2, 2),
    ]


# -- soft purges -------------------------------------------------------------------------------


def test_pre_soft_purge_content_may_be_stale_miss_or_bypass_but_never_a_hit() -> None:
    purges = [soft(1, 5, t_done=10.0)]
    for x_cache in ("STALE", "MISS", "BYPASS"):
        assert kinds([get(11.0, (1, 4), x_cache=x_cache)], purges) == []
    assert kinds([get(11.0, (1, 4), x_cache="HIT")], purges) == [(SOFT_HIT, 1, 4)]
    assert kinds([get(9.0, (1, 4), x_cache="HIT")], purges) == []


def test_a_soft_purge_after_a_hard_one_still_judges_hits_by_the_higher_version() -> None:
    purges = [hard(1, 5, t_done=10.0), soft(1, 6, t_done=20.0)]
    assert kinds([get(21.0, (1, 5), x_cache="HIT")], purges) == [(SOFT_HIT, 1, 5)]
    assert kinds([get(21.0, (1, 5), x_cache="STALE")], purges) == []
    assert kinds([get(21.0, (1, 4), x_cache="STALE")], purges) == [(HARD, 1, 4)]


# -- undelivered purges ------------------------------------------------------------------------


def test_an_undelivered_purge_must_take_effect_within_the_grace_after_redis_is_back() -> None:
    phase = Phase("undelivered", 0.0, 100.0, kills=True, outages=((9.0, 12.0),))
    purges = [hard(1, 5, t_done=10.0, delivered=False, source="canary")]
    # Not judged as delivered at t_done, and not before Redis is back plus the grace.
    assert kinds([get(10.5, (1, 4), x_cache="HIT")], purges, [phase]) == []
    assert kinds([get(12.9, (1, 4), x_cache="HIT")], purges, [phase]) == []
    result = classify([get(13.1, (1, 4), x_cache="BYPASS")], purges, [phase])
    (violation,) = result.violations
    assert (violation.kind, violation.deadline) == (UNDELIVERED, 13.0)
    assert kinds([get(13.1, (1, 5))], purges, [phase]) == []


def test_an_undelivered_purge_outside_an_outage_is_due_a_grace_after_it_failed() -> None:
    purges = [hard(1, 5, t_done=10.0, delivered=False)]
    assert kinds([get(10.9, (1, 4))], purges) == []
    assert kinds([get(11.1, (1, 4))], purges) == [(UNDELIVERED, 1, 4)]


def test_an_undelivered_soft_purge_only_forbids_hits() -> None:
    phase = Phase("p", 0.0, 100.0, outages=((9.0, 12.0),))
    purges = [soft(1, 5, t_done=10.0, delivered=False)]
    assert kinds([get(14.0, (1, 4), x_cache="STALE")], purges, [phase]) == []
    assert kinds([get(14.0, (1, 4), x_cache="HIT")], purges, [phase]) == [(UNDELIVERED, 1, 4)]


def test_redis_back_is_the_end_of_the_outage_the_purge_failed_in() -> None:
    outages = [(1.0, 2.0), (5.0, 8.0)]
    assert checker.redis_back(6.0, outages) == 8.0
    assert checker.redis_back(3.0, outages) == 3.0
    assert checker.redis_back(8.5, outages) == 8.5


# -- errors, latency, dropped requests ---------------------------------------------------------


def test_5xx_is_a_violation_in_every_phase_and_for_writes_too() -> None:
    kill = Phase("kill", 50.0, 100.0, kills=True)
    responses = [get(1.0, status=500), get(60.0, status=502), post(2.0, status=503)]
    assert [k for k, _, _ in kinds(responses, [], [PHASE, kill])] == [SERVER_ERROR] * 3


def test_slow_requests_are_violations_outside_the_kill_phases() -> None:
    kill = Phase("kill", 50.0, 100.0, kills=True)
    phases = [Phase("baseline", 0.0, 50.0), kill]
    responses = [get(1.0, took=2.5), post(2.0, took=3.0), get(3.0, took=1.9), get(60.0, took=9.0)]
    assert kinds(responses, [], phases) == [(SLOW, None, None), (SLOW, None, None)]


def test_no_response_is_dropped_in_kill_phases_and_an_error_elsewhere() -> None:
    phases = [Phase("baseline", 0.0, 50.0), Phase("kill", 50.0, 100.0, kills=True)]
    responses = [get(1.0, status=None), get(60.0, status=None), get(61.0, status=None)]
    result = classify(responses, [], phases)
    assert [v.kind for v in result.violations] == [ERROR]
    assert result.dropped == {"kill": 2}


def test_a_writes_body_is_not_judged_as_content() -> None:
    response = Response(11.0, 11.1, "/write/1/", 200, "BYPASS", ((1, 4),), method="POST")
    assert kinds([response], [hard(1, 5, t_done=10.0)]) == []


def test_responses_belong_to_the_phase_they_started_in() -> None:
    phases = [Phase("a", 0.0, 10.0), Phase("b", 10.0, 20.0)]
    result = classify([get(9.0, (1, 1)), get(10.0, (1, 1))], [hard(1, 2, 5.0)], phases)
    assert [v.phase for v in result.violations] == ["a", "b"]
    assert checker.phase_of(-1.0, phases).name == "a"
    assert checker.phase_of(25.0, phases).name == "b"


# -- parsing and the report --------------------------------------------------------------------


BODY = (
    b'<body data-page="home" data-pid="42" data-read="12.500000">\n<ul>'
    b'<li><span data-pk="1" data-v="3" data-r="10.250000">A</span></li>\n'
    b'<li><span data-pk="2" data-v="7" data-r="12.500000">B</span></li>\n</ul>'
)


def test_parsing_a_page() -> None:
    assert checker.parse_shown(BODY) == ((1, 3), (2, 7))
    assert checker.parse_read_times(BODY) == {1: 10.25, 2: 12.5}
    assert checker.parse_page(BODY) == ("home", 42, 12.5)
    assert checker.parse_shown(b"") == ()
    assert checker.parse_page(b"<p>no</p>") is None


def test_percentile() -> None:
    assert checker.percentile([], 0.5) == 0.0
    values = [float(n) for n in range(1, 101)]
    assert checker.percentile(values, 0.5) == 50.0
    assert checker.percentile(values, 0.99) == 99.0
    assert checker.percentile(values, 1.0) == 100.0


def test_table_and_summary() -> None:
    phases = [
        Phase("1 baseline", 0.0, 10.0, "none"),
        Phase("6 kill", 10.0, 20.0, "SIGKILL", kills=True),
    ]
    purges = [hard(1, 5, t_done=1.0), soft(2, 2, 11.0), hard(1, 6, 12.0, delivered=False)]
    responses = [
        get(2.0, (1, 4), x_cache="HIT", took=0.004),
        get(3.0, (1, 5), took=0.1),
        get(12.0, (2, 1), x_cache="HIT", took=0.002),
        get(13.0, status=None),
        post(14.0, took=0.3),
    ]
    result = classify(responses, purges, phases)
    rows = checker.rows(result)
    assert [row.phase for row in rows] == ["1 baseline", "6 kill", "total"]
    total = rows[-1]
    assert (total.reads, total.writes, total.hits, total.dropped) == (4, 1, 2, 1)
    assert (total.purges_hard, total.purges_soft, total.undelivered) == (2, 1, 1)
    assert total.violations[HARD] == 1 and total.violations[SOFT_HIT] == 1
    assert round(total.write_max_ms) == 300
    table = checker.markdown_table(rows)
    lines = table.splitlines()
    assert len(lines) == 2 + 3
    assert all(line.count("|") == lines[0].count("|") for line in lines)
    assert "**total**" in table
    text = checker.summary(result)
    assert "hard: 1" in text and "soft-hit: 1" in text
    assert "shows article 1 v4, but a hard purge for v5" in text
    assert checker.summary(classify([], [], phases)) == "no violations"
