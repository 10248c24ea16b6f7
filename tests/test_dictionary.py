"""The site dictionary against the real Redis (and LocMem, and a one-node Redis Cluster):
trained on the site's own pages, published, fetched by a process that lacks it, entries
compressed again off the request path; an evicted dictionary, old entries, corrupt data
and the setting turned off are clean misses or plain hits, never errors.

The background thread is replaced by :func:`pagecache.dictionary_worker.drain` (the same work, in
the test's thread) except where threads are the point.
"""

from __future__ import annotations

import threading
import time
import zlib
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from asgiref.sync import async_to_sync
from django.test import AsyncClient, Client, override_settings

import pagecache
from pagecache import dictionary, dictionary_worker, driver
from pagecache.core import compression, keys
from pagecache.core import dictionary as policy
from pagecache.core import entry as entries
from pagecache.stores import dictionaries
from pagecache.stores.select import get_store
from tests.conftest import reset_pagecache_state
from tests.redis_harness import RedisServer
from tests.site_pages import MIDDLEWARE, site_page

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(not compression.HAVE_ZSTD, reason="needs zstd"),
]

SITE = {"TTL": 3600}
#: The memory target of SPEC §10 for one cached 20 KB page of a site.
TARGET_BYTES = 3_000


@pytest.fixture
def site(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The pages of tests/site_pages.py behind the middleware, with the dictionary's work
    done by drain() in the test's thread."""
    dictionary_worker.stop()
    monkeypatch.setattr(dictionary_worker, "_start", lambda: None)
    with override_settings(ROOT_URLCONF="tests.site_pages", MIDDLEWARE=MIDDLEWARE, PAGECACHE=SITE):
        yield


def page_key(seed: int) -> str:
    return keys.page_key("pc", "http", "testserver", f"/site/{seed}/", "")


def get(client: Client, seed: int) -> tuple[str, bytes]:
    response = client.get(f"/site/{seed}/")
    assert response.status_code == 200
    return response["X-Cache"], response.content


def train_site(client: Client, seeds: range = range(1000, 1130)) -> compression.Dictionary:
    """Render enough pages for the dictionary to be trained (and trained again on more)."""
    for seed in seeds:
        assert get(client, seed) == ("MISS", site_page(seed))
        if seed % 16 == 0:
            dictionary_worker.drain()
    dictionary_worker.drain()
    writer = dictionary.for_writing()
    assert writer is not None and dictionary.stats["trained"] >= 1
    return writer


def codec_of(value: bytes) -> bytes:
    return value.partition(b"\n")[2][:1]


def as_fresh_process() -> None:
    """Forget every dictionary, sample and decoded entry this process holds, as a new process."""
    dictionary.forget()
    dictionary_worker.forget()
    driver.forget_decoded()


def test_the_site_trains_a_dictionary_and_pages_are_stored_with_it(site, redis_server):
    client = Client()
    writer = train_site(client)
    raw = redis_server.client()
    assert policy.Current.loads(raw.get("pc:zd:current")).id == writer.id
    assert raw.get(f"pc:zd:{writer.id:08x}") == writer.data
    assert 0 < raw.ttl(f"pc:zd:{writer.id:08x}") <= policy.DICTIONARY_TTL_S

    assert get(client, 8) == ("MISS", site_page(8))
    fast = raw.get(page_key(8))
    assert codec_of(fast) == b"d" and entries.wanted_dictionary(fast) == writer.id
    assert get(client, 8) == ("HIT", site_page(8))
    dictionary_worker.drain()  # compressed again at the slow level, under the same header
    slow = raw.get(page_key(8))
    assert len(slow) < len(fast) and slow.partition(b"\n")[0] == fast.partition(b"\n")[0]
    assert dictionary.stats["recompressed"] >= 1
    assert abs(raw.pttl(page_key(8)) - 3_630_000) < 60_000  # its time to live kept
    driver.forget_decoded()
    assert get(client, 8) == ("HIT", site_page(8))


def test_a_cached_site_page_takes_at_most_3_kb_of_redis(site, redis_server):
    client = Client()
    train_site(client)
    assert len(site_page(8)) > 20_000
    get(client, 8)
    dictionary_worker.drain()
    raw = redis_server.client()
    written = [k for k in raw.scan_iter(match="pc:p1:*/site/8/*", count=1000)]
    assert written == [page_key(8).encode()]  # the render lock is gone
    used = raw.memory_usage(page_key(8), samples=0)
    assert used <= TARGET_BYTES, f"{used} bytes ({raw.strlen(page_key(8))} stored)"


def test_a_process_without_the_dictionary_fetches_it_once(site):
    client = Client()
    train_site(client)
    get(client, 8)
    as_fresh_process()
    assert get(client, 8) == ("HIT", site_page(8))
    assert dictionary.stats["fetched"] == 1
    driver.forget_decoded()
    assert get(client, 8) == ("HIT", site_page(8))
    assert dictionary.stats["fetched"] == 1
    # It writes with the site's dictionary after its first look at which one that is.
    assert get(client, 9)[0] == "MISS"
    dictionary_worker.drain()
    assert dictionary.for_writing() is not None


@pytest.mark.parametrize("damage", ["evicted", "garbage"])
def test_an_evicted_or_broken_dictionary_is_a_clean_miss(site, redis_server, damage, caplog):
    client = Client()
    writer = train_site(client)
    get(client, 8)
    raw = redis_server.client()
    if damage == "evicted":
        for key in raw.scan_iter(match="pc:zd:*"):
            raw.delete(key)
    else:
        raw.set(f"pc:zd:{writer.id:08x}", b"\x37\xa4\x30\xec" + b"not a dictionary" * 10)
    as_fresh_process()
    assert get(client, 8) == ("MISS", site_page(8))  # rendered, not an error
    assert codec_of(raw.get(page_key(8))) == b"s"  # stored without a dictionary
    assert get(client, 8) == ("HIT", site_page(8))
    assert not [r for r in caplog.records if r.levelname == "ERROR"]


def test_a_process_holding_the_dictionary_puts_it_back_when_the_cache_lost_it(site, redis_server):
    client = Client()
    writer = train_site(client)
    raw = redis_server.client()
    raw.delete(f"pc:zd:{writer.id:08x}", "pc:zd:current")
    dictionary_worker.refresh()
    assert raw.get(f"pc:zd:{writer.id:08x}") == writer.data
    assert policy.Current.loads(raw.get("pc:zd:current")).id == writer.id


def test_old_entries_stay_readable_while_a_dictionary_is_in_use(site):
    client = Client()
    train_site(client)
    store = get_store()
    start = store.clock()
    for seed, codec in ((20, b"0"), (21, b"z"), (22, b"s")):
        entry = entries.Entry(
            200, "OK", (("Content-Type", "text/html"),), b"old %b " % codec + b"x" * 3000, (),
            start, 3600, 0,
        )  # fmt: skip
        if codec == b"z":
            plain = entries.dumps(entry, compress_min=10**9)
            header, _, rest = plain.partition(b"\n")
            value = header + b"\nz" + zlib.compress(rest[1:])
        else:
            value = entries.dumps(entry, compress_min=10**9 if codec == b"0" else 1024)
        assert codec_of(value) == codec
        store.save(page_key(seed), value, 3600)
        assert get(client, seed) == ("HIT", entry.body)


def test_corrupt_dictionary_entries_are_a_miss(site, redis_server):
    client = Client()
    writer = train_site(client)
    get(client, 8)
    raw = redis_server.client()
    value = raw.get(page_key(8))
    header = value.partition(b"\n")[0]
    frame = writer.compress(b"not an entry payload")
    for broken in (header + b"\nd" + frame, header + b"\nd" + b"\x28\xb5\x2f\xfd" + b"junk" * 9):
        raw.set(page_key(8), broken, px=3_600_000)
        driver.forget_decoded()
        assert get(client, 8) == ("MISS", site_page(8))


def test_the_setting_off_writes_plain_zstd_and_still_reads_dictionary_entries(site, redis_server):
    client = Client()
    train_site(client)
    get(client, 8)
    with override_settings(PAGECACHE={**SITE, "COMPRESSION_DICTIONARY": False}):
        reset_pagecache_state()
        assert dictionary.for_writing() is None
        assert get(client, 8) == ("HIT", site_page(8))  # fetched: readable
        get(client, 9)
        assert codec_of(redis_server.client().get(page_key(9))) == b"s"
        assert dictionary_worker._queue.qsize() == 0  # nothing for a thread to do


def test_recompression_never_replaces_a_newer_entry(site, redis_server):
    client = Client()
    train_site(client)
    get(client, 8)
    raw = redis_server.client()
    old = raw.get(page_key(8))
    pagecache.purge_tags("anything")  # not this page: it stays; now render a newer copy
    raw.delete(page_key(8))
    get(client, 8)
    newer = raw.get(page_key(8))
    assert newer != old
    shelf = dictionary.shelf()
    head = old.partition(b"\n")[0] + b"\n"
    assert not shelf.replace_entry(page_key(8), head, old)
    assert raw.get(page_key(8)) == newer
    assert not shelf.replace_entry("pc:p1:http://testserver/nothing/", head, old)
    assert raw.get("pc:p1:http://testserver/nothing/") is None


def test_the_async_driver_fetches_a_dictionary_on_its_loop(site, monkeypatch):
    train_site(Client())
    get(Client(), 8)
    as_fresh_process()

    def no_sync_io(*args, **kwargs):
        raise AssertionError("a sync cache call in the event loop")

    monkeypatch.setattr(dictionaries.RedisDictionaries, "get", no_sync_io)
    response = async_to_sync(AsyncClient().get)("/site/8/")
    assert (response["X-Cache"], response.content) == ("HIT", site_page(8))
    assert dictionary.stats["fetched"] == 1


def test_the_generic_store_keeps_dictionaries_through_the_cache_api(monkeypatch):
    dictionary_worker.stop()
    monkeypatch.setattr(dictionary_worker, "_start", lambda: None)
    generic = {**SITE, "CACHE": "locmem"}
    with override_settings(
        ROOT_URLCONF="tests.site_pages", MIDDLEWARE=MIDDLEWARE, PAGECACHE=generic
    ):
        client = Client()
        writer = train_site(client)
        assert isinstance(dictionary.shelf(), dictionaries.CacheDictionaries)
        assert get(client, 8)[0] == "MISS"
        as_fresh_process()
        assert get(client, 8) == ("HIT", site_page(8))
        assert dictionary.stats["fetched"] == 1
        assert get(client, 9)[0] == "MISS"
        dictionary_worker.drain()  # adopts the site's dictionary; compresses nothing again
        assert dictionary.stats["recompressed"] == 0  # no compare-and-set in the cache API
        assert dictionary.for_writing().id == writer.id


def test_threads_store_and_read_while_the_dictionary_is_trained(pages_site):
    """The real background thread: eight request threads over 48 pages, three rounds."""
    errors: list[BaseException] = []

    def run(offset: int) -> None:
        client = Client()
        try:
            for round_ in range(3):
                for seed in range(2000 + offset, 2048, 8):
                    assert get(client, seed)[1] == site_page(seed)
                time.sleep(0.05 * round_)
        except BaseException as exc:
            errors.append(exc)

    with override_settings(ROOT_URLCONF="tests.site_pages", PAGECACHE=SITE):
        threads = [threading.Thread(target=run, args=(i,)) for i in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert errors == []
        wait_until(lambda: dictionary.stats["trained"] >= 1 and dictionary_worker._queue.empty())
        client = Client()
        for seed in range(2000, 2048):
            assert get(client, seed)[1] == site_page(seed)
    dictionary_worker.stop()


def wait_until(condition: Callable[[], bool], seconds: float = 20.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


def one_node_cluster(redis_factory: Callable[..., RedisServer], tmp_path: Path) -> RedisServer:
    """A Redis Cluster of one master holding every slot: cross-slot commands still fail."""
    server = redis_factory(
        "--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf", data_dir=tmp_path
    )
    client = server.client()
    client.execute_command("CLUSTER", "ADDSLOTSRANGE", 0, 16383)
    wait_until(lambda: b"cluster_state:ok" in client.execute_command("CLUSTER", "INFO"))
    return server


def test_a_redis_cluster_keeps_dictionaries_one_key_per_command(
    redis_factory, tmp_path, monkeypatch
):
    server = one_node_cluster(redis_factory, tmp_path)
    dictionary_worker.stop()
    monkeypatch.setattr(dictionary_worker, "_start", lambda: None)
    caches = {
        "default": {
            "BACKEND": "pagecache.backends.RedisClusterCache",
            "LOCATION": server.url,
            "OPTIONS": {"socket_timeout": 0.5, "socket_connect_timeout": 0.5},
        }
    }
    with override_settings(
        CACHES=caches, ROOT_URLCONF="tests.site_pages", MIDDLEWARE=MIDDLEWARE, PAGECACHE=SITE
    ):
        reset_pagecache_state()
        store = get_store()
        assert getattr(store, "cluster", False)
        client = Client()
        writer = train_site(client)
        get(client, 8)
        dictionary_worker.drain()
        raw = server.client()
        stored_key = store.layout.stored(page_key(8))
        assert dictionary.stats["recompressed"] >= 1
        assert raw.memory_usage(stored_key, samples=0) <= TARGET_BYTES
        assert raw.get(f"pc:zd:{writer.id:08x}") == writer.data
        as_fresh_process()
        assert get(client, 8) == ("HIT", site_page(8))
        assert dictionary.stats["fetched"] == 1
        as_fresh_process()  # and on the event loop, through the cluster's asyncio client
        response = async_to_sync(AsyncClient().get)("/site/8/")
        assert (response["X-Cache"], response.content) == ("HIT", site_page(8))
        assert dictionary.stats["fetched"] == 1
    reset_pagecache_state()
