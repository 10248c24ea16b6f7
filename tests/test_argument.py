"""The pure parts of ``make argument`` (argument/checker.py): what a page shows, and when a
response is older than a completed write. No servers, no database."""

from __future__ import annotations

import doctest

import pytest

from argument import checker, report
from argument.checker import Read, Site, Timeline, Write

SITE = Site(pool={1: "one", 2: "two"}, tags={"rail": 5, "cinema": 6}, hot_tags=frozenset({5}))


def write(kind: str, begin: float, done: float, *facts: tuple[str, int]) -> Write:
    return Write(kind, begin, done, tuple(facts))


def read(start: float, end: float, path: str = "/", **shown: int) -> Read:
    return Read(start, end, path, 200, shown={k.replace("_", ":"): v for k, v in shown.items()})


def test_doctests() -> None:
    for module in (checker, report):
        failures, _ = doctest.testmod(module)
        assert failures == 0, module.__name__


def test_observe_article_page() -> None:
    body = (
        "<title>One [a1 v4]</title><h1>One [a1 v4]</h1>"
        '<a class="chip" href="/tags/rail/">Rail</a> <a class="chip" href="/tags/cinema/">C</a>'
        "<h2>1 comment</h2><li>Two [a2 v2]</li><li>Other [a9 v0]</li>"
    )
    assert checker.observe(SITE, "/articles/one/", body) == {
        "t:1": 4,
        "t:2": 2,
        "m:1:5": 1,
        "c:1": 1,
    }


def test_observe_keeps_the_older_of_two_versions_shown() -> None:
    # The <title> rendered now, the story fragment from the cache: the page is as old as
    # its oldest part.
    body = "<title>One [a1 v5]</title><h1>One [a1 v3]</h1><h2>0 comments</h2>"
    assert checker.observe(SITE, "/articles/one/", body)["t:1"] == 3


def test_observe_topic_page_lists_membership_of_pool_articles() -> None:
    assert checker.observe(SITE, "/tags/rail/", "<h2>Two [a2 v1]</h2>") == {
        "t:2": 1,
        "m:1:5": 0,
        "m:2:5": 1,
    }
    # A topic the writer never touches: only the titles count.
    assert checker.observe(SITE, "/tags/cinema/", "<h2>Two [a2 v1]</h2>") == {"t:2": 1}


def test_observe_home_reads_titles_only() -> None:
    body = "<h2>One [a1 v0]</h2><h2>Two [a2 v7]</h2><h2>1 comment</h2>"
    assert checker.observe(SITE, "/", body) == {"t:1": 0, "t:2": 7}


def test_title_markers_round_trip() -> None:
    title = f"Farmers test new tram line {checker.title_marker(3, 12)}"
    assert checker.MARKER.findall(title) == [("3", "12")]
    assert checker.strip_marker(title) == "Farmers test new tram line"


# -- the staleness rule -----------------------------------------------------------------------

W1 = write("title", 1.0, 1.1, ("t:1", 1))
W2 = write("bulk", 2.0, 2.2, ("t:1", 2))
LINE = Timeline(0, [(W1, 1), (W2, 2)])


@pytest.mark.parametrize(
    ("shown", "start", "end", "missed"),
    [
        (0, 0.5, 0.6, None),  # before any write
        (0, 1.05, 1.2, None),  # W1 in flight when the response started
        (1, 1.05, 1.2, None),  # ... or it already shows W1
        (0, 1.1, 1.3, None),  # W1 done at the very moment it started: not strictly before
        (0, 1.2, 1.3, W1),  # W1 was done before it started
        (1, 1.5, 1.6, None),
        (2, 1.9, 2.1, None),  # W2 began before the response ended: it may show W2
        (1, 2.3, 2.4, W2),
        (0, 2.3, 2.4, W1),  # misses both: the first it misses is W1
        (2, 5.0, 5.1, None),
    ],
)
def test_timeline_judge(shown: int, start: float, end: float, missed: Write | None) -> None:
    assert LINE.judge(shown, start, end) is missed


