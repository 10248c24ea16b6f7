"""SPEC §12: STATS counters equal what a known sequence of requests did (pages through the
middleware, the WSGI fast path and ASGI; fragments), ride along with lookups instead of
adding a round trip, and reach ``manage.py pagecache stats``; OpenTelemetry records spans
and metrics through the SDK's in-memory exporter and reader."""

from __future__ import annotations

import json
from collections.abc import Iterator
from io import StringIO

import pytest
from asgiref.sync import async_to_sync
from django.core.handlers.wsgi import WSGIHandler
from django.core.management import call_command
from django.test import AsyncClient, Client, override_settings

import pagecache
from pagecache import stats
from pagecache.core.stats import table
from pagecache.stores.select import get_store
from pagecache.wsgi import PageCacheWSGI
from tests.test_purge import _commands, count_round_trips
from tests.test_wsgi import WSGIClient

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("pages_site", "quiet_deliverer")]

PAGE = "tests.pages_urls.page"
OTHER = "tests.pages_urls.other"


@pytest.fixture
def counting() -> Iterator[None]:
    with override_settings(PAGECACHE={"STATS": True}):
        yield


def counters() -> dict[tuple[str, str], dict[str, int]]:
    stats.flush()
    return {(row.scope, row.name): row.counts for row in table(get_store().read_counts())}


def test_counters_equal_a_known_sequence_of_requests(counting):
    client = Client()
    assert client.get("/page/")["X-Cache"] == "MISS"
    for _ in range(3):
        assert client.get("/page/")["X-Cache"] == "HIT"
    assert client.get("/other/")["X-Cache"] == "MISS"
    assert client.get("/other/")["X-Cache"] == "HIT"
    assert client.post("/other/")["X-Cache"] == "BYPASS"
    assert client.get("/cookie/")["X-Cache"] == "MISS"  # rendered, never stored
    pagecache.purge_tags("page")
    assert client.get("/page/")["X-Cache"] == "MISS"
    wsgi = WSGIClient(PageCacheWSGI(WSGIHandler()))
    assert wsgi.get("/page/")["X-Cache"] == "HIT"  # the fast path counts its hits too
    aget = async_to_sync(AsyncClient().get)
    assert aget("/other/")["X-Cache"] == "HIT"  # and the async driver

    seen = counters()
    page, other = seen[("page", PAGE)], seen[("page", OTHER)]
    page.pop("saved_ms", None), other.pop("saved_ms", None)  # timings: the fragment test
    assert page == {"miss": 2, "store": 2, "hit": 4}
    assert other == {"miss": 1, "store": 1, "hit": 2, "bypass": 1}
    assert seen[("page", "tests.pages_urls.sets_cookie")] == {"miss": 1}
    assert seen[("all", "purges")] == {"purge": 1, "purged_tags": 1}


def test_fragments_are_counted_by_name_with_the_render_time_they_save(counting):
    import time

    def slow() -> str:
        time.sleep(0.02)  # the render whose time each hit saves
        return "<aside>sidebar</aside>"

    for _ in range(3):
        assert pagecache.cached_fragment("sidebar", slow, tags=["side"]) == "<aside>sidebar</aside>"
    counts = counters()[("fragment", "sidebar")]
    assert (counts["miss"], counts["store"], counts["hit"]) == (1, 1, 2)
    assert counts["saved_ms"] >= 2 * 20


def test_counts_ride_along_with_a_lookup_without_a_round_trip(counting, redis_server, monkeypatch):
    monkeypatch.setattr(stats, "BATCH_EVENTS", 1)  # every lookup finds a batch due
    client = Client()
    client.get("/page/")
    client.get("/page/")  # warm: the page decoded, the script loaded
    raw = redis_server.client()
    raw.config_resetstat()
    assert stats.pending()  # this request's counts have not been written yet...
    with count_round_trips() as trips:
        assert client.get("/page/")["X-Cache"] == "HIT"
    assert trips.count == 1  # ...and a hit is still one round trip, carrying them
    assert _commands(raw)["cmdstat_evalsha"] == 1
    written = {row.name: row.counts for row in table(get_store().read_counts())}
    assert written[PAGE]["hit"] >= 1  # the earlier hit, written by this lookup


def test_counts_add_up_in_the_process_until_a_batch_is_due(counting, monkeypatch):
    client = Client()
    client.get("/page/")
    stats.flush()
    for _ in range(10):
        client.get("/page/")
    assert stats.pending()[f"page|{PAGE}|hit"] >= 9  # not written hit by hit...
    assert (
        get_store().read_counts() and table(get_store().read_counts())[0].counts.get("hit", 0) == 0
    )
    monkeypatch.setattr(stats, "_last_taken", 0.0)  # ...but once a second
    client.get("/page/")
    assert table(get_store().read_counts())[0].counts["hit"] >= 10


