"""pagecache.conf: defaults of SPEC §3, and reloading on setting_changed."""

from __future__ import annotations

import logging

import pytest
from django.test import override_settings

from pagecache import conf
from pagecache.conf import settings

DUMMY = "django.core.cache.backends.dummy.DummyCache"
LOCMEM = "django.core.cache.backends.locmem.LocMemCache"

SPEC_DEFAULTS = [
    ("CACHE", "default"),
    ("KEY_PREFIX", "pc"),
    ("TTL", 30),
    ("STALE_TTL", 30),
    ("LOCK_TIMEOUT", 10),
    ("ANONYMOUS_ONLY", True),
    ("BYPASS_COOKIES", ["sessionid", "messages"]),
    ("STATUS_CODES", [200, 203, 300, 301, 308, 404, 410]),
    ("IGNORED_QUERY_PARAMS", ["utm_*", "gclid", "fbclid"]),
    ("MAX_ENTRY_BYTES", 1_048_576),
    ("STATUS_HEADER", "X-Cache"),
    ("TAG_HEADER", None),
    ("MODELS", []),
]


def _plain(value: object) -> object:
    """Compare containers by content: tuples and frozensets become sorted lists."""
    if isinstance(value, frozenset | set):
        return sorted(value)
    if isinstance(value, tuple):
        return list(value)
    return value


def test_every_spec_key_has_a_default():
    assert {key for key, _ in SPEC_DEFAULTS} <= set(conf.OPTIONS)


@pytest.mark.parametrize(("key", "default"), SPEC_DEFAULTS)
def test_default(key, default):
    assert _plain(getattr(settings, key)) == default


@override_settings(PAGECACHE={})
@pytest.mark.parametrize(("key", "default"), SPEC_DEFAULTS)
def test_default_with_empty_dict(key, default):
    assert _plain(getattr(settings, key)) == default


def test_bypass_cookies_follows_session_cookie_name():
    with override_settings(SESSION_COOKIE_NAME="sid"):
        assert list(settings.BYPASS_COOKIES) == ["sid", "messages"]
    assert list(settings.BYPASS_COOKIES) == ["sessionid", "messages"]


def test_override_settings_takes_effect_immediately():
    assert settings.TTL == 30
    with override_settings(PAGECACHE={"TTL": 5, "KEY_PREFIX": "other", "TAG_HEADER": "Cache-Tag"}):
        assert settings.TTL == 5
        assert settings.KEY_PREFIX == "other"
        assert settings.TAG_HEADER == "Cache-Tag"
        assert settings.STALE_TTL == 30  # keys left out keep their defaults
    assert settings.TTL == 30
    assert settings.KEY_PREFIX == "pc"
    assert settings.TAG_HEADER is None


def test_nested_overrides_unwind():
    with override_settings(PAGECACHE={"TTL": 5}):
        with override_settings(PAGECACHE={"TTL": 7}):
            assert settings.TTL == 7
        assert settings.TTL == 5
    assert settings.TTL == 30


@pytest.mark.parametrize(
    ("key", "bad"),
    [
        ("TTL", "30"),
        ("TTL", -1),
        ("TTL", True),
        ("STALE_TTL", 1.5),
        ("ANONYMOUS_ONLY", "yes"),
        ("STATUS_CODES", [200, "404"]),
        ("BYPASS_COOKIES", "sessionid"),
        ("KEY_PREFIX", ""),
        ("STATUS_HEADER", 5),
        ("MODELS", ["notamodel"]),
    ],
)
def test_invalid_value_falls_back_to_default(key, bad, caplog):
    default = _plain(getattr(settings, key))
    neighbour = "STALE_TTL" if key == "TTL" else "TTL"
    with (
        caplog.at_level(logging.WARNING, logger="pagecache"),
        override_settings(PAGECACHE={key: bad, neighbour: 12}),
    ):
        assert _plain(getattr(settings, key)) == default
        assert getattr(settings, neighbour) == 12  # the valid key next to it still applies
    assert key in caplog.text


def test_unknown_key_is_ignored_at_runtime():
    with override_settings(PAGECACHE={"TTLL": 5, "TTL": 9}):
        assert settings.TTL == 9


def test_caches_override_runs_reload_hooks():
    calls = []
    hook = conf.on_reload(lambda: calls.append(settings.CACHE))
    try:
        with override_settings(CACHES={"default": {"BACKEND": DUMMY}}):
            assert calls  # fired on enable ...
        assert len(calls) >= 2  # ... and on disable
    finally:
        conf._reload_hooks.remove(hook)


def test_caches_override_reloads_settings():
    with override_settings(PAGECACHE={"CACHE": "locmem"}):
        settings.TTL  # noqa: B018 - load once
        assert settings.CACHE == "locmem"
        conf.settings.__dict__["TTL"] = 999  # a stale derived value ...
        with override_settings(
            CACHES={"default": {"BACKEND": DUMMY}, "locmem": {"BACKEND": LOCMEM}}
        ):
            assert settings.TTL == 30  # ... is re-read after CACHES changes
            assert settings.CACHE == "locmem"


def test_validate_reports_problems_by_key():
    problems = conf.validate({"TTL": "x", "NOPE": 1})
    assert {(p.key, p.unknown) for p in problems} == {("TTL", False), ("NOPE", True)}
    assert conf.validate({"TTL": 5}) == []
    assert conf.validate(None) == []
