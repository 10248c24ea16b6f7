"""pagecache.checks: each check fires on its bad input with its id, and is silent otherwise."""

from __future__ import annotations

from io import StringIO

import pytest
from django.conf import settings as django_settings
from django.core.checks import Error
from django.core.checks import Warning as CheckWarning
from django.core.management import call_command
from django.core.management.base import SystemCheckError
from django.test import override_settings

from pagecache import checks

ALL_CHECKS = [
    checks.check_setting_types,
    checks.check_unknown_settings,
    checks.check_cache_alias,
    checks.check_middleware_first,
    checks.check_cache_is_shared,
    checks.check_vary_on_request,
]

REDIS_CACHES = {
    "default": {"BACKEND": "django_redis.cache.RedisCache", "LOCATION": "redis://127.0.0.1:1/0"},
    "pages": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": "redis://127.0.0.1:1/0",
    },
    "local": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"},
}
MIDDLEWARE_FIRST = [
    "pagecache.middleware.PageCacheMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "django.middleware.common.CommonMiddleware",
]


def run_all():
    return [message for check in ALL_CHECKS for message in check(None)]


@pytest.mark.parametrize(
    "pagecache",
    [
        None,
        {},
        {"TTL": 10, "CACHE": "pages", "TAG_HEADER": "Cache-Tag", "MODELS": ["testapp.Article"]},
        {"STATUS_HEADER": None, "BYPASS_COOKIES": ["sessionid", "csrftoken"]},
    ],
)
def test_good_config_is_silent(pagecache):
    with override_settings(CACHES=REDIS_CACHES, MIDDLEWARE=MIDDLEWARE_FIRST, PAGECACHE=pagecache):
        assert run_all() == []


def test_no_pagecache_middleware_is_fine():
    with override_settings(CACHES=REDIS_CACHES, MIDDLEWARE=MIDDLEWARE_FIRST[1:]):
        assert checks.check_middleware_first(None) == []


@pytest.mark.parametrize(
    ("pagecache", "key"),
    [
        ({"TTL": "30"}, "TTL"),
        ({"ANONYMOUS_ONLY": 1}, "ANONYMOUS_ONLY"),
        ({"STATUS_CODES": [200, "404"]}, "STATUS_CODES"),
        ({"MODELS": ["article"]}, "MODELS"),
        ({"CACHE": 3}, "CACHE"),
        ("not a dict", "PAGECACHE"),
    ],
)
def test_e001_ill_typed_value(pagecache, key):
    with override_settings(CACHES=REDIS_CACHES, PAGECACHE=pagecache):
        messages = checks.check_setting_types(None)
        assert [m.id for m in messages] == [checks.E001.id] == ["pagecache.E001"]
        assert isinstance(messages[0], Error)
        assert key in messages[0].msg
        assert messages[0].hint
        assert checks.check_unknown_settings(None) == []


def test_e001_reports_every_bad_key():
    with override_settings(CACHES=REDIS_CACHES, PAGECACHE={"TTL": "x", "STALE_TTL": -1}):
        messages = checks.check_setting_types(None)
    assert [m.id for m in messages] == ["pagecache.E001", "pagecache.E001"]
    assert "TTL" in messages[0].msg and "STALE_TTL" in messages[1].msg


def test_e002_unknown_key():
    with override_settings(CACHES=REDIS_CACHES, PAGECACHE={"TIMEOUT": 30, "TTL": 5}):
        messages = checks.check_unknown_settings(None)
        assert [m.id for m in messages] == [checks.E002.id] == ["pagecache.E002"]
        assert "TIMEOUT" in messages[0].msg
        assert "TTL" in messages[0].hint  # lists the known keys
        assert checks.check_setting_types(None) == []


@pytest.mark.parametrize("pagecache", [None, {"CACHE": "pages"}])
def test_e003_missing_cache_alias(pagecache):
    caches = {"other": REDIS_CACHES["default"]}
    with override_settings(CACHES=caches, PAGECACHE=pagecache):
        messages = checks.check_cache_alias(None)
    assert [m.id for m in messages] == [checks.E003.id] == ["pagecache.E003"]
    alias = (pagecache or {}).get("CACHE", "default")
    assert repr(alias) in messages[0].msg
    assert "'other'" in messages[0].hint


@pytest.mark.parametrize("caches", [None, [], {"default": None}])
def test_bad_caches_setting_does_not_crash(caches, monkeypatch):
    # Set directly: override_settings would make Django itself choke on it first.
    monkeypatch.setattr(django_settings, "CACHES", caches)
    ids = [m.id for m in checks.check_cache_alias(None)]
    assert ids == ([] if isinstance(caches, dict) else ["pagecache.E003"])
    assert checks.check_cache_is_shared(None) == []


