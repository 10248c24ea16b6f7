"""One behaviour suite for every store: django-redis and Django's RedisCache (the Lua fast
path) and LocMem (the generic Django-cache store)."""

from __future__ import annotations

import pytest
from django.test import Client, override_settings

import pagecache
from pagecache.stores.django_cache import DjangoCacheStore
from pagecache.stores.redis import RedisStore
from pagecache.stores.select import get_store

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("pages_site")]


@pytest.fixture(
    params=[("default", RedisStore), ("djredis", RedisStore), ("locmem", DjangoCacheStore)],
    ids=["django-redis", "django-RedisCache", "locmem"],
)
def cache(request):
    alias, kind = request.param
    with override_settings(PAGECACHE={"CACHE": alias}):
        assert isinstance(get_store(), kind)
        yield alias


def test_hit_then_purge(cache):
    client = Client()
    first = client.get("/other/")
    second = client.get("/other/")
    assert (first["X-Cache"], second["X-Cache"]) == ("MISS", "HIT")
    assert second.content == first.content
    pagecache.purge_tags("other")
    after = client.get("/other/")
    assert (after["X-Cache"], after.content) == ("MISS", b"other render 2")
    assert client.get("/other/")["X-Cache"] == "HIT"


def test_soft_purge_serves_stale_while_the_lock_is_held(cache):
    client = Client()
    client.get("/other/")
    client.get("/other/")  # every tag has a version now (the generic store's first use)
    pagecache.purge_tags("other", soft=True)
    store = get_store()
    key = "pc:p1:http://testserver/other/"
    assert store.lookup(key, "someone", 10_000).state.value == "soft-purged"  # takes the lock
    response = client.get("/other/")
    assert (response["X-Cache"], response.content) == ("STALE", b"other render 1")


def test_vary_variants(cache):
    client = Client()
    for lang in ("de", "fr"):
        client.get("/lang/", HTTP_ACCEPT_LANGUAGE=lang)
    de = client.get("/lang/", HTTP_ACCEPT_LANGUAGE="de")
    assert (de["X-Cache"], de.content) == ("HIT", b"lang=de")


def test_garbage_is_a_miss(cache):
    from django.core.cache import caches

    client = Client()
    client.get("/other/")
    store = get_store()
    key = "pc:p1:http://testserver/other/"
    if isinstance(store, RedisStore):
        store.client.set(key, b"PC3 garbage")
    else:
        caches[cache].set(key, (0, b"PC3 garbage"))
    assert client.get("/other/").content == b"other render 2"
