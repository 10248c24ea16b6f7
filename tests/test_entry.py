"""Entries round-trip; anything old, new, foreign or corrupt loads as None."""

from __future__ import annotations

import re
import zlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pagecache.core import entry
from pagecache.core.entry import Entry, dumps, loads
from pagecache.core.freshness import State, judge

SAMPLE = Entry(
    status=200,
    reason="OK",
    headers=(("Content-Type", "text/html; charset=utf-8"), ("ETag", '"x"')),
    body=b"<html>" + b"hello " * 1000 + b"</html>",
    tags=("blog.article:42", "blog.article"),
    start=1_795_000_000_000_000,
    ttl=30,
    stale_ttl=15,
)


def test_round_trip_compressed():
    data = dumps(SAMPLE)
    assert re.match(
        rb"PC3 1795000000000000 30000 15000 [0-9a-f]{16} 2 blog.article:42 blog.article\n", data
    )
    assert len(data) < len(SAMPLE.body) // 4  # compressed
    assert loads(data) == SAMPLE


def test_small_bodies_are_not_compressed():
    small = Entry(404, "Not Found", (), b"nope", (), 5, 30, 0)
    data = dumps(small)
    assert data.endswith(b"\n0404 Not Found\r\n\r\nnope")
    assert dumps(small) == data  # the content id is a digest: same content, same id
    assert loads(data) == small


def test_zlib_entries_load():
    data = dumps(SAMPLE)
    header = data.partition(b"\n")[0]
    payload = dumps(SAMPLE, compress_min=10**9).partition(b"\n")[2][1:]
    assert loads(header + b"\nz" + zlib.compress(payload)) == SAMPLE


@pytest.mark.parametrize(
    "data",
    [
        None,
        "PC2 text not bytes",
        b"",
        b"garbage",
        b"PC4 1 2 3 0123456789abcdef 0\n0200 OK\r\n\r\nbody",  # a newer format
        b"PC2 1 2 3 0123456789abcdef\n0200 OK\r\n\r\nbody",  # the older format
        b"PC1 1 2 3\n0200 OK\r\n\r\nbody",  # an older format
        b"PC3 not-a-number 2 3 0123456789abcdef 0\n0200 OK\r\n\r\nbody",
        b"PC3 1 2 3 0123456789abcdef\n0200 OK\r\n\r\nbody",  # no tag count
        b"PC3 1 2 3 0123456789abcdef 2 a\n0200 OK\r\n\r\nbody",  # fewer tags than counted
        b"PC3 5 2 3 0123456789abcdef 0 4 2 a\n0200 OK\r\n\r\nbody",  # short carried group
        b"PC3 5 2 3 0123456789abcdef 0 5 1 a\n0200 OK\r\n\r\nbody",  # carried start not earlier
        b"PC3 5 2 3 0123456789abcdef 0 x 1 a\n0200 OK\r\n\r\nbody",
        b"PC3 1 2 3\n0200 OK\r\n\r\nbody",  # no content id
        b"PC3 1 2 3 short 0\n0200 OK\r\n\r\nbody",  # malformed content id
        b"PC3 1 2 3 0123456789abcdef 0 no newline",
        b"PC3 1 2 3 0123456789abcdef 0\nx200 OK\r\n\r\nbody",  # unknown codec
        b"PC3 1 2 3 0123456789abcdef 0\ns\x00\x01garbage",  # corrupt zstd
        b"PC3 1 2 3 0123456789abcdef 0\nzgarbage",  # corrupt zlib
        b"PC3 1 2 3 0123456789abcdef 0\n0200 OK\r\nno blank line",
        b"PC3 1 2 3 0123456789abcdef 0\n0abc OK\r\n\r\nbody",
        b"PC3 1 2 3 0123456789abcdef 0\n0200 OK\r\nbad header line\r\n\r\nbody",
        b"\x80\x04\x95pickled",
    ],
)
def test_unreadable_values_load_as_none(data):
    assert loads(data) is None


@given(st.binary(max_size=300))
def test_arbitrary_bytes_never_raise(data):
    loads(b"PC3 " + data)
    loads(data)


