"""purge_tags and its six promises (SPEC §6), against a real redis-server and PostgreSQL."""

from __future__ import annotations

import threading

import pytest
from django.db import connection, transaction
from django.http import HttpRequest
from django.test import Client

import pagecache
from pagecache.purging import purge
from pagecache.stores.select import get_store
from tests.pages_urls import HOOKS

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("pages_site")]


# -- tags -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("bad", "named"),
    [
        ("", "''"),
        ("two words", "'two words'"),
        ("tab\there", "'tab\\there'"),
        ("ctrl\x07", "'ctrl\\x07'"),
        ("x" * 251, "251 characters"),
        (42, "42"),
        (None, "None"),
        (b"bytes", "b'bytes'"),
    ],
)
def test_invalid_tags_raise_value_error_naming_them(bad, named):
    with pytest.raises(ValueError, match=named.replace("\\", "\\\\").replace("(", r"\(")):
        pagecache.purge_tags(bad)
    with pytest.raises(ValueError):
        pagecache.add_tags(HttpRequest(), bad)


def test_model_tag_for_classes_and_instances():
    from tests.testapp.models import Article

    assert pagecache.model_tag(Article) == "testapp.article"
    assert pagecache.model_tag(Article(pk=42)) == "testapp.article:42"
    with pytest.raises(ValueError, match="no primary key"):
        pagecache.model_tag(Article())
    with pytest.raises(ValueError, match="not a model"):
        pagecache.model_tag("testapp.article")


def test_purging_a_model_instance_purges_its_page(client):
    from tests.testapp.models import Article

    article = Article.objects.create(title="first")
    assert client.get(f"/article/{article.pk}/").content == b"title=first"
    Article.objects.filter(pk=article.pk).update(title="second")
    assert client.get(f"/article/{article.pk}/")["X-Cache"] == "HIT"
    pagecache.purge_tags(article)
    assert client.get(f"/article/{article.pk}/").content == b"title=second"


# -- 1. immediate, and scoped to the tags ---------------------------------------------------


def test_purge_of_one_tag_leaves_other_pages_cached(client):
    client.get("/page/")
    client.get("/other/")
    pagecache.purge_tags("other")
    assert client.get("/page/")["X-Cache"] == "HIT"
    response = client.get("/other/")
    assert response["X-Cache"] == "MISS"
    assert response.content == b"other render 2"


def test_purge_invalidates_every_page_carrying_the_tag(client):
    for url in ("/page/?tag=shared", "/page/?tag=shared&x=1", "/page/?tag=unrelated"):
        client.get(url)
    pagecache.purge_tags("shared")
    assert client.get("/page/?tag=shared")["X-Cache"] == "MISS"
    assert client.get("/page/?tag=shared&x=1")["X-Cache"] == "MISS"
    assert client.get("/page/?tag=unrelated")["X-Cache"] == "HIT"


# -- 2. race-free: a render that began before the purge is not stored as fresh ---------------


def test_render_racing_a_purge_is_never_served_as_fresh():
    started, proceed = threading.Event(), threading.Event()
    HOOKS.update(started=started, proceed=proceed)
    results = {}

    def request_in_thread():
        results["racing"] = Client().get("/slow/")

    worker = threading.Thread(target=request_in_thread)
    worker.start()
    assert started.wait(10)  # the view has read its data and is still rendering
    pagecache.purge_tags("slow")  # the data changed: purge lands mid-render
    HOOKS.clear()
    proceed.set()
    worker.join(10)
    assert results["racing"].content == b"slow render 1"
    assert results["racing"]["X-Cache"] == "MISS"  # it rendered and stored its (late) entry

    after = Client().get("/slow/")
    assert after["X-Cache"] == "MISS"
    assert after.content == b"slow render 2"
    assert Client().get("/slow/")["X-Cache"] == "HIT"


# -- 3. O(1) in entries ---------------------------------------------------------------------


def _commands(redis_client):
    """Calls per command since CONFIG RESETSTAT (the reset itself left out)."""
    stats = redis_client.info("commandstats")
    return {
        name: value["calls"]
        for name, value in stats.items()
        if not name.startswith("cmdstat_config")
    }


def _purge_cost(redis_server, entries):
    from pagecache.core.entry import Entry, dumps

    store = get_store()
    raw = redis_server.client()
    base = store.lookup("pc:p1:probe").clock
    value = dumps(Entry(200, "OK", (), b"x", (f"t{entries}", "other"), base, 30, 30))
    for first in range(0, entries, 10_000):
        pipe = raw.pipeline(transaction=False)
        for i in range(first, min(entries, first + 10_000)):
            pipe.set(f"pc:p1:http://testserver/n{entries}-{i}", value, px=600_000)
        pipe.execute()
    raw.config_resetstat()
    with count_round_trips() as trips:
        pagecache.purge_tags(f"t{entries}")
    return _commands(raw), trips.count


