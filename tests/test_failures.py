"""Fail-open (SPEC §9): a dead, slow or garbage-returning cache never breaks a page."""

from __future__ import annotations

import logging
import time

import pytest
from django.test import Client, override_settings

from pagecache import outage
from tests.test_purge import count_round_trips

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("pages_site")]


@pytest.fixture
def server(private_cache):
    return private_cache()


def test_redis_killed_then_restarted(server, monkeypatch):
    monkeypatch.setattr(outage.breaker, "backoff", 0.0)  # don't wait out the back-off
    client = Client()
    client.get("/other/")
    assert client.get("/other/")["X-Cache"] == "HIT"
    server.stop()
    for n in (2, 3, 4):
        response = client.get("/other/")
        assert response.status_code == 200
        assert response.content == f"other render {n}".encode()
        assert response["X-Cache"] == "MISS"
    server.start()
    assert client.get("/other/")["X-Cache"] == "MISS"  # caching resumes by itself...
    assert client.get("/other/")["X-Cache"] == "HIT"  # ...and serves again


def test_backoff_keeps_a_dead_redis_off_the_request_path(server):
    client = Client()
    server.stop()
    client.get("/other/")  # fails once, opens the breaker
    with count_round_trips() as trips:
        for _ in range(5):
            assert client.get("/other/").status_code == 200
    assert trips.count == 0


def test_slow_redis_times_out_and_the_page_renders(server, monkeypatch):
    client = Client()
    client.get("/other/")
    server.pause(3)  # every command now blocks past the 0.3 s socket timeout
    started = time.monotonic()
    response = client.get("/other/")
    assert response.status_code == 200
    assert response.content == b"other render 2"
    assert time.monotonic() - started < 2.5  # bounded by the socket timeout, not the pause


def test_outage_is_logged_once_per_interval_not_per_request(server, caplog):
    server.stop()
    client = Client()
    with caplog.at_level(logging.WARNING, logger="pagecache"):
        for _ in range(20):
            outage.breaker.succeeded()  # force a real attempt on every request
            assert client.get("/other/").status_code == 200
    records = [r for r in caplog.records if r.name == "pagecache"]
    assert len(records) == 1
    assert "serving uncached" in records[0].getMessage()
    assert records[0].exc_info is None  # one line, no traceback


@pytest.mark.parametrize(
    "garbage",
    [
        b"garbage",
        b"PC3 \n",
        b"PC3 1 2 3 tag\n",
        b"PC3 99999999999999999999 0 0 0123456789abcdef 0\n0200 OK\r\n\r\nforged",
        b"PCV \xff\xfe",
        b"\x00" * 100,
    ],
)
def test_garbage_page_value_is_a_miss(client, redis_server, garbage):
    client.get("/other/")
    redis_server.client().set("pc:p1:http://testserver/other/", garbage)
    response = client.get("/other/")
    assert response.status_code == 200
    assert response.content == b"other render 2"
    assert client.get("/other/")["X-Cache"] == "HIT"


def test_wrong_type_under_page_key_is_a_miss(client, redis_server):
    redis_server.client().rpush("pc:p1:http://testserver/other/", "x")
    assert client.get("/other/").status_code == 200
    assert client.get("/other/")["X-Cache"] == "HIT"


@pytest.mark.parametrize("kind", ["string", "list", "bad-fields"])
def test_garbage_tag_versions_never_break_or_resurrect(client, redis_server, kind):
    import pagecache

    raw = redis_server.client()
    client.get("/other/")
    pagecache.purge_tags("unrelated")
    if kind == "string":
        raw.delete("pc:tags")
        raw.set("pc:tags", "garbage")
    elif kind == "list":
        raw.delete("pc:tags")
        raw.rpush("pc:tags", "garbage")
    else:
        raw.hset("pc:tags", mapping={"floor": "x", "clock": "y", "h:other": "z"})
    response = client.get("/other/")
    assert response.status_code == 200
    assert response.content == b"other render 2"  # versions unreadable: never serve the old entry
    client.get("/other/")
    assert client.get("/other/")["X-Cache"] == "HIT"
    pagecache.purge_tags("other")
    assert client.get("/other/")["X-Cache"] == "MISS"


def test_garbage_in_every_pagecache_key_at_once(client, redis_server):
    client.get("/page/")
    client.get("/lang/", HTTP_ACCEPT_LANGUAGE="de")
    raw = redis_server.client()
    for key in raw.scan_iter("pc:*"):
        raw.delete(key)
        raw.set(key, b"\x80garbage")
    for url in ("/page/", "/lang/"):
        response = client.get(url, HTTP_ACCEPT_LANGUAGE="de")
        assert response.status_code == 200
        assert response["X-Cache"] == "MISS"


@override_settings(PAGECACHE={"CACHE": "no-such-alias"})
def test_a_missing_cache_alias_renders_uncached(client):
    for n in (1, 2):
        response = client.get("/other/")
        assert (response.status_code, response.content) == (200, f"other render {n}".encode())
        assert response["X-Cache"] == "MISS"
