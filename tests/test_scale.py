"""SPEC §11 on a real Redis Cluster (3 masters, 3 replicas) and a real Sentinel set, all on
loopback: the purge promises of §6 (immediate, race-free with views that read their rows
first, eviction-safe, O(1) in entries), a hit in one round trip, and a node restart and a
failover in the middle of a test. Nothing is mocked; nodes are stopped and killed for real.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from django.test import Client, override_settings

import pagecache
from pagecache.core import keys
from pagecache.core.entry import Entry, dumps
from pagecache.stores.select import get_store
from tests.conftest import reset_pagecache_state
from tests.pages_urls import HOOKS, RENDERS
from tests.test_freshness import getter, race, save_title, titles
from tests.test_purge import count_round_trips

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("quiet_deliverer")]

TIMEOUTS = {"socket_timeout": 0.5, "socket_connect_timeout": 0.5}


def cluster_caches(urls: list[str]) -> dict[str, Any]:
    """What docs/scaling.md tells a cluster user to write."""
    return {
        "default": {
            "BACKEND": "pagecache.backends.RedisClusterCache",
            "LOCATION": ",".join(urls),
            "OPTIONS": dict(TIMEOUTS),
        }
    }


def sentinel_caches(service: str, sentinels: list[tuple[str, int]]) -> dict[str, Any]:
    """What docs/scaling.md tells a Sentinel user to write (django-redis' Sentinel client)."""
    return {
        "default": {
            "BACKEND": "django_redis.cache.RedisCache",
            "LOCATION": f"redis://{service}/0",
            "OPTIONS": {
                "CLIENT_CLASS": "django_redis.client.SentinelClient",
                "CONNECTION_FACTORY": "django_redis.pool.SentinelConnectionFactory",
                "SENTINELS": sentinels,
                "SOCKET_TIMEOUT": 0.5,
                "SOCKET_CONNECT_TIMEOUT": 0.5,
            },
        }
    }


@dataclass
class Deployment:
    """The Redis a test runs on, and what the test may do to it."""

    kind: str
    harness: Any

    def primaries(self) -> list[Any]:
        """Clients of every current primary (for server-side counts and damage)."""
        if self.kind == "cluster":
            return [server.client() for server in self.harness.masters()]
        return [self.harness.master().client()]

    def primary_of(self, key: str) -> Any:
        if self.kind == "cluster":
            return self.harness.node_for_key(key)
        return self.harness.master()

    def kill_master(self, master: Any) -> Any:
        """SIGKILL ``master``; returns once a replica took over (the new primary)."""
        if self.kind == "cluster":
            return self.harness.kill_master(master)
        assert self.harness.master() is master
        return self.harness.kill_master()

    def lose_all_tag_versions(self) -> None:
        """As eviction under maxmemory would: every versions hash goes, entries stay."""
        store = get_store()
        for tags_key in store.layout.tags_keys:
            assert store.client.delete(tags_key) == 1


@pytest.fixture(params=["cluster", "sentinel"])
def deployment(request: pytest.FixtureRequest, pages_site: None) -> Iterator[Deployment]:
    if request.param == "cluster":
        harness = request.getfixturevalue("cluster")
        caches = cluster_caches(harness.urls)
    else:
        harness = request.getfixturevalue("sentinel")
        caches = sentinel_caches(harness.service_name, harness.sentinels)
    with override_settings(CACHES=caches):
        reset_pagecache_state()
        yield Deployment(request.param, harness)
    reset_pagecache_state()


def page_key(path: str) -> str:
    return keys.page_key("pc", "http", "testserver", path, "")


# -- the store is the fast path, not a fallback ---------------------------------------------


def test_the_redis_store_is_used_and_a_cluster_spreads_its_tag_versions(deployment):
    store = get_store()
    assert type(store).__name__ == "RedisStore"
    assert store.cluster is (deployment.kind == "cluster")
    if deployment.kind == "cluster":
        Client().get("/page/")
        pagecache.purge_tags("page")
        assert all(store.client.exists(k) for k in store.layout.tags_keys)
        holders = {deployment.harness.node_for_key(k).port for k in store.layout.tags_keys}
        assert len(holders) == 3  # 16 groups over 3 masters: no shard reads all versions


# -- 1. immediate -----------------------------------------------------------------------------


def test_a_purge_is_immediate_and_scoped(deployment):
    client = Client()
    for url in ("/page/?tag=shared", "/page/?tag=shared&x=1", "/page/?tag=unrelated", "/other/"):
        assert client.get(url)["X-Cache"] == "MISS"
        assert client.get(url)["X-Cache"] == "HIT"
    pagecache.purge_tags("shared")
    assert client.get("/page/?tag=shared")["X-Cache"] == "MISS"
    assert client.get("/page/?tag=shared&x=1")["X-Cache"] == "MISS"
    assert client.get("/page/?tag=unrelated")["X-Cache"] == "HIT"
    assert client.get("/other/")["X-Cache"] == "HIT"
    pagecache.purge_tags("shared", soft=True)
    assert client.get("/page/?tag=shared")["X-Cache"] in ("STALE", "MISS")


# -- 2. race-free, as sites render: rows read before {% cachetag %} -------------------------


@pytest.mark.parametrize("driver", ["middleware", "wsgi", "asgi"])
def test_fragments_of_rows_read_before_a_purge_are_never_served_after_it(deployment, driver):
    from tests.testapp.models import Article

    with override_settings(
        ROOT_URLCONF="tests.freshness_site",
        MIDDLEWARE=__import__("tests.freshness_site", fromlist=["MIDDLEWARE"]).MIDDLEWARE,
        PAGECACHE={"MODELS": ["testapp.article"]},
    ):
        reset_pagecache_state()
        article = Article.objects.create(title="old")
        get = getter(driver, "anonymous")
        raced = race(get, "/articles/", save_title(article, "new"))
        assert titles(raced) == {"old"}
        for _ in range(3):
            status, body = get("/articles/")
            assert titles(body) == {"new"}, (status, body)
        assert get("/articles/")[0] == "HIT"


def test_a_render_racing_a_purge_is_never_served_as_fresh(deployment):
    started, proceed = threading.Event(), threading.Event()
    HOOKS.update(started=started, proceed=proceed)
    results: dict[str, Any] = {}
    worker = threading.Thread(target=lambda: results.update(racing=Client().get("/slow/")))
    worker.start()
    assert started.wait(10)
    pagecache.purge_tags("slow")
    HOOKS.clear()
    proceed.set()
    worker.join(10)
    assert results["racing"].content == b"slow render 1"
    assert Client().get("/slow/").content == b"slow render 2"
    assert Client().get("/slow/")["X-Cache"] == "HIT"


# -- 3. O(1) in entries, and a hit in one round trip ----------------------------------------


SERVER_CHATTER = {
    "config", "info", "cluster", "publish", "ping", "replconf", "subscribe", "role",
    "client", "hello", "psync", "sync", "command",
}  # fmt: skip


def _commands(deployment: Deployment) -> dict[str, int]:
    totals: dict[str, int] = {}
    for client in deployment.primaries():
        for name, value in client.info("commandstats").items():
            # Sentinels and replicas talk to a master on their own (hello messages, pings).
            if name.removeprefix("cmdstat_").split("|")[0] not in SERVER_CHATTER:
                totals[name] = totals.get(name, 0) + value["calls"]
    return totals


def _purge_cost(deployment: Deployment, entries: int) -> tuple[dict[str, int], int]:
    store = get_store()
    start = store.clock()
    value = dumps(Entry(200, "OK", (), b"x", (f"t{entries}",), start, 30, 30))
    for i in range(entries):
        store.save(f"pc:p1:http://testserver/n{entries}-{i}", value, 600)
    for client in deployment.primaries():
        client.config_resetstat()
    with count_round_trips() as trips:
        pagecache.purge_tags(f"t{entries}")
    return _commands(deployment), trips.count


def test_a_purge_costs_the_same_for_10_and_2000_entries(deployment):
    pagecache.purge_tags("warm-up")  # loads the scripts everywhere
    small, small_trips = _purge_cost(deployment, 10)
    large, large_trips = _purge_cost(deployment, 2_000)
    assert small == large
    assert small_trips == large_trips
    groups = len(get_store().layout.tags_keys)
    # One script per group per phase: two phases on a cluster, one on a single master.
    assert small["cmdstat_evalsha"] == (2 * groups if deployment.kind == "cluster" else 1)
    assert not any(name in small for name in ("cmdstat_scan", "cmdstat_del", "cmdstat_keys"))
    store = get_store()
    for i in (0, 1_999):
        assert store.lookup(f"pc:p1:http://testserver/n2000-{i}").state.value == "purged"


def test_a_hit_is_one_round_trip(deployment):
    client = Client()
    client.get("/page/")
    client.get("/page/")
    with count_round_trips() as trips:
        response = client.get("/page/")
    assert response["X-Cache"] == "HIT"
    assert trips.count == 1


# -- 6. eviction-safe ---------------------------------------------------------------------------


def test_lost_tag_versions_never_resurrect_a_purged_page_and_caching_resumes(deployment):
    client = Client()
    client.get("/page/")
    client.get("/other/")
    pagecache.purge_tags("page")
    deployment.lose_all_tag_versions()
    assert client.get("/page/").content.startswith(b"<p>page render 2")
    assert client.get("/other/")["X-Cache"] == "MISS"  # a miss, never stale content
    # ...and the groups' clocks are level again: pages and fragments are cached again.
    assert client.get("/page/")["X-Cache"] == "HIT"
    assert client.get("/other/")["X-Cache"] == "HIT"


# -- a node restart and a failover mid-test -------------------------------------------------


def _served(url: str) -> tuple[int, str, bytes]:
    response = Client().get(url)
    return response.status_code, response.get("X-Cache", ""), response.content


def test_a_node_restarting_mid_test_costs_misses_never_stale_pages_or_errors(deployment):
    if deployment.kind != "cluster":
        pytest.skip("a Sentinel master restart is the failover test")
    assert _served("/page/")[1] == "MISS"
    assert _served("/page/")[1] == "HIT"
    pagecache.purge_tags("page")
    node = deployment.primary_of(get_store().layout.stored(page_key("/page/")))
    deployment.harness.restart_node(node)  # its entries and versions are gone with it
    status, _, body = _served("/page/")
    assert status == 200 and body.startswith(b"<p>page render 2")
    for _ in range(50):  # cached again once the cluster answers for that slot again
        if _served("/page/")[1] == "HIT":
            break
    assert _served("/page/")[:2] == (200, "HIT")
    pagecache.purge_tags("page")
    assert _served("/page/")[2].startswith(b"<p>page render")
    assert RENDERS["page"] >= 3


def _wait_replicated(deployment: Deployment, timeout: float = 10.0) -> None:
    """Until every replica has acknowledged all its master wrote (Redis replicates
    asynchronously: docs/scaling.md says what a failover inside that window can lose)."""
    import time

    deadline = time.monotonic() + timeout
    for client in deployment.primaries():
        while True:
            info = client.info("replication")
            offset = info["master_repl_offset"]
            replicas = [v for k, v in info.items() if k.startswith("slave") and isinstance(v, dict)]
            if replicas and all(r["offset"] >= offset for r in replicas):
                break
            assert time.monotonic() < deadline, f"replicas never caught up: {info}"
            time.sleep(0.01)


def test_a_failover_mid_test_keeps_every_purge(deployment):
    assert _served("/page/")[1] == "MISS"
    assert _served("/page/")[1] == "HIT"
    pagecache.purge_tags("page")  # acknowledged, and replicated before the kill below
    renders_before = RENDERS["page"]
    master = deployment.primary_of(get_store().layout.stored(page_key("/page/")))
    _wait_replicated(deployment)
    promoted: dict[str, Any] = {}

    def kill() -> None:
        try:
            promoted["new"] = deployment.kill_master(master)
        except BaseException as exc:  # reported by the test below, not lost in the thread
            promoted["error"] = exc

    killer = threading.Thread(target=kill)
    killer.start()
    # Requests during the failover: answered, never a 500, never the purged render 1.
    while killer.is_alive():
        status, _, body = _served("/page/")
        assert status == 200
        assert not body.startswith(b"<p>page render 1<")
    killer.join()
    assert "error" not in promoted, promoted.get("error")
    assert promoted["new"] is not master
    reset_pagecache_state()  # a new process after the failover sees the same
    status, _, body = _served("/page/")
    assert status == 200 and not body.startswith(b"<p>page render 1<")
    assert RENDERS["page"] > renders_before
    for _ in range(50):
        if _served("/page/")[1] == "HIT":
            break
    assert _served("/page/")[1] == "HIT"
    pagecache.purge_tags("page")
    status, cache_status, body = _served("/page/")
    assert (status, cache_status) == (200, "MISS")


# -- deploy checks ------------------------------------------------------------------------------


def test_check_deploy_works_on_each(deployment):
    from pagecache.checks import check_redis_server

    ids = [message.id for message in check_redis_server()]
    assert "pagecache.W013" not in ids and "pagecache.E007" not in ids, ids


def test_a_single_server_client_on_a_cluster_node_fails_open_and_says_so(
    cluster, pages_site, caplog
):
    from pagecache.checks import check_redis_server

    url = cluster.urls[0]
    single = {"default": {"BACKEND": "django_redis.cache.RedisCache", "LOCATION": url}}
    with override_settings(CACHES=single):
        reset_pagecache_state()
        assert "pagecache.E007" in [m.id for m in check_redis_server()]
        with caplog.at_level("ERROR", logger="pagecache"):
            response = Client().get("/page/")
        assert response.status_code == 200
        assert "points at a Redis Cluster node through a single-server client" in caplog.text
    reset_pagecache_state()


def test_django_redis_given_a_cluster_client_fails_open_and_check_names_it(cluster, pages_site):
    from pagecache.checks import check_redis_server

    broken = {
        "default": {
            "BACKEND": "django_redis.cache.RedisCache",
            "LOCATION": cluster.urls[0],
            "OPTIONS": {"REDIS_CLIENT_CLASS": "redis.cluster.RedisCluster"},
        }
    }
    with override_settings(CACHES=broken):
        reset_pagecache_state()
        assert [m.id for m in check_redis_server()] == ["pagecache.E008"]
        assert Client().get("/page/").status_code == 200
    reset_pagecache_state()


Getter = Callable[[str], tuple[str, str]]


def test_asgi_pages_on_a_cluster_use_redis_asyncio_not_a_thread(deployment, monkeypatch):
    from asgiref.sync import async_to_sync
    from django.test import AsyncClient

    from pagecache.stores.redis import RedisStore
    from pagecache.stores.select import get_async_store

    if deployment.kind != "cluster":
        pytest.skip("Sentinel pools keep the sync path (docs/scaling.md)")
    store = get_async_store()
    assert store is not None and store.cluster
    get = async_to_sync(AsyncClient().get)
    assert get("/page/")["X-Cache"] == "MISS"

    def blocking(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("the sync store was used under ASGI")

    monkeypatch.setattr(RedisStore, "lookup", blocking)
    monkeypatch.setattr(RedisStore, "save", blocking)
    assert get("/page/")["X-Cache"] == "HIT"
    assert get("/other/")["X-Cache"] == "MISS"
    assert get("/other/")["X-Cache"] == "HIT"
    monkeypatch.undo()
    pagecache.purge_tags("page")
    assert get("/page/")["X-Cache"] == "MISS"


def test_the_readme_snippets_work_with_only_the_addresses_changed(deployment):
    from tests.test_readme import snippet

    namespace: dict[str, Any] = {}
    if deployment.kind == "cluster":
        code = snippet("cluster-caches").replace(
            "redis://127.0.0.1:7000,redis://127.0.0.1:7001", ",".join(deployment.harness.urls)
        )
    else:
        code = (
            snippet("sentinel-caches")
            .replace('"redis://mymaster/0"', f'"redis://{deployment.harness.service_name}/0"')
            .replace('[("127.0.0.1", 26379)]', repr(deployment.harness.sentinels))
        )
    exec(code, namespace)
    with override_settings(CACHES=namespace["CACHES"]):
        reset_pagecache_state()
        assert get_store().lookup(page_key("/readme/")).state.value == "miss"
        client = Client()
        assert client.get("/page/")["X-Cache"] == "MISS"
        assert client.get("/page/")["X-Cache"] == "HIT"
        pagecache.purge_tags("page")
        assert client.get("/page/")["X-Cache"] == "MISS"


# -- what the review of the first version found ---------------------------------------------


def test_a_purge_no_replica_acknowledges_fails_and_is_not_taken_for_done(deployment):
    """Redis replicates asynchronously: a purge only the master holds would die with it. With
    the replica frozen (SIGSTOP: its link stays up, it acknowledges nothing), the purge must
    fail, so that it is retried and recorded, never counted as delivered."""
    import os
    import signal

    from pagecache.exceptions import PurgeError

    key = get_store().layout.stored(page_key("/page/"))
    master = deployment.primary_of(key)
    replica = (
        deployment.harness.replicas_of(master)[0]
        if deployment.kind == "cluster"
        else deployment.harness.replicas()[0]
    )
    pagecache.purge_tags("warm-up")  # the store knows there are replicas
    os.kill(replica.pid, signal.SIGSTOP)
    try:
        with pytest.raises(PurgeError):
            pagecache.purge_tags("page", raise_errors=True)
    finally:
        os.kill(replica.pid, signal.SIGCONT)
    from pagecache import outage

    outage.reset()  # the breaker's second has passed
    pagecache.purge_tags("page", raise_errors=True)  # acknowledged again


def test_one_lost_group_brings_every_group_level_and_parts_are_cached_again(deployment):
    """A group whose versions were lost restarts its clock ahead of the others; entries in it
    rendered with a start read from another group would be misses until the next purge,
    unless the clocks are levelled. Its mark stays until they are, whoever looks it up."""
    if deployment.kind != "cluster":
        pytest.skip("one group on a single master")
    store = get_store()
    pagecache.purge_tags("warm-up")
    page = page_key("/page/")
    lost = store.layout.tags_key_of(page)
    other = next(
        k for k in (page_key(f"/p{i}/") for i in range(100)) if store.layout.tags_key_of(k) != lost
    )
    assert store.client.delete(lost) == 1
    store._realigned_at = time.monotonic()  # this process just levelled: another must
    assert store.lookup(page).state.value == "miss"  # recreates the group, marked
    assert store.client.hget(lost, "unaligned") == b"1"
    store._realigned_at = 0.0  # a second later, or another process: the mark is still seen
    store.lookup(page)
    clocks = {int(store.client.hget(k, "clock")) for k in store.layout.tags_keys}
    assert len(clocks) == 1
    assert store.client.hget(lost, "unaligned") is None
    start = store.lookup(other).clock  # a start read in another group...
    value = dumps(Entry(200, "OK", (), b"part", ("t",), start, 30, 30))
    store.save(page, value, 60)
    assert store.lookup(page).state.value == "fresh"  # ...is judged fairly in the lost one


def test_a_cluster_that_cannot_be_reached_costs_misses_and_recorded_purges_never_a_500(
    pages_site,
):
    from tests.redis_harness import free_port

    dead = {
        "default": {
            "BACKEND": "pagecache.backends.RedisClusterCache",
            "LOCATION": f"redis://127.0.0.1:{free_port()}",
            "OPTIONS": dict(TIMEOUTS),
        }
    }
    from pagecache.checks import check_redis_server
    from pagecache.models import PurgeRecord

    with override_settings(CACHES=dead):
        reset_pagecache_state()
        assert Client().get("/page/").status_code == 200
        assert Client().get("/page/").status_code == 200
        pagecache.purge_tags("page")  # not delivered: recorded for later, no exception
        assert PurgeRecord.objects.filter(tags__contains="page").exists()
        assert [m.id for m in check_redis_server()] == ["pagecache.W013"]
    reset_pagecache_state()