@pytest.mark.usefixtures("quiet_deliverer")  # INFO commandstats counts every client
def test_purge_costs_the_same_for_10_and_100000_entries(redis_server):
    pagecache.purge_tags("warm-up")  # a process's first purge also loads the script
    small, small_trips = _purge_cost(redis_server, 10)
    large, large_trips = _purge_cost(redis_server, 100_000)
    assert small == large
    assert small_trips == large_trips == 1
    assert "cmdstat_evalsha" in small
    assert not any(name in small for name in ("cmdstat_scan", "cmdstat_del", "cmdstat_keys"))
    # ...and every one of the 100,000 entries is now purged.
    for i in (0, 99_999):
        found = get_store().lookup(f"pc:p1:http://testserver/n100000-{i}")
        assert found.state.value == "purged"


# -- 4. transaction-aware -------------------------------------------------------------------


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_purge_in_transaction_is_repeated_on_commit():
    """Purge inside atomic(); another connection renders between the purge and the commit."""
    from tests.testapp.models import Article

    article = Article.objects.create(title="old")
    url = f"/article/{article.pk}/"
    assert Client().get(url).content == b"title=old"

    purged, rendered = threading.Event(), threading.Event()
    errors = []

    def writer():
        try:
            with transaction.atomic():
                Article.objects.filter(pk=article.pk).update(title="new")
                pagecache.purge_tags(article)
                purged.set()
                assert rendered.wait(10)
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)
        finally:
            connection.close()

    thread = threading.Thread(target=writer)
    thread.start()
    assert purged.wait(10)
    # Not committed yet: this render reads the old row and stores it after the first purge.
    between = Client().get(url)
    assert between.content == b"title=old"
    rendered.set()
    thread.join(10)
    assert not errors
    after = Client().get(url)
    assert after.content == b"title=new"


@pytest.mark.django_db(transaction=True)
def test_purge_in_rolled_back_transaction_is_not_repeated(redis_server):
    class Rollback(Exception):
        pass

    with pytest.raises(Rollback), transaction.atomic():
        pagecache.purge_tags("x")
        clock = int(redis_server.client().hget("pc:tags", "h:x"))
        raise Rollback
    assert int(redis_server.client().hget("pc:tags", "h:x")) == clock


# -- 5. never silently lost -----------------------------------------------------------------


@pytest.fixture
def durable_server(private_cache, tmp_path):
    """A private server that keeps its data across a restart (AOF), for the cache."""
    return private_cache("--appendonly", "yes", "--appendfsync", "always", data_dir=tmp_path)


def test_purge_while_redis_is_down_is_resent_before_serving(
    durable_server,
    caplog,
    monkeypatch,
    quiet_deliverer,  # else it may be mid-send when the request comes: the request then
    # renders uncached without waiting (test_durable.py), and the purge is still pending
):
    from pagecache import outage

    monkeypatch.setattr(outage.breaker, "backoff", 0.0)
    client = Client()
    client.get("/other/")
    assert client.get("/other/")["X-Cache"] == "HIT"

    durable_server.stop()
    pagecache.purge_tags("other")  # logged and kept, not raised
    assert purge.pending_tags() == {"other": False}
    assert "not delivered" in caplog.text
    with pytest.raises(pagecache.PurgeError) as excinfo:
        pagecache.purge_tags("other", raise_errors=True)
    assert excinfo.value.tags == ("other",)

    durable_server.start()  # the old entry survived the restart (AOF)
    assert durable_server.client().exists("pc:p1:http://testserver/other/")
    response = client.get("/other/")
    assert response.content == b"other render 2"
    assert purge.pending_tags() == {}
    assert client.get("/other/")["X-Cache"] == "HIT"


# -- 6. eviction-safe -----------------------------------------------------------------------


def test_lost_tag_versions_never_resurrect_a_purged_page(client, redis_server):
    client.get("/page/")
    client.get("/other/")
    pagecache.purge_tags("page")
    # Simulate eviction of everything the purge created or changed.
    redis_server.client().delete("pc:tags")
    assert client.get("/page/").content.startswith(b"<p>page render 2")
    # Losing the versions also costs the untouched page its entry: a miss, not stale content.
    assert client.get("/other/")["X-Cache"] == "MISS"
    assert client.get("/page/")["X-Cache"] == "HIT"