def test_with_stats_off_nothing_is_counted_or_carried(redis_server):
    client = Client()
    client.get("/page/")
    client.get("/page/")
    assert stats.pending() == {}
    assert get_store().read_counts() == []


def test_the_command_prints_a_table_json_and_resets(counting):
    client = Client()
    client.get("/page/")
    client.get("/page/")
    client.get("/page/")
    out = StringIO()
    call_command("pagecache", "stats", stdout=out)
    text = out.getvalue()
    assert "hit ratio" in text
    line = next(line for line in text.splitlines() if PAGE in line)
    assert line.split()[:4] == ["page", PAGE, "67%", "2"]
    out = StringIO()
    call_command("pagecache", "stats", "--json", stdout=out)
    rows = json.loads(out.getvalue())
    assert {"scope": "page", "name": PAGE, "miss": 1, "store": 1, "hit": 2}.items() <= rows[
        0
    ].items()
    call_command("pagecache", "stats", "--reset", stdout=StringIO())
    out = StringIO()
    call_command("pagecache", "stats", stdout=out)
    assert out.getvalue().strip() == "No counters yet."


def test_a_down_redis_loses_no_counts(counting, private_cache, monkeypatch):
    monkeypatch.setattr(stats, "BATCH_EVENTS", 1)  # every lookup carries what is pending
    server = private_cache()
    client = Client()
    client.get("/page/")
    client.get("/page/")
    server.pause(1.0)  # Redis stops answering (its data stays)
    client.get("/page/")  # rendered uncached: its lookup timed out and gave its counts back
    assert stats.pending()[f"page|{PAGE}|hit"] == 1
    raw = server.client(socket_timeout=5)
    assert raw.ping()  # answered once the pause is over
    from pagecache import outage

    outage.reset()
    seen = counters()
    assert seen[("page", PAGE)]["hit"] == 1
    assert seen[("page", PAGE)]["miss"] == 2  # the render while Redis was down is a miss too


# -- OpenTelemetry ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def otel() -> Iterator[tuple[object, object]]:
    from opentelemetry import metrics, trace
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.metrics.export import InMemoryMetricReader
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    trace.set_tracer_provider(provider)
    reader = InMemoryMetricReader()
    metrics.set_meter_provider(MeterProvider(metric_readers=[reader]))
    from pagecache import telemetry

    telemetry.forget()
    yield exporter, reader
    telemetry.forget()


def test_lookups_stores_and_purges_are_spans(otel):
    exporter, _ = otel
    exporter.clear()  # type: ignore[attr-defined]
    client = Client()
    client.get("/page/")
    client.get("/page/")
    pagecache.purge_tags("page", "other")
    spans = [(s.name, dict(s.attributes)) for s in exporter.get_finished_spans()]  # type: ignore[attr-defined]
    lookups = [a for n, a in spans if n == "pagecache.lookup"]
    assert [a["pagecache.status"] for a in lookups] == ["miss", "fresh"]
    assert all(a["pagecache.key"] == "pc:p1:http://testserver/page/" for a in lookups)
    (store,) = [a for n, a in spans if n == "pagecache.store"]
    assert store["pagecache.key"] == "pc:p1:http://testserver/page/"
    assert 100 < store["pagecache.bytes"] < 3000  # the 3 KB page, compressed
    (purge,) = [a for n, a in spans if n == "pagecache.purge"]
    assert purge == {"pagecache.tags": 2, "pagecache.soft": False}


def test_the_counters_are_metrics_too(otel, counting):
    _, reader = otel
    client = Client()
    client.get("/other/")
    client.get("/other/")
    data = reader.get_metrics_data()  # type: ignore[attr-defined]
    points = [
        (dict(p.attributes), p.value)
        for rm in data.resource_metrics
        for sm in rm.scope_metrics
        for metric in sm.metrics
        if metric.name == "pagecache.events"
        for p in metric.data.data_points
    ]
    values = {(a["name"], a["event"]): v for a, v in points if a["name"] == OTHER}
    assert values[(OTHER, "miss")] >= 1
    assert values[(OTHER, "hit")] >= 1


def test_without_opentelemetry_nothing_is_imported_and_spans_are_no_ops():
    import subprocess
    import sys

    code = """
import importlib.abc, sys
class Hide(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name == "opentelemetry" or name.startswith("opentelemetry."):
            raise ImportError(name)
sys.meta_path.insert(0, Hide())
import importlib.util
importlib.util.find_spec = (lambda f: (lambda name, *a: None if name.startswith("opentelemetry")
                            else f(name, *a)))(importlib.util.find_spec)
from pagecache import telemetry
with telemetry.span("pagecache.lookup", {"pagecache.key": "k"}) as span:
    span.set_attribute("pagecache.status", "fresh")
telemetry.counted("page", "home", "hit", 1)
assert not any(m.startswith("opentelemetry") for m in sys.modules), sorted(sys.modules)
print("ok")
"""
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.stdout.strip() == "ok", done.stderr
