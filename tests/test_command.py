"""manage.py pagecache purge|clear|inspect: effects, output and error paths."""

from __future__ import annotations

import re
from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import Client, override_settings

from tests.pages_urls import MIDDLEWARE, RENDERS

pytestmark = pytest.mark.django_db


def run(*args):
    out = StringIO()
    call_command("pagecache", *args, stdout=out)
    return out.getvalue()


@pytest.fixture
def pages():
    RENDERS.clear()
    with override_settings(ROOT_URLCONF="tests.pages_urls", MIDDLEWARE=MIDDLEWARE):
        yield Client()


def test_purge_purges_pages(pages):
    pages.get("/other/")
    assert run("purge", "other") == "Purged 1 tag(s): other\n"
    assert pages.get("/other/")["X-Cache"] == "MISS"


def test_purge_accepts_model_labels_in_any_case(pages, redis_server):
    from tests.testapp.models import Article

    article = Article.objects.create(title="t")
    pages.get(f"/article/{article.pk}/")
    out = run("purge", f"testapp.Article:{article.pk}", "testapp.Article", "Not.AModel:1")
    assert out == f"Purged 3 tag(s): testapp.article:{article.pk} testapp.article Not.AModel:1\n"
    assert pages.get(f"/article/{article.pk}/")["X-Cache"] == "MISS"


def test_soft_purge(pages):
    pages.get("/other/")
    assert run("purge", "--soft", "other") == "Soft-purged 1 tag(s): other\n"


def test_purge_rejects_a_bad_tag():
    with pytest.raises(CommandError, match="contains whitespace"):
        run("purge", "two words")


def test_purge_fails_loudly_when_redis_is_down(private_cache):
    server = private_cache()
    server.stop()
    with pytest.raises(CommandError, match="Not purged"):
        run("purge", "x")


def test_purge_needs_a_tag():
    with pytest.raises(CommandError, match=r"tags|TAG"):
        run("purge")


def test_clear_removes_only_pagecache_keys(pages, redis_server):
    raw = redis_server.client()
    raw.set("someone-else:key", "keep")
    pages.get("/other/")
    pages.get("/page/")
    out = run("clear")
    assert out.startswith("Removed ") and out.endswith(" key(s) under pc:\n")
    assert not list(raw.scan_iter("pc:*"))
    assert raw.get("someone-else:key") == b"keep"
    assert pages.get("/other/")["X-Cache"] == "MISS"
    raw.delete("someone-else:key")


def test_clear_with_glob_characters_in_the_prefix_removes_only_its_own_keys(pages, redis_server):
    raw = redis_server.client()
    raw.set("px:other-app", "keep")  # matched by the unescaped pattern "p?:*"
    with override_settings(PAGECACHE={"KEY_PREFIX": "p?"}):
        pages.get("/other/")
        assert list(raw.scan_iter("p\\?:*"))
        run("clear")
        assert not list(raw.scan_iter("p\\?:*"))
    assert raw.get("px:other-app") == b"keep"
    raw.delete("px:other-app")


def test_clear_on_a_backend_without_key_listing(pages):
    with override_settings(PAGECACHE={"CACHE": "locmem"}):
        pages.get("/other/")
        assert pages.get("/other/")["X-Cache"] == "HIT"
        assert "stale" in run("clear")
        assert pages.get("/other/")["X-Cache"] == "MISS"


def test_inspect_shows_key_state_tags_age_ttl_size(pages):
    pages.get("/page/?tag=blog.article:42")
    out = run("inspect", "http://testserver/page/?tag=blog.article:42&utm_source=x")
    lines = dict(line.split(":", 1) for line in out.strip().splitlines())
    assert lines["key"].strip() == "pc:p1:http://testserver/page/?tag=blog.article%3A42"
    assert lines["state"].strip() == "fresh"
    assert lines["status"].strip() == "200 OK"
    assert lines["tags"].strip() == "page blog.article:42"
    assert lines["age"].strip() in ("0 s", "1 s")
    assert re.match(r"(29|30) s fresh, then up to 30 s stale", lines["ttl left"].strip())
    assert "bytes stored" in lines["size"]


def test_inspect_a_purged_and_a_missing_page(pages):
    pages.get("/other/")
    run("purge", "other")
    assert "state:    purged" in run("inspect", "http://testserver/other/")
    assert "state:    not cached" in run("inspect", "http://testserver/nothing/")


def test_inspect_a_page_with_vary(pages):
    pages.get("/lang/", HTTP_ACCEPT_LANGUAGE="de")
    out = run("inspect", "http://testserver/lang/", "-H", "Accept-Language: de")
    assert "vary:     accept-language" in out
    assert "state:    fresh" in out
    assert "state:    not cached" in run(
        "inspect", "http://testserver/lang/", "-H", "Accept-Language: fr"
    )


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["inspect", "/relative/"], "must be absolute"),
        (["inspect", "ftp://x/"], "must be absolute"),
        (["inspect", "http://x/", "-H", "no colon"], "Name: value"),
    ],
)
def test_inspect_errors(args, message):
    with pytest.raises(CommandError, match=message):
        run(*args)


def test_unreachable_cache_is_a_clear_error(private_cache):
    server = private_cache()
    server.stop()
    with pytest.raises(CommandError, match="unreachable"):
        run("inspect", "http://testserver/")
    with pytest.raises(CommandError, match="unreachable"):
        run("clear")


def test_help_texts():
    import subprocess
    import sys

    for sub in ("purge", "clear", "inspect"):
        result = subprocess.run(
            [sys.executable, "-m", "django", "pagecache", sub, "--help"],
            capture_output=True,
            text=True,
            env={"DJANGO_SETTINGS_MODULE": "tests.settings", "PATH": "/usr/bin:/bin"},
            check=True,
        )
        assert f"pagecache {sub}" in result.stdout