def test_lost_tag_versions_between_render_and_store_never_make_it_fresh(redis_server):
    started, proceed = threading.Event(), threading.Event()
    HOOKS.update(started=started, proceed=proceed)
    worker = threading.Thread(target=Client().get, args=("/slow/",))
    worker.start()
    assert started.wait(10)
    pagecache.purge_tags("slow")
    redis_server.client().delete("pc:tags")
    HOOKS.clear()
    proceed.set()
    worker.join(10)
    assert Client().get("/slow/").content == b"slow render 2"


# -- round trips ----------------------------------------------------------------------------


class count_round_trips:
    """Count this thread's request/response exchanges on every redis-py connection (real
    traffic; pagecache's background deliverer thread is not the request being measured)."""

    def __enter__(self):
        from redis.connection import AbstractConnection

        self.count = 0
        self._original = AbstractConnection.send_packed_command
        counter = self
        thread = threading.get_ident()

        def counting(conn, command, check_health=True):
            if threading.get_ident() == thread:
                counter.count += 1
            return counter._original(conn, command, check_health)

        AbstractConnection.send_packed_command = counting
        return self

    def __exit__(self, *exc):
        from redis.connection import AbstractConnection

        AbstractConnection.send_packed_command = self._original


@pytest.mark.usefixtures("quiet_deliverer")  # INFO commandstats counts every client
def test_a_hit_costs_one_round_trip_and_one_command(client, redis_server):
    client.get("/page/")
    client.get("/page/")  # warm: scripts loaded, connection open
    raw = redis_server.client()
    raw.config_resetstat()
    with count_round_trips() as trips:
        response = client.get("/page/")
    assert response["X-Cache"] == "HIT"
    assert trips.count == 1
    stats = _commands(raw)
    assert stats.pop("cmdstat_evalsha") == 1
    # Inside the script: the header (GETRANGE), tag versions and TTL; this process already
    # holds the decoded page, so the body is neither read (GET) nor sent again.
    assert set(stats) <= {"cmdstat_getrange", "cmdstat_hmget", "cmdstat_pttl"}


def test_a_process_without_the_page_decoded_gets_the_body(client, redis_server):
    from pagecache import driver

    first = client.get("/page/")
    driver.forget_decoded()  # as in a worker process that never served this page
    raw = redis_server.client()
    raw.config_resetstat()
    response = client.get("/page/")
    assert response["X-Cache"] == "HIT"
    assert response.content == first.content
    assert _commands(raw).get("cmdstat_get") == 1  # the body, read once inside the script


def test_new_content_under_the_same_key_is_never_hidden_by_the_decoded_copy(client):
    client.get("/other/")
    assert client.get("/other/").content == b"other render 1"
    pagecache.purge_tags("other")
    assert client.get("/other/").content == b"other render 2"  # re-rendered and stored
    # Same key, new content id: the process's decoded copy of render 1 is not used.
    assert client.get("/other/").content == b"other render 2"


def test_a_hit_with_vary_costs_one_round_trip(client):
    client.get("/lang/", HTTP_ACCEPT_LANGUAGE="de")
    with count_round_trips() as trips:
        assert client.get("/lang/", HTTP_ACCEPT_LANGUAGE="de")["X-Cache"] == "HIT"
    assert trips.count == 1


def test_purge_is_one_round_trip(redis_server):
    pagecache.purge_tags("warm")
    with count_round_trips() as trips:
        pagecache.purge_tags("a", "b", "c", soft=True)
    assert trips.count == 1


def test_a_page_with_many_tags_is_checked_against_every_tag(client):
    """Headers longer than the lookup's first read (256 bytes) are read in full."""
    tags = [f"blog.article:{n}" for n in range(300)]  # a ~5 KB header
    HOOKS["extra_tags"] = tags  # the /page/ view adds these
    try:
        client.get("/page/")
        assert client.get("/page/")["X-Cache"] == "HIT"
        pagecache.purge_tags("blog.article:299")  # the last tag in the header
        assert client.get("/page/")["X-Cache"] == "MISS"
    finally:
        HOOKS.pop("extra_tags")


def test_a_page_with_more_tags_than_a_header_can_hold_is_not_stored(client):
    from tests.pages_urls import HOOKS

    HOOKS["extra_tags"] = [f"t{n:06d}-{'x' * 200}" for n in range(400)]  # ~84 KB of tags
    try:
        assert client.get("/page/")["X-Cache"] == "MISS"
        assert client.get("/page/")["X-Cache"] == "MISS"  # rendered, never stored
    finally:
        HOOKS.pop("extra_tags")