@pytest.mark.parametrize(
    ("path", "problem"),
    [
        ("tests.pages_urls.no_such_function", "does not define"),
        ("tests.pages_urls.RENDERS", "not callable"),
    ],
)
def test_e005_vary_on_request_not_a_callable(path, problem):
    good = "tests.pages_urls.time_zone_of"
    with override_settings(PAGECACHE={"VARY_ON_REQUEST": [good, path]}):
        (message,) = checks.check_vary_on_request()
    assert message.id == "pagecache.E005"
    assert path in message.msg and problem in message.msg


def test_w001_middleware_not_first():
    middleware = [MIDDLEWARE_FIRST[1], MIDDLEWARE_FIRST[0], MIDDLEWARE_FIRST[2]]
    with override_settings(CACHES=REDIS_CACHES, MIDDLEWARE=middleware):
        messages = checks.check_middleware_first(None)
    assert [m.id for m in messages] == [checks.W001.id] == ["pagecache.W001"]
    assert isinstance(messages[0], CheckWarning)
    assert "position 1" in messages[0].msg


@pytest.mark.parametrize(("pagecache", "alias"), [({"CACHE": "local"}, "local"), (None, "default")])
def test_w002_locmem(pagecache, alias):
    caches = dict(REDIS_CACHES)
    if alias == "default":
        caches["default"] = REDIS_CACHES["local"]
    with override_settings(CACHES=caches, PAGECACHE=pagecache):
        messages = checks.check_cache_is_shared(None)
    assert [m.id for m in messages] == [checks.W002.id] == ["pagecache.W002"]
    assert repr(alias) in messages[0].msg
    assert messages[0].hint


@pytest.mark.parametrize(
    "pagecache", [1, "x", [], {"CACHE": None}, {1: 2}, {"MODELS": [None]}, {"STATUS_CODES": None}]
)
@pytest.mark.parametrize("middleware", [None, "pagecache.middleware.PageCacheMiddleware", ()])
def test_bad_input_never_crashes(pagecache, middleware, monkeypatch):
    monkeypatch.setattr(django_settings, "PAGECACHE", pagecache, raising=False)
    monkeypatch.setattr(django_settings, "MIDDLEWARE", middleware)
    messages = run_all()
    assert all(m.id.startswith("pagecache.") for m in messages)


def test_manage_py_check_good_config():
    out = StringIO()
    # The session's CACHES (django-redis) and the pagecache middleware first: no warnings.
    middleware = ["pagecache.middleware.PageCacheMiddleware", *django_settings.MIDDLEWARE]
    with override_settings(MIDDLEWARE=middleware, PAGECACHE={"TTL": 10}):
        call_command("check", fail_level="WARNING", stdout=out, stderr=StringIO())
    assert "pagecache" not in out.getvalue()


def test_manage_py_check_reports_ids():
    with (
        override_settings(PAGECACHE={"CACHE": "missing", "TTLL": 1}),
        pytest.raises(SystemCheckError) as excinfo,
    ):
        call_command("check", stdout=StringIO(), stderr=StringIO())
    assert "pagecache.E002" in str(excinfo.value)
    assert "pagecache.E003" in str(excinfo.value)


@pytest.mark.parametrize(
    ("item", "problem"),
    [
        ("mysite.purgers.Missing", "No module named"),
        ({"BACKEND": "pagecache.purgers.VarnishXkeyPurger"}, "SERVERS"),
        (
            {
                "BACKEND": "pagecache.purgers.VarnishXkeyPurger",
                "OPTIONS": {"SERVERS": ["http://v:6081"], "TIMEOUT": 0},
            },
            "TIMEOUT",
        ),
        ({"BACKEND": "pagecache.conf.Option"}, "not a pagecache.purgers.Purger"),
    ],
)
def test_a_purger_that_cannot_be_built_is_e006(item, problem):
    with override_settings(PAGECACHE={"PURGERS": [item]}):
        messages = checks.check_purgers()
    assert [m.id for m in messages] == ["pagecache.E006"]
    assert problem in messages[0].msg


def test_working_purgers_pass_the_check():
    item = {"BACKEND": "pagecache.purgers.VarnishXkeyPurger",
            "OPTIONS": {"SERVERS": ["http://127.0.0.1:6081"]}}  # fmt: skip
    with override_settings(PAGECACHE={"PURGERS": [item]}):
        assert checks.check_purgers() == []


def test_a_key_prefix_that_is_a_cluster_hash_tag_is_warned_about():
    from django.test import override_settings

    from pagecache import checks

    with override_settings(PAGECACHE={"KEY_PREFIX": "{pc}"}):
        assert [m.id for m in checks.check_key_prefix()] == ["pagecache.W003"]
    with override_settings(PAGECACHE={"KEY_PREFIX": "site-a"}):
        assert checks.check_key_prefix() == []
