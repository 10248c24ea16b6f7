"""Key strings are pinned: a change of key format must show up as a diff here. Keys are
injective (SPEC §4, §8): distinct keyed parts never share a key (properties below)."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from pagecache.core import keys
from pagecache.fragments import vary_token


def test_page_key_is_readable():
    assert keys.page_key("pc", "https", "example.com", "/blog/", "page=2") == (
        "pc:p1:https://example.com/blog/?page=2"
    )
    assert (
        keys.page_key("pc", "http", "example.com:8000", "/", "") == "pc:p1:http://example.com:8000/"
    )
    assert keys.page_key("pc", "http", "example.com", "/b/", "", script_name="/a") == (
        "pc:p1:http://example.com/a|/b/"
    )


def test_long_urls_are_bounded_and_distinct():
    a = keys.page_key("pc", "https", "example.com", "/" + "a" * 5000, "")
    b = keys.page_key("pc", "https", "example.com", "/" + "a" * 4999 + "b", "")
    assert len(a) < 200 and len(b) < 200
    assert a != b
    assert a.startswith("pc:p1h:https://example.com/aaaa")


def test_a_short_url_cannot_spell_a_long_urls_key():
    long = keys.page_key("pc", "https", "example.com", "/" + "a" * 5000, "")
    head_and_digest = long.removeprefix("pc:p1h:https://example.com")
    crafted = keys.page_key("pc", "https", "example.com", head_and_digest, "")
    assert crafted != long


def test_two_splits_of_one_url_have_different_keys():
    assert keys.page_key("pc", "http", "h", "/a/b/", "") != keys.page_key(
        "pc", "http", "h", "/b/", "", script_name="/a"
    )


def test_variant_key_depends_on_names_and_values():
    base = "pc:p1:https://example.com/"
    de = keys.variant_key(base, ["accept-language"], ["de"])
    fr = keys.variant_key(base, ["accept-language"], ["fr"])
    assert de == "pc:p1:https://example.com/|v:c89e3641303ad5f3"
    assert de != fr
    assert keys.variant_key(base, ["cookie"], ["de"]) != de


def test_a_missing_header_and_an_empty_one_are_different_variants():
    base = "pc:p1:https://example.com/"
    assert keys.variant_key(base, ["x-a"], [None]) != keys.variant_key(base, ["x-a"], [""])


def test_vary_on_values_cannot_forge_a_boundary():
    a = keys.fragment_key("pc", "f", ["x\ny", "z"], "d")
    b = keys.fragment_key("pc", "f", ["x", "y\nz"], "d")
    assert a != b
    one = keys.fragment_key("pc", "f", ["1:a"], "d")
    assert one != keys.fragment_key("pc", "f", ["1", "a"], "d")


def test_tag_versions_key():
    assert keys.tag_versions_key("pc") == "pc:tags"


# -- properties ----------------------------------------------------------------------------

text = st.text(max_size=12)
paths = st.text(alphabet="/ab%~|?:", max_size=12).map(lambda p: "/" + p)
requests = st.tuples(
    st.sampled_from(["http", "https"]),
    st.sampled_from(["a.example", "b.example:8000"]),
    paths,
    st.text(alphabet="ab=&%", max_size=8),
    st.sampled_from(["", "/x", "/x/y"]),
)


@given(requests, requests)
def test_distinct_page_requests_never_share_a_key(one, other):
    if one != other:
        from django.utils.encoding import escape_uri_path

        def key(scheme, host, path, query, script):
            return keys.page_key("pc", scheme, host, escape_uri_path(path), query, script)

        assert key(*one) != key(*other)


vary_on = st.lists(st.one_of(text, st.none(), st.integers(), st.booleans()), max_size=4)


@given(vary_on, vary_on)
def test_distinct_vary_on_tuples_never_share_a_fragment_key(one, other):
    # Compared with their types: 1 and True are equal in Python, not in a key.
    if [(type(v), v) for v in one] != [(type(v), v) for v in other]:
        a = keys.fragment_key("pc", "f", [vary_token(v) for v in one], "d")
        b = keys.fragment_key("pc", "f", [vary_token(v) for v in other], "d")
        assert a != b


@given(st.lists(st.one_of(text, st.none()), min_size=1, max_size=3), st.data())
def test_distinct_vary_header_values_never_share_a_variant(values, data):
    same_length = st.lists(st.one_of(text, st.none()), min_size=len(values), max_size=len(values))
    other = data.draw(same_length)
    names = [f"h{i}" for i in range(len(values))]
    if values != other:
        base = "pc:p1:http://h/"
        assert keys.variant_key(base, names, values) != keys.variant_key(base, names, other)
