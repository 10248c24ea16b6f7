"""Benchmarks that run inside the orchestrator's own Django (config ``setup``, Redis db 0):
fragment hits, purges, and the CPU an entry's compression costs (with and without the
site dictionary)."""

from __future__ import annotations

import statistics
import time
from typing import Any

import redis

from .load import CountCommands

_BLOCK = (
    '{% for row in rows %}<article id="f-{{ row.position }}"><h2>{{ row.title }}</h2>'
    "<p class=\"meta\">{{ row.author }}, {{ row.published|date:'j F Y' }}</p>"
    "<p>{{ row.body }}</p></article>\n{% endfor %}"
)


def fragments(host: str, port: int, iterations: int, chunk: int = 500) -> dict[str, Any]:
    """Django's ``{% cache %}`` hit vs ``{% cachetag %}`` hit, per render, interleaved chunks."""
    from django.core.cache import cache
    from django.template import engines

    from .site.models import Row

    engine = engines["django"]
    rows = list(Row.objects.all()[:14])
    templates = {
        "django-cache": engine.from_string(
            '{% load cache %}<div>{% cache 60 "bench-fragment" %}' + _BLOCK + "{% endcache %}</div>"
        ),
        "cachetag": engine.from_string(
            '{% load cachetag %}<div>{% cachetag "bench-fragment" ttl=60 %}'
            + _BLOCK
            + "{% endcachetag %}</div>"
        ),
        "uncached": engine.from_string("<div>" + _BLOCK + "</div>"),
    }
    context = {"rows": rows}
    cache.delete_pattern("*bench-fragment*")
    outputs = {name: t.render(context) for name, t in templates.items()}  # misses: store
    outputs = {name: t.render(context) for name, t in templates.items()}  # hits
    if len(set(outputs.values())) != 1:
        raise RuntimeError("the three fragment templates render different HTML")
    size = len(outputs["uncached"].encode())

    commands: dict[str, Any] = {}
    for name in ("django-cache", "cachetag"):
        with CountCommands(host, port) as counted:
            for _ in range(100):
                templates[name].render(context)
        assert counted.result is not None
        commands[name] = counted.result.per(100)

    per_chunk: dict[str, list[float]] = {name: [] for name in templates}
    rounds = max(1, iterations // chunk)
    for _ in range(rounds):
        for name, tmpl in templates.items():
            render = tmpl.render
            started = time.perf_counter()
            for _ in range(chunk):
                render(context)
            per_chunk[name].append((time.perf_counter() - started) / chunk * 1e6)
    ratios = [t / d for t, d in zip(per_chunk["cachetag"], per_chunk["django-cache"], strict=True)]
    return {
        "fragment_bytes": size,
        "iterations": rounds * chunk,
        "us": {name: statistics.median(v) for name, v in per_chunk.items()},
        "us_min": {name: min(v) for name, v in per_chunk.items()},
        "ratio": statistics.median(ratios),
        "ratio_min": min(ratios),
        "ratio_max": max(ratios),
        "commands": commands,
    }


def purges(host: str, port: int, sizes: tuple[int, ...], runs: int) -> list[dict[str, Any]]:
    """Time and commands of ``purge_tags(tag)`` for a tag carried by N entries."""
    from django.conf import settings

    from pagecache import purge_tags
    from pagecache.core.entry import Entry, dumps
    from pagecache.core.freshness import State
    from pagecache.stores.select import get_store

    store = get_store()
    client = redis.Redis.from_url(settings.REDIS_LOCATION)
    purge_tags("bench.warm-up")  # loads the purge script into this process and Redis
    results = []
    for size in sizes:
        tag = f"bench.purge.{size}"
        clock = store.lookup(f"pc:p1:http://bench.invalid/clock/{size}").clock
        headers = (("Content-Type", "text/html"),)
        value = dumps(Entry(200, "OK", headers, b"<p>entry</p>", (tag,), clock, 3600, 0))
        keys = [f"pc:p1:http://bench.invalid/{size}/{i}" for i in range(size)]
        started = time.perf_counter()
        for first in range(0, size, 5000):
            pipe = client.pipeline(transaction=False)
            for key in keys[first : first + 5000]:
                pipe.set(key, value, px=3_600_000)
            pipe.execute()
        write_s = time.perf_counter() - started
        if store.lookup(keys[-1]).state is not State.FRESH:
            raise RuntimeError(f"purge bench: entry {keys[-1]} is not fresh before the purge")
        with CountCommands(host, port) as counted:
            purge_tags(tag)
        assert counted.result is not None
        if store.lookup(keys[-1]).state is not State.PURGED:
            raise RuntimeError(f"purge bench: entry {keys[-1]} is not purged after the purge")
        timings = []
        for _ in range(runs):
            started = time.perf_counter()
            purge_tags(tag)
            timings.append((time.perf_counter() - started) * 1000)
        results.append(
            {
                "entries": size,
                "ms_median": statistics.median(timings),
                "ms_min": min(timings),
                "ms_max": max(timings),
                "runs": runs,
                "write_s": write_s,
                "commands": counted.result.per(1),
            }
        )
        # Remove the entries again (this private Redis db is the benchmark's own).
        for first in range(0, size, 5000):
            client.unlink(*keys[first : first + 5000])
    client.close()
    return results


def purges_in_transactions(runs: int) -> list[dict[str, Any]]:
    """What ``purge_tags`` adds to a write transaction, on each database the bench has.

    Inside ``transaction.atomic()`` a purge is sent at once and again at commit, and writes
    its durable record in the transaction (under a savepoint), deleted after the commit's
    purge. Measured, interleaved, as medians of ``runs``: a one-row ``UPDATE`` alone (in a
    table of its own, so the benchmark page's rows never change); the same with
    ``purge_tags``; the same with the record switched off (what the record costs); and
    ``purge_tags`` outside any transaction.
    """
    from django.conf import settings
    from django.db import connections, transaction

    from pagecache import purge_tags
    from pagecache.purging import outbox

    results = []
    for alias in [a for a in ("default", "postgres") if a in settings.DATABASES]:
        with connections[alias].cursor() as cursor:
            cursor.execute(
                "CREATE TABLE IF NOT EXISTS bench_tx (id integer PRIMARY KEY, n integer)"
            )
            cursor.execute("DELETE FROM bench_tx")
            cursor.execute("INSERT INTO bench_tx (id, n) VALUES (1, 0)")
        tag = f"bench.tx.{alias}"

        def write(purge: bool, alias: str = alias, tag: str = tag) -> None:
            with transaction.atomic(using=alias):
                with connections[alias].cursor() as cursor:
                    cursor.execute("UPDATE bench_tx SET n = n + 1 WHERE id = 1")
                if purge:
                    purge_tags(tag)

        real_record = outbox.record

        def no_record(*args: Any, **kwargs: Any) -> None:
            return None

        timings: dict[str, list[float]] = {
            "write": [],
            "write_purge": [],
            "no_record": [],
            "purge": [],
        }
        for _ in range(runs):
            for name in timings:
                started = time.perf_counter()
                if name == "write":
                    write(False)
                elif name == "write_purge":
                    write(True)
                elif name == "no_record":
                    outbox.record = no_record  # type: ignore[assignment]
                    try:
                        write(True)
                    finally:
                        outbox.record = real_record
                else:
                    purge_tags(tag)
                timings[name].append((time.perf_counter() - started) * 1000)
        medians = {name: statistics.median(values) for name, values in timings.items()}
        results.append(
            {
                "database": str(settings.DATABASES[alias]["ENGINE"]).rsplit(".", 1)[-1],
                "runs": runs,
                "write_ms": medians["write"],
                "write_purge_ms": medians["write_purge"],
                "write_purge_no_record_ms": medians["no_record"],
                "purge_ms": medians["purge"],
                "record_ms": medians["write_purge"] - medians["no_record"],
            }
        )
    return results


def compression(page: bytes, samples: int = 128, repeat: int = 5) -> dict[str, Any]:
    """CPU per store and per hit of the 20 KB page's entry, with and without a site
    dictionary trained on ``samples`` other pages of the bench site (``/pages/<n>/``): the
    best of ``repeat`` timed loops, in µs; and the bytes each way stores."""
    import timeit

    from django.template.loader import render_to_string

    from pagecache.core import compression as codecs
    from pagecache.core import entry as entries
    from pagecache.core.dictionary import dictionary_size

    from .site.content import row_values

    def entry_of(body: bytes) -> entries.Entry:
        headers = (("Content-Type", "text/html; charset=utf-8"), ("X-Frame-Options", "DENY"))
        return entries.Entry(200, "OK", headers, body, (), 1_795_000_000_000_000, 3600, 0)

    def payload_of(body: bytes) -> bytes:
        value = entries.dumps(entry_of(body), compress_min=10**9)
        return value.partition(b"\n")[2][1:]

    trainees = [
        payload_of(render_to_string("bench/page.html", {"rows": row_values(n)}).encode())
        for n in range(100, 100 + samples)
    ]
    started = time.perf_counter()
    trained = codecs.train(trainees, dictionary_size(sum(map(len, trainees))))
    train_ms = (time.perf_counter() - started) * 1000
    if trained is None:
        raise RuntimeError("zstd trained no dictionary on the bench pages")
    trained.prepare(codecs.FAST_LEVEL)
    trained.prepare(codecs.SLOW_LEVEL)

    entry = entry_of(page)
    plain = entries.dumps(entry)
    fast = entries.dumps(entry, dictionary=trained)
    parts = entries.payload_of(fast, trained)
    assert parts is not None
    slow = entries.with_payload(*parts, trained, codecs.SLOW_LEVEL)
    assert entries.loads(slow, trained) == entries.loads(plain) == entry

    def best_us(call: Any, number: int) -> float:
        return min(timeit.repeat(call, number=number, repeat=repeat)) / number * 1e6

    return {
        "samples": samples,
        "dictionary_bytes": len(trained.data),
        "train_ms": train_ms,
        "bytes": {"plain": len(plain), "dictionary": len(fast), "recompressed": len(slow)},
        "store_us": {
            "plain": best_us(lambda: entries.dumps(entry), 500),
            "dictionary": best_us(lambda: entries.dumps(entry, dictionary=trained), 500),
            "recompress": best_us(
                lambda: entries.with_payload(*parts, trained, codecs.SLOW_LEVEL), 10
            ),
        },
        "hit_us": {
            "plain": best_us(lambda: entries.loads(plain), 1000),
            "dictionary": best_us(lambda: entries.loads(fast, trained), 1000),
            "recompressed": best_us(lambda: entries.loads(slow, trained), 1000),
        },
    }
