"""Table-driven tests of the pure policy: no Redis, no database, no request objects."""

from __future__ import annotations

import pytest

from pagecache.core import policy

BYPASS = ("sessionid",)


def eligibility(method="GET", authorization=False, cookies=(), anonymous_only=True, body=False):
    return policy.request_eligibility(
        method,
        has_body=body,
        has_authorization=authorization,
        cookie_names=set(cookies),
        anonymous_only=anonymous_only,
        bypass_cookies=BYPASS,
    )


@pytest.mark.parametrize(
    ("kwargs", "ok", "reason"),
    [
        ({}, True, ""),
        ({"method": "HEAD"}, True, ""),
        ({"method": "POST"}, False, "method is not GET or HEAD"),
        ({"method": "OPTIONS"}, False, "method is not GET or HEAD"),
        ({"authorization": True}, False, "request has an Authorization header"),
        ({"cookies": ["sessionid"]}, False, "request carries the sessionid cookie"),
        ({"cookies": ["_ga", "theme"]}, True, ""),
        ({"cookies": ["sessionid"], "anonymous_only": False}, True, ""),
        ({"body": True}, False, "request has a body"),
    ],
)
def test_request_eligibility(kwargs, ok, reason):
    decision = eligibility(**kwargs)
    assert bool(decision) is ok
    assert decision.reason == reason


def storability(**overrides):
    facts = {
        "status": 200,
        "streaming": False,
        "sets_cookie": False,
        "cache_control": None,
        "vary": None,
        "body_length": 100,
        "status_codes": {200, 203, 300, 301, 308, 404, 410},
        "max_entry_bytes": 1000,
    }
    facts.update(overrides)
    return policy.response_storability(**facts)


@pytest.mark.parametrize(
    ("overrides", "reason"),
    [
        ({"status": 500}, "status 500 is not in STATUS_CODES"),
        ({"status": 302}, "status 302 is not in STATUS_CODES"),
        ({"streaming": True}, "response is streaming"),
        ({"sets_cookie": True}, "response sets a cookie"),
        ({"cache_control": "private"}, "Cache-Control: private"),
        (
            {"cache_control": "max-age=0, no-cache, no-store, must-revalidate, private"},
            "Cache-Control: private",
        ),
        ({"cache_control": "public, No-Store"}, "Cache-Control: no-store"),
        ({"cache_control": 'no-cache="Set-Cookie"'}, "Cache-Control: no-cache"),
        ({"vary": "Accept-Encoding, *"}, "Vary: * never matches"),
        ({"body_length": 1001}, "body is larger than MAX_ENTRY_BYTES"),
    ],
)
def test_response_not_storable(overrides, reason):
    decision = storability(**overrides)
    assert not decision
    assert decision.reason == reason


@pytest.mark.parametrize(
    "overrides",
    [
        {},
        {"status": 404},
        {"status": 301},
        {"cache_control": "public, max-age=60"},
        {"vary": "Accept-Language"},
        {"body_length": 1000},
    ],
)
def test_response_storable(overrides):
    assert storability(**overrides)


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("", ""),
        ("b=2&a=1", "a=1&b=2"),
        ("a=1&b=2", "a=1&b=2"),
        ("utm_source=x&utm_medium=y&page=2", "page=2"),
        ("gclid=1&fbclid=2", ""),
        ("tag=b&x=1&tag=a", "tag=b&tag=a&x=1"),
        ("q=caf%C3%A9&flag", "flag=&q=caf%C3%A9"),
        ("UTM_source=x", "UTM_source=x"),
    ],
)
def test_normalize_query(query, expected):
    assert policy.normalize_query(query, ["utm_*", "gclid", "fbclid"]) == expected


def test_parse_vary():
    assert policy.parse_vary(None) == ()
    assert policy.parse_vary("Cookie, Accept-Language,cookie") == ("accept-language", "cookie")


ETAG = '"v1"'
DATE = "Mon, 02 Nov 2026 10:00:00 GMT"
EARLIER = "Sun, 01 Nov 2026 10:00:00 GMT"
LATER = "Tue, 03 Nov 2026 10:00:00 GMT"


def conditional(method="GET", status=200, etag=ETAG, last_modified=DATE, **request_headers):
    headers = {
        "if_match": None,
        "if_none_match": None,
        "if_modified_since": None,
        "if_unmodified_since": None,
    }
    headers.update(request_headers)
    return policy.conditional_status(
        method, etag=etag, last_modified=last_modified, status=status, **headers
    )


@pytest.mark.parametrize(
    ("kwargs", "expected"),
    [
        ({}, None),
        ({"if_none_match": ETAG}, 304),
        ({"if_none_match": 'W/"v1"'}, 304),
        ({"if_none_match": '"other", "v1"'}, 304),
        ({"if_none_match": "*"}, 304),
        ({"if_none_match": '"other"'}, None),
        ({"if_none_match": '"other"', "if_modified_since": LATER}, None),
        ({"if_modified_since": DATE}, 304),
        ({"if_modified_since": LATER}, 304),
        ({"if_modified_since": EARLIER}, None),
        ({"if_modified_since": "garbage"}, None),
        ({"if_match": '"other"'}, 412),
        ({"if_match": ETAG}, None),
        ({"if_unmodified_since": EARLIER}, 412),
        ({"if_none_match": ETAG, "method": "HEAD"}, 304),
        ({"if_none_match": ETAG, "status": 404}, None),
        ({"if_none_match": ETAG, "etag": None, "last_modified": None}, None),
        ({"if_modified_since": LATER, "last_modified": None}, None),
    ],
)
def test_conditional_status(kwargs, expected):
    assert conditional(**kwargs) == expected