def test_a_value_from_a_write_that_had_not_begun_is_unexplained() -> None:
    with pytest.raises(ValueError, match="never written"):
        LINE.judge(7, 3.0, 3.1)


def test_membership_toggles_blame_the_write_after_the_value_shown() -> None:
    add = write("m2m-add", 1.0, 1.1, ("m:1:5", 1))
    remove = write("m2m-remove", 2.0, 2.1, ("m:1:5", 0))
    line = Timeline(0, [(add, 1), (remove, 0)])
    assert line.judge(0, 1.5, 1.6) is add  # still not linked after the add
    assert line.judge(1, 3.0, 3.1) is remove  # still linked after the remove
    assert line.judge(0, 3.0, 3.1) is None


def test_judge_and_summarize() -> None:
    add = write("m2m-add", 1.0, 1.1, ("m:1:5", 1))
    race = write("race", 2.0, 2.1, ("t:1", 9))
    comment = write("comment", 2.5, 2.6, ("c:1", 4))
    initial = {"t:1": 0, "m:1:5": 0, "c:1": 3}
    reads = [
        read(0.5, 0.6, "/articles/one/", t_1=0, m_1_5=0, c_1=3),  # fresh
        read(1.5, 1.6, "/tags/rail/", m_1_5=0),  # misses the add, 0.4 s late
        read(3.0, 3.1, "/", t_1=0),  # misses the race, 0.9 s late
        read(3.0, 3.1, "/articles/one/", t_1=0, m_1_5=0, c_1=4),  # misses both
        read(3.0, 3.1, "/articles/two/", t_2=0),  # a key never written: never stale
    ]
    judgement = checker.judge(reads, checker.timelines(initial, [add, race, comment]))
    assert not judgement.unexplained
    summary = checker.summarize(reads, [add, race, comment], judgement, seconds=10.0)
    assert summary.reads == 5
    assert summary.stale_reads == 3
    assert summary.max_window == pytest.approx(1.9)  # the last read missed the add at 1.1
    kinds = {row.kind: row for row in summary.kinds}
    assert (kinds["m2m-add"].stale_reads, kinds["m2m-add"].writes_missed) == (2, 1)
    assert kinds["race"].stale_reads == 2
    assert kinds["race"].max_window == pytest.approx(0.9)
    assert kinds["comment"].stale_reads == 0
    assert kinds["title"].writes == 0
    assert checker.where(judgement) == {
        ("m2m-add", "topic"): 1,
        ("m2m-add", "article"): 1,
        ("race", "home"): 1,
        ("race", "article"): 1,
    }


def test_report_tables() -> None:
    from dataclasses import asdict

    add = write("m2m-add", 1.0, 1.1, ("m:1:5", 1))
    bare = write("bulk-bare", 2.0, 2.1, ("t:1", 4))
    reads = [
        Read(1.5, 1.6, "/tags/rail/", 200, "HIT", 0, {"m:1:5": 0}),
        Read(3.0, 3.1, "/", 200, "MISS", 3, {"t:1": 0}),
    ]
    judgement = checker.judge(reads, checker.timelines({"t:1": 0, "m:1:5": 0}, [add, bare]))
    summary = checker.summarize(reads, [add, bare], judgement, seconds=2.0)
    result = {
        "config": "pagecache",
        "summary": asdict(summary),
        "where": [[k, p, n] for (k, p), n in checker.where(judgement).items()],
        "pages": {"topic": [1, 1], "home": [1, 0]},
        "slots": [{"round": 0, "reads": 1}, {"round": 1, "reads": 1}],
        "other_cpu": 1.0,
    }
    table = report.table([result])
    assert (
        "| pagecache | 1 (1, 1) | 1.50 | 50 % | 50 % HIT, 0 % STALE | 1 (50.00 %) | 0.4 s" in table
    )
    assert "1 (50.00 %) | 0.9 s" in table  # the bare update() column
    kinds = report.kind_table([result])
    assert "| m2m-add | **1** (50.00 %; 1/1 writes; ≤ 0.4 s) |" in kinds
    assert "| comment | \u2013 |" in kinds  # no write of that kind