@given(
    body=st.binary(max_size=3000),
    tags=st.lists(
        st.text(st.characters(blacklist_categories=("Z", "C")), min_size=1, max_size=20),
        max_size=5,
        unique=True,
    ),
    status=st.integers(100, 599),
)
def test_round_trip_property(body, tags, status):
    e = Entry(
        status,
        "Reason Phrase",
        (("X-A", "1"), ("Content-Type", "text/plain")),
        body,
        tuple(tags),
        123,
        30,
        0,
    )
    assert loads(dumps(e)) == e


def test_carried_tags_round_trip_grouped_by_start():
    carried = Entry(
        200, "OK", (), b"page", ("page",), 500, 30, 10, (("x", 300), ("y", 400), ("z", 300))
    )
    data = dumps(carried)
    assert re.match(rb"PC3 500 30000 10000 [0-9a-f]{16} 1 page 300 2 x z 400 1 y\n", data)
    assert loads(data) == Entry(
        200, "OK", (), b"page", ("page",), 500, 30, 10, (("x", 300), ("z", 300), ("y", 400))
    )
    assert loads(data).tag_starts() == {"page": 500, "x": 300, "y": 400, "z": 300}
    assert loads(data).all_tags == ("page", "x", "z", "y")


def test_vary_marker():
    marker = entry.dumps_vary(("accept-language", "cookie"))
    assert entry.loads_vary(marker) == ("accept-language", "cookie")
    assert entry.loads_vary(dumps(SAMPLE)) is None
    assert loads(marker) is None


def verdict(**kw):
    args = {
        "start": 100,
        "tags": ("a", "b"),
        "clock": 120,
        "floor": 50,
        "hard": {},
        "soft": {},
        "ttl_left_ms": 40_000,
        "stale_ms": 30_000,
    }
    args.update(kw)
    return judge(**args)


@pytest.mark.parametrize(
    ("kw", "expected"),
    [
        ({}, State.FRESH),
        ({"hard": {"a": 100}}, State.FRESH),  # purged before the render began
        ({"hard": {"a": 101}}, State.PURGED),  # purged after the render began
        ({"floor": 101}, State.PURGED),  # versions lost: everything older is stale
        ({"floor": 101, "tags": ()}, State.PURGED),
        ({"soft": {"b": 150}}, State.SOFT_PURGED),
        ({"soft": {"b": 150}, "hard": {"a": 150}}, State.PURGED),
        ({"ttl_left_ms": 30_000}, State.STALE),
        ({"ttl_left_ms": 30_001}, State.FRESH),
        ({"clock": 99}, State.UNREADABLE),  # a start this clock never handed out
        ({"clock": None}, State.FRESH),
        # Carried tags are judged against the start of the part that carried them.
        ({"carried": (("c", 80),), "hard": {"c": 90}}, State.PURGED),
        ({"carried": (("c", 80),), "hard": {"c": 80}}, State.FRESH),
        ({"carried": (("c", 80),), "soft": {"c": 90}}, State.SOFT_PURGED),
        ({"carried": (("c", 80),), "floor": 90}, State.PURGED),  # floor vs earliest start
        ({"carried": (("c", 80),), "hard": {"a": 90}}, State.FRESH),  # own tags: own start
    ],
)
def test_judge(kw, expected):
    assert verdict(**kw) is expected


@pytest.mark.parametrize("injected", [b"X-A: 1\nSet-Cookie: a=b", b"X-A: 1\rSet-Cookie: a=b"])
def test_line_breaks_inside_headers_are_refused(injected):
    data = b"PC3 1 2 3 0123456789abcdef 0\n0200 OK\r\n" + injected + b"\r\n\r\nbody"
    assert loads(data) is None


def test_concurrent_encoding_and_decoding_in_threads():
    """Threaded servers (gunicorn gthread) decode entries at the same moment."""
    import threading

    body = bytes(range(256)) * 80 + b"<p>page</p>" * 500
    sample = Entry(200, "OK", (("Content-Type", "text/html"),), body, ("a",), 1, 30, 30)
    data = dumps(sample)
    barrier = threading.Barrier(16)
    failures = []

    def work():
        barrier.wait()
        for _ in range(300):
            if loads(data) != sample or loads(dumps(sample)) != sample:
                failures.append(1)

    threads = [threading.Thread(target=work) for _ in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []
