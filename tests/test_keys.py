"""Key strings are pinned: a change of key format must show up as a diff here."""

from __future__ import annotations

from pagecache import keys


def test_page_key_is_readable():
    assert keys.page_key("pc", "https", "example.com", "/blog/", "page=2") == (
        "pc:p1:https://example.com/blog/?page=2"
    )
    assert (
        keys.page_key("pc", "http", "example.com:8000", "/", "") == "pc:p1:http://example.com:8000/"
    )


def test_long_urls_are_bounded_and_distinct():
    a = keys.page_key("pc", "https", "example.com", "/" + "a" * 5000, "")
    b = keys.page_key("pc", "https", "example.com", "/" + "a" * 4999 + "b", "")
    assert len(a) < 200 and len(b) < 200
    assert a != b
    assert a.startswith("pc:p1:https://example.com/aaaa")


def test_variant_key_depends_on_names_and_values():
    base = "pc:p1:https://example.com/"
    de = keys.variant_key(base, ["accept-language"], ["de"])
    fr = keys.variant_key(base, ["accept-language"], ["fr"])
    assert de == "pc:p1:https://example.com/|v:94f2a940adbec829"
    assert de != fr
    assert keys.variant_key(base, ["cookie"], ["de"]) != de


def test_tag_versions_key():
    assert keys.tag_versions_key("pc") == "pc:tags"
