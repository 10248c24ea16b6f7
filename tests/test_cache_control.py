"""SPEC §11, downstream caches: a stored page tells browsers and shared caches (Varnish, a
CDN) how long they may keep it — by default, browsers revalidate and shared caches keep it
no longer than pagecache does. A view's own ``Cache-Control`` wins; pages pagecache does
not store get nothing added. tests/test_edge.py checks the same against a real Varnish."""

from __future__ import annotations

import re

import pytest
from django.core.checks import run_checks
from django.test import Client, override_settings

import pagecache
from pagecache.core.policy import downstream_cache_control

pytestmark = pytest.mark.django_db(transaction=True)

AUTO_30 = "max-age=0, s-maxage=30, must-revalidate"


def test_a_stored_page_is_sent_and_replayed_with_its_ttl_for_shared_caches(pages_site):
    miss = Client().get("/page/")
    assert (miss["X-Cache"], miss["Cache-Control"]) == ("MISS", AUTO_30)
    hit = Client().get("/page/")
    # A downstream cache subtracts Age: it keeps the page no longer than pagecache will.
    assert (hit["X-Cache"], hit["Cache-Control"]) == ("HIT", AUTO_30)
    assert int(hit["Age"]) >= 0
    revalidated = Client().get("/page/", HTTP_IF_NONE_MATCH='"page-etag"')
    assert (revalidated.status_code, revalidated["Cache-Control"]) == (304, AUTO_30)


def test_the_ttl_sent_is_the_pages_own(pages_site):
    # @cache_page(ttl=120) stores the page for 120 s: shared caches may keep it as long.
    assert Client().get("/decorated/")["Cache-Control"] == (
        "max-age=0, s-maxage=120, must-revalidate"
    )
    with override_settings(PAGECACHE={"TTL": 7}):
        assert Client().get("/other/")["Cache-Control"] == "max-age=0, s-maxage=7, must-revalidate"


def test_a_views_own_cache_control_wins(pages_site):
    miss, hit = Client().get("/own-cache-control/"), Client().get("/own-cache-control/")
    assert (miss["Cache-Control"], hit["X-Cache"], hit["Cache-Control"]) == (
        "max-age=600",
        "HIT",
        "max-age=600",
    )


@pytest.mark.parametrize("path", ["/cookie/", "/private/", "/exempt/", "/status/500/"])
def test_pages_pagecache_does_not_store_get_nothing_added(pages_site, path):
    response = Client().get(path)
    assert response["X-Cache"] in ("MISS", "BYPASS")
    assert "s-maxage" not in response.get("Cache-Control", "")


def test_logged_in_visitors_get_nothing_added(pages_site):
    client = Client()
    client.cookies["sessionid"] = "x" * 32
    response = client.get("/page/")
    assert response["X-Cache"] == "BYPASS" and not response.has_header("Cache-Control")


def test_a_string_is_sent_as_written_and_none_sends_nothing(pages_site):
    with override_settings(PAGECACHE={"CACHE_CONTROL": "public, max-age=0, s-maxage=86400"}):
        assert Client().get("/page/")["Cache-Control"] == "public, max-age=0, s-maxage=86400"
        assert Client().get("/page/")["Cache-Control"] == "public, max-age=0, s-maxage=86400"
        pagecache.purge_tags("page")
    with override_settings(PAGECACHE={"CACHE_CONTROL": None}):
        assert not Client().get("/page/").has_header("Cache-Control")
        hit = Client().get("/page/")
        assert hit["X-Cache"] == "HIT" and not hit.has_header("Cache-Control")


@pytest.mark.parametrize("bad", ["", "max-age=0\r\nSet-Cookie: x=1", 30, True])
def test_a_bad_cache_control_setting_is_a_check_error(bad):
    with override_settings(PAGECACHE={"CACHE_CONTROL": bad}):
        errors = [e for e in run_checks() if e.id == "pagecache.E001"]
    assert errors and "CACHE_CONTROL" in errors[0].msg


def test_the_rule():
    assert downstream_cache_control("auto", 5) == "max-age=0, s-maxage=5, must-revalidate"
    assert downstream_cache_control(None, 5) is None


def test_a_page_embedding_a_shorter_lived_fragment_sends_the_fragments_ttl(rows_site):
    # The page is stored fresh for no longer than its 5-second fragment (what is left of it,
    # in whole seconds); so is what it tells shared caches.
    header = Client().get("/short/")["Cache-Control"]
    match = re.fullmatch(r"max-age=0, s-maxage=(\d+), must-revalidate", header)
    assert match and 0 < int(match.group(1)) <= 5, header


def test_a_stale_copy_is_never_kept_fresh_downstream(pages_site, redis_server):
    """A soft-purged page served STALE while another request re-renders it has an Age under
    its TTL: with the stored s-maxage a shared cache would keep the pre-purge copy fresh."""
    from pagecache.core import keys

    Client().get("/page/")
    pagecache.purge_tags("page", soft=True)
    key = keys.page_key("pc", "http", "testserver", "/page/", "")
    redis_server.client().set(keys.lock_key(key), b"another-request", px=10_000)
    stale = Client().get("/page/")
    assert stale["X-Cache"] == "STALE"
    assert int(stale["Age"]) < 30
    assert stale["Cache-Control"] == "max-age=0, s-maxage=0, must-revalidate"
