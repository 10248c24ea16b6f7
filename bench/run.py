"""Run the benchmark: ``python -m bench.run [--quick]`` (``make bench`` / ``make bench-quick``).

Starts a private redis-server and one gunicorn per configuration, loads them with wrk in
interleaved rounds, measures fragments, purges, stampedes and memory, and writes
``docs/benchmarks.md``, ``docs/bench.png`` and ``bench/data/last.json``.
See docs/benchmarks.md for what each configuration is.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import contextlib
import datetime as dt
import http.client
import importlib.util
import json
import os
import platform
import shutil
import signal
import sqlite3
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path
from types import FrameType
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
DATA_DIR = ROOT / "bench" / "data"
DOCS = ROOT / "docs"

if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.load import (  # noqa: E402
    CountCommands,
    Reply,
    ensure_wrk,
    get,
    run_wrk,
    wrk_version,
)
from bench.procs import Gunicorn, start_all  # noqa: E402
from tests.redis_harness import RedisServer  # noqa: E402

#: Configurations whose hits are checked to come from a cache, and how.
EXPECT = {
    "uncached": "renders every time",
    "django-site-cache": "same X-Render on every request",
    "django-cache-page": "same X-Render on every request",
    "cacheops": "X-Queries: 0 (querysets from cacheops)",
    "cachalot": "X-Queries: 0 (queries from cachalot)",
    "minimal-middleware": "X-Cache: HIT",
    "minimal-wsgi": "X-Cache: HIT",
    "pagecache-middleware": "X-Cache: HIT",
    "pagecache-wsgi": "X-Cache: HIT",
    "pagecache-stale": "X-Cache: STALE",
    "pagecache-stats": "X-Cache: HIT",
    "asgi-django-site-cache": "same X-Render on every request",
    "asgi-minimal": "X-Cache: HIT",
    "demo-home-uncached": "renders every time",
    "demo-home-site-cache": "the same page on every request",
    "demo-home-pagecache": "X-Cache: HIT",
    "demo-article-site-cache": "whatever Django's site cache does with a form page",
    "demo-article-pagecache": "X-Cache: HIT",
    "asgi-pagecache-middleware": "X-Cache: HIT",
    "asgi-pagecache-asgi": "X-Cache: HIT",
}
CACHED = [c for c in EXPECT if c != "uncached"]
PAGECACHE_CONFIGS = (
    "pagecache-middleware",
    "pagecache-wsgi",
    "asgi-pagecache-middleware",
    "asgi-pagecache-asgi",
)
STAMPEDE_CONFIGS = ("django-site-cache", "pagecache-middleware")
STAMPEDE_CLIENTS = 32
STAMPEDE_RENDER_SLEEP = 0.1
COUNT_REQUESTS = 100

_started = time.monotonic()


def say(message: str) -> None:
    print(f"[{time.monotonic() - _started:6.1f}s] {message}", flush=True)


def _raise_exit(signum: int, frame: FrameType | None) -> None:
    raise SystemExit(128 + signum)


# -- setup -------------------------------------------------------------------------------------


def setup_django(redis_url: str) -> bytes:
    """Configure this process as the ``setup`` configuration, create the database and rows,
    and render the page once; its bytes are what ``bare`` and the limit controls serve."""
    db = DATA_DIR / "bench.sqlite3"
    for suffix in ("", "-wal", "-shm", "-journal"):
        Path(f"{db}{suffix}").unlink(missing_ok=True)
    postgres_db = _postgres_bench_db()
    if postgres_db:
        os.environ["BENCH_POSTGRES_DB"] = postgres_db
    os.environ.update(
        {
            "BENCH_CONFIG": "setup",
            "BENCH_REDIS_URL": redis_url,
            "BENCH_DATA_DIR": str(DATA_DIR),
            "DJANGO_SETTINGS_MODULE": "bench.site.settings",
        }
    )
    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command
    from django.template.loader import render_to_string

    from bench.site.content import PAGE_FILE, row_values
    from bench.site.models import Row

    call_command("migrate", run_syncdb=True, verbosity=0)
    if "postgres" in settings.DATABASES:
        call_command("migrate", database="postgres", run_syncdb=True, verbosity=0)
    Row.objects.bulk_create(Row(**values) for values in row_values())  # type: ignore[arg-type]
    body = render_to_string("bench/page.html", {"rows": Row.objects.all()}).encode()
    (DATA_DIR / PAGE_FILE).write_bytes(body)
    return body


def _postgres_bench_db() -> str | None:
    """A fresh PostgreSQL database for the transaction measurements, if a server is up."""
    try:
        import psycopg

        with psycopg.connect(
            "host=127.0.0.1 port=5432 user=postgres dbname=postgres",
            autocommit=True,
            connect_timeout=2,
        ) as conn:
            name = "pagecache_bench"
            conn.execute(f"DROP DATABASE IF EXISTS {name}")
            conn.execute(f"CREATE DATABASE {name}")
            return name
    except Exception as exc:
        say(f"PostgreSQL not used for the purge-in-transaction measurement: {exc}")
        return None


def child_env(redis_url: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        {
            "BENCH_REDIS_URL": redis_url,
            "BENCH_DATA_DIR": str(DATA_DIR),
            "DJANGO_SETTINGS_MODULE": "bench.site.settings",
            "PYTHONPATH": os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH")) if p),
        }
    )
    for name in (
        "BENCH_CONFIG",
        "BENCH_REDIS_DB",
        "BENCH_COUNT_RENDERS",
        "BENCH_RENDER_SLEEP",
        "BENCH_POSTGRES_DB",
        "BENCH_CLUSTER_URLS",
    ):
        env.pop(name, None)
    return env


def redis_db(config: str) -> int:
    from bench.site.settings import CONFIGS

    return CONFIGS.index(config) + 1


DEMO_ARTICLE_PATH = DATA_DIR / "demo-article-path"


def path_of(config: str) -> str:
    if config.startswith("demo-home-"):
        return "/"
    if config.startswith("demo-article-"):
        return DEMO_ARTICLE_PATH.read_text().strip()
    return "/const/" if config == "django-const" else "/page/"


def setup_demo(env: dict[str, str]) -> None:
    """A fresh demo database (1,000 articles) for the ``demo-*`` configurations, and the
    path of its newest article."""
    demo_env = {
        **env,
        "BENCH_CONFIG": "demo-home-pagecache",
        "DJANGO_SETTINGS_MODULE": "bench.site.demo_settings",
    }
    shutil.rmtree(DATA_DIR / "demo", ignore_errors=True)
    for command in (["migrate", "-v", "0"], ["seed_demo", "--articles", "1000"]):
        subprocess.run(
            [sys.executable, "-m", "django", *command],
            env=demo_env,
            cwd=ROOT,
            check=True,
            stdout=subprocess.DEVNULL,
        )
    database = sqlite3.connect(DATA_DIR / "demo" / "db.sqlite3")
    try:
        (slug,) = database.execute(
            "SELECT slug FROM demo_site_article ORDER BY published_at DESC, id DESC LIMIT 1"
        ).fetchone()
    finally:
        database.close()
    DEMO_ARTICLE_PATH.write_text(f"/articles/{slug}/")


# -- throughput --------------------------------------------------------------------------------


def entry_key(server: Gunicorn, path: str = "/page/") -> str:
    return f"pc:p1:http://{server.host}:{server.port}{path}"


def hold_stale(server: Gunicorn, client: Any) -> None:
    """Make /page/'s entry stale and hold its render lock: every request is then STALE."""
    key = entry_key(server)
    if not client.exists(key):
        client.delete(f"{key}|lock")
        get(server.host, server.port, "/page/")
        if not client.exists(key):
            raise RuntimeError(f"pagecache-stale: {key} was not stored")
    client.set(f"{key}|lock", "somebody", px=600_000)
    deadline = time.monotonic() + 10
    while client.pttl(key) > 3_600_000:  # TTL 1 s: stale once only STALE_TTL is left
        if time.monotonic() > deadline:
            raise RuntimeError("pagecache-stale: the entry did not become stale")
        time.sleep(0.05)


def verify(config: str, server: Gunicorn, page: bytes) -> tuple[bool, str]:
    """Check that the warmed-up configuration answers the page the way it should."""
    replies: list[Reply] = [get(server.host, server.port, path_of(config)) for _ in range(3)]
    if config.startswith("demo-"):
        return verify_demo(config, replies)
    for reply in replies:
        if reply.status != 200 or reply.body != page:
            return False, f"status {reply.status}, {len(reply.body)} bytes (expected the page)"
    headers = [r.headers for r in replies]
    renders = [h.get("x-render") for h in headers]
    if config == "uncached":
        ok = len(set(renders)) == 3
        return ok, f"X-Render {renders}"
    if config in ("django-site-cache", "django-cache-page", "asgi-django-site-cache"):
        ok = len(set(renders)) == 1 and renders[0] is not None
        return ok, f"X-Render {renders}"
    if config in ("cacheops", "cachalot"):
        queries = [h.get("x-queries") for h in headers]
        return queries == ["0"] * 3, f"X-Queries {queries}"
    if config in EXPECT:
        want = "STALE" if config == "pagecache-stale" else "HIT"
        got = [h.get("x-cache") for h in headers]
        return got == [want] * 3, f"X-Cache {got}"
    return True, "page bytes"


def verify_demo(config: str, replies: list[Reply]) -> tuple[bool, str]:
    """The demo's pages differ per render (fragments stamp their render time): a page
    served from a cache is the same bytes each time."""
    if any(r.status != 200 for r in replies):
        return False, f"statuses {[r.status for r in replies]}"
    same = len({r.body for r in replies}) == 1
    if config.endswith("-pagecache"):
        got = [r.headers.get("x-cache") for r in replies]
        return got == ["HIT"] * 3, f"X-Cache {got}"
    if config.endswith("-uncached"):
        return not same, "rendered every time" if not same else "the same bytes (unexpected)"
    detail = "the same bytes each time (cached)" if same else "rendered every time (not cached)"
    return config != "demo-home-site-cache" or same, detail


def count_commands(server: Gunicorn, config: str, redis_server: RedisServer) -> dict[str, Any]:
    with CountCommands(redis_server.host, redis_server.port) as counted:
        for _ in range(COUNT_REQUESTS):
            get(server.host, server.port, path_of(config))
    assert counted.result is not None
    return counted.result.per(COUNT_REQUESTS)


def throughput(
    configs: list[str],
    env: dict[str, str],
    redis_server: RedisServer,
    wrk: str,
    page: bytes,
    rounds: int,
    seconds: float,
    warm_seconds: float,
    notes: list[str],
) -> dict[str, Any]:
    servers = {c: Gunicorn(c, env, DATA_DIR / "logs") for c in configs}
    say(f"starting {len(servers)} gunicorn servers (1 sync worker each)")
    failed = start_all(list(servers.values()))
    for name, error in failed.items():
        notes.append(f"`{name}` did not start and was skipped: {error.splitlines()[0]}")
        say(f"  {name}: FAILED to start:\n{error}")
        servers.pop(name)
    clients = {c: redis_server.client(db=redis_db(c)) for c in servers}
    result: dict[str, Any] = {"configs": {}}
    try:
        for config, server in servers.items():
            run_wrk(wrk, server.url(path_of(config)), warm_seconds)
            if config == "pagecache-stale":
                hold_stale(server, clients[config])
            ok, detail = verify(config, server, page)
            say(
                f"  warmed {config:22} port {server.port}: {'ok' if ok else 'CHECK FAILED'} "
                f"({detail})"
            )
            if not ok:
                notes.append(f"`{config}`: warm-up check failed: {detail}")
            commands = count_commands(server, config, redis_server)
            result["configs"][config] = {
                "port": server.port,
                "check": {"ok": ok, "expect": EXPECT.get(config, "the page"), "seen": detail},
                "commands": commands,
                "rounds": [],
            }
        for number in range(1, rounds + 1):
            say(f"round {number}/{rounds} ({seconds:g} s per configuration)")
            for config, server in servers.items():
                if not server.alive():
                    raise RuntimeError(f"gunicorn for {config} died:\n{server.log_tail()}")
                if config == "pagecache-stale":
                    hold_stale(server, clients[config])
                measured = run_wrk(wrk, server.url(path_of(config)), seconds)
                if measured.errors:
                    notes.append(f"`{config}` round {number}: {measured.errors}")
                result["configs"][config]["rounds"].append(
                    {
                        "rps": measured.rps,
                        "p50_ms": measured.p50_ms,
                        "p99_ms": measured.p99_ms,
                        "requests": measured.requests,
                        "errors": measured.errors,
                    }
                )
                say(
                    f"  {config:22} {measured.rps:8.0f} req/s  p99 {measured.p99_ms:6.2f} ms"
                    + (f"  ({measured.errors})" if measured.errors else "")
                )
        for config in (*PAGECACHE_CONFIGS, "pagecache-stale"):
            if config in servers:  # still answering from the cache after the load?
                ok, detail = verify(config, servers[config], page)
                if not ok:
                    notes.append(f"`{config}`: check after the rounds failed: {detail}")
        result["memory"] = memory(servers, clients)
    finally:
        for server in servers.values():
            server.stop()
        for client in clients.values():
            client.close()
    return result


# -- memory ------------------------------------------------------------------------------------


def memory(servers: dict[str, Gunicorn], clients: dict[str, Any]) -> dict[str, Any]:
    """MEMORY USAGE of every key each cache wrote for /page/."""
    out: dict[str, Any] = {}
    for config in (
        "django-site-cache",
        "django-cache-page",
        "pagecache-middleware",
        "minimal-middleware",
    ):
        if config not in servers:
            continue
        client = clients[config]
        page_keys, shared, other = [], [], []
        for raw in sorted(client.scan_iter(count=1000)):
            key = raw.decode(errors="replace")
            item = {
                "key": key,
                "bytes": int(client.memory_usage(raw, samples=0) or 0),
                "value_bytes": int(client.strlen(raw)) if client.type(raw) == b"string" else None,
            }
            if config.startswith("django"):
                (page_keys if "views.decorators.cache" in key else other).append(item)
            elif config == "minimal-middleware":
                (page_keys if key.startswith("bench:minimal") else other).append(item)
            elif key == "pc:tags":
                shared.append(item)
            elif key.startswith(entry_key(servers[config])) and not key.endswith("|lock"):
                page_keys.append(item)  # the entry and any Vary variant/marker
            else:
                other.append(item)
        out[config] = {
            "page_keys": page_keys,
            "page_bytes": sum(i["bytes"] for i in page_keys),
            "shared": shared,
            "other": other,
        }
        say(f"  memory {config:22} {out[config]['page_bytes']:6d} bytes in {len(page_keys)} key(s)")
    # (bench.compare runs this harness against older pagecaches, which have no dictionary.)
    if "pagecache-middleware" in servers and importlib.util.find_spec("pagecache.dictionary"):
        config = "pagecache-middleware"
        out[DICTIONARY_MEMORY] = dictionary_memory(servers[config], clients[config])
        used = out[DICTIONARY_MEMORY]["page_bytes"]
        say(f"  memory {DICTIONARY_MEMORY:22} {used:6d} bytes (site dictionary)")
    return out


#: The memory row of pagecache-middleware once its site dictionary is trained.
DICTIONARY_MEMORY = "pagecache-dictionary"
#: /pages/<n>/ rendered per warm-up step, the pause between steps (the dictionary thread
#: samples every store, and recompresses at most a quarter of a core's worth), the limit.
DICTIONARY_STEP_PAGES = 16
DICTIONARY_STEP_PAUSE = 0.5
DICTIONARY_WARM_SECONDS = 120.0


def dictionary_memory(server: Gunicorn, client: Any) -> dict[str, Any]:
    """The site dictionary at work: render other pages of the bench site (``/pages/<n>/``,
    the same template over other rows) until the dictionary is trained on a full sample,
    then store /page/ again, wait for its background recompression, and take MEMORY USAGE
    of its keys as :func:`memory` does."""
    from pagecache.core.dictionary import FULL_SAMPLES, Current

    deadline = time.monotonic() + DICTIONARY_WARM_SECONDS
    rendered = 0
    while True:
        current = Current.loads(client.get("pc:zd:current"))
        if current is not None and current.samples >= FULL_SAMPLES:
            break
        if time.monotonic() > deadline:
            raise RuntimeError(f"no dictionary trained on {FULL_SAMPLES} pages: {current}")
        for _ in range(DICTIONARY_STEP_PAGES):
            get(server.host, server.port, f"/pages/{100 + rendered}/")
            rendered += 1
        time.sleep(DICTIONARY_STEP_PAUSE)
    time.sleep(2 * DICTIONARY_STEP_PAUSE)  # the last pages' recompression
    key = entry_key(server)
    client.delete(key)
    reply = get(server.host, server.port, "/page/")
    if reply.headers.get("x-cache") != "MISS":
        raise RuntimeError(f"/page/ was not rendered again: {reply.headers}")
    stored_fast = int(client.strlen(key))
    fast = {"value_bytes": stored_fast, "bytes": int(client.memory_usage(key, samples=0) or 0)}
    settle = time.monotonic() + 10
    while int(client.strlen(key)) == stored_fast and time.monotonic() < settle:
        time.sleep(0.05)
    page_keys, shared = [], []
    for raw in sorted(client.scan_iter(count=1000)):
        name = raw.decode(errors="replace")
        item = {
            "key": name,
            "bytes": int(client.memory_usage(raw, samples=0) or 0),
            "value_bytes": int(client.strlen(raw)) if client.type(raw) == b"string" else None,
        }
        if name.startswith(key) and not name.endswith("|lock"):
            page_keys.append(item)
        elif name == "pc:tags" or name.startswith("pc:zd:"):
            shared.append(item)
    return {
        "page_keys": page_keys,
        "page_bytes": sum(i["bytes"] for i in page_keys),
        "shared": shared,
        "before_recompression": fast,
        "warm_pages": rendered,
        "dictionary": {"id": f"{current.id:08x}", "samples": current.samples},
    }


# -- stampede ----------------------------------------------------------------------------------


def _stampede_once(server: Gunicorn) -> list[tuple[float, int, str]]:
    barrier = threading.Barrier(STAMPEDE_CLIENTS)

    def client(_: int) -> tuple[float, int, str]:
        conn = http.client.HTTPConnection(server.host, server.port, timeout=60)
        conn.connect()
        barrier.wait()
        started = time.perf_counter()
        conn.request("GET", "/page/")
        response = conn.getresponse()
        response.read()
        elapsed = time.perf_counter() - started
        conn.close()
        return elapsed * 1000, response.status, response.getheader("X-Cache") or ""

    with concurrent.futures.ThreadPoolExecutor(STAMPEDE_CLIENTS) as pool:
        return list(pool.map(client, range(STAMPEDE_CLIENTS)))


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * len(ordered) + 0.5) - 1))]


def stampede(env: dict[str, str], redis_server: RedisServer, trials: int) -> dict[str, Any]:
    from bench.site.views import RENDERS_KEY

    servers = {}
    for offset, config in enumerate(STAMPEDE_CONFIGS):
        stampede_env = {
            **env,
            "BENCH_COUNT_RENDERS": "1",
            "BENCH_RENDER_SLEEP": str(STAMPEDE_RENDER_SLEEP),
            "BENCH_REDIS_DB": str(20 + offset),
        }
        servers[config] = Gunicorn(
            config,
            stampede_env,
            DATA_DIR / "logs",
            workers=4,
            worker_class="gthread",
            threads=8,
            name=f"stampede-{config}",
        )
    say("starting stampede servers (4 gthread workers x 8 threads each)")
    failed = start_all(list(servers.values()))
    if failed:
        raise RuntimeError(f"stampede servers failed: {failed}")
    out: dict[str, Any] = {}
    try:
        for offset, (config, server) in enumerate(servers.items()):
            client = redis_server.client(db=20 + offset)
            # Let every worker load the app before the first trial.
            with concurrent.futures.ThreadPoolExecutor(32) as pool:
                list(pool.map(get, [server.host] * 64, [server.port] * 64, ["/ready/"] * 64))
            trials_out = []
            for _ in range(trials):
                get(server.host, server.port, "/page/")  # a cached copy to expire
                cached = get(server.host, server.port, "/page/")
                if config.startswith("django"):
                    doomed = list(client.scan_iter(match="*views.decorators.cache.cache_*"))
                else:
                    if cached.headers.get("x-cache") != "HIT":
                        raise RuntimeError(f"stampede: /page/ not cached: {cached.headers}")
                    doomed = [entry_key(server), f"{entry_key(server)}|lock"]
                if not doomed:
                    raise RuntimeError(f"stampede: no cache keys for {config}")
                client.delete(*doomed)
                client.set(RENDERS_KEY, 0)
                replies = _stampede_once(server)
                latencies = [r[0] for r in replies]
                statuses = sorted({r[1] for r in replies})
                trials_out.append(
                    {
                        "renders": int(client.get(RENDERS_KEY) or 0),
                        "p50_ms": statistics.median(latencies),
                        "p99_ms": _percentile(latencies, 0.99),
                        "max_ms": max(latencies),
                        "statuses": statuses,
                        "x_cache": {
                            label: sum(1 for r in replies if r[2] == label)
                            for label in sorted({r[2] for r in replies})
                        },
                    }
                )
            client.close()
            out[config] = {
                "trials": trials_out,
                "renders": [t["renders"] for t in trials_out],
                "p99_ms_median": statistics.median(t["p99_ms"] for t in trials_out),
                "p50_ms_median": statistics.median(t["p50_ms"] for t in trials_out),
            }
            say(
                f"  stampede {config:22} renders {out[config]['renders']}  "
                f"p99 {out[config]['p99_ms_median']:.0f} ms"
            )
    finally:
        for server in servers.values():
            server.stop()
    return out


# -- environment -------------------------------------------------------------------------------


def machine() -> dict[str, Any]:
    model = "?"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    return {"cpu": model, "cores": os.cpu_count(), "os": platform.platform()}


def versions(wrk: str, redis_server: RedisServer) -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    out = {"Python": platform.python_version()}
    for label, dist in (
        ("Django", "Django"),
        ("django-redis", "django-redis"),
        ("redis-py", "redis"),
        ("hiredis", "hiredis"),
        ("zstandard", "zstandard"),
        ("gunicorn", "gunicorn"),
        ("django-cacheops", "django-cacheops"),
        ("django-cachalot", "django-cachalot"),
        ("matplotlib", "matplotlib"),
    ):
        try:
            out[label] = version(dist)
        except PackageNotFoundError:
            out[label] = "not installed"
    client = redis_server.client()
    out["redis-server"] = str(client.info("server")["redis_version"])
    client.close()
    out["wrk"] = wrk_version(wrk)
    return out


# -- main --------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="one short round (under 2 minutes)")
    parser.add_argument("--rounds", type=int, help="interleaved rounds (default 5, quick 1)")
    parser.add_argument("--seconds", type=float, help="wrk seconds per measurement (10, quick 3)")
    parser.add_argument("--configs", help="comma-separated subset of configurations")
    parser.add_argument(
        "--throughput-only",
        action="store_true",
        help="hits only (no fragments, purges, stampede); writes bench/data/last.json, "
        "not docs/ (python -m bench.compare runs it against an older pagecache)",
    )
    args = parser.parse_args(argv)
    quick = args.quick
    rounds = args.rounds or (1 if quick else 5)
    seconds = args.seconds or (3.0 if quick else 10.0)
    warm_seconds = 1.0 if quick else 2.0
    fragment_iterations = 2_000 if quick else 20_000
    purge_runs = 5 if quick else 21
    stampede_trials = 1 if quick else 5

    signal.signal(signal.SIGTERM, _raise_exit)
    DATA_DIR.mkdir(parents=True, exist_ok=True)
    wrk = ensure_wrk()
    command = "make bench-quick" if quick else "make bench"
    extra = [a for a in (argv if argv is not None else sys.argv[1:]) if a != "--quick"]
    if extra:
        command = f"python -m bench.run {' '.join(argv if argv is not None else sys.argv[1:])}"
    notes: list[str] = []
    results: dict[str, Any] = {
        "mode": "quick" if quick else "full",
        "command": command,
        "date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "rounds": rounds,
        "seconds": seconds,
        "wrk_args": f"-t1 -c8 -d{seconds:g}s --latency",
        "machine": machine(),
        "notes": notes,
        "stampede_render_sleep": STAMPEDE_RENDER_SLEEP,
        "count_requests": COUNT_REQUESTS,
    }
    redis_server = RedisServer(extra_args=["--databases", "32"], data_dir=DATA_DIR / "redis")
    try:
        redis_server.start()
        say(f"private redis-server on {redis_server.host}:{redis_server.port}")
        page = setup_django(redis_server.url)
        results["page_bytes"] = len(page)
        say(f"page: {len(page)} bytes rendered from the database")
        results["versions"] = versions(wrk, redis_server)

        from bench import inprocess
        from bench.site.settings import CONFIGS

        if not args.throughput_only:
            say(f"fragments: {fragment_iterations} renders each")
            results["fragments"] = inprocess.fragments(
                redis_server.host, redis_server.port, fragment_iterations
            )
            f = results["fragments"]
            say(
                f"  {{% cache %}} {f['us']['django-cache']:.1f} us, {{% cachetag %}} "
                f"{f['us']['cachetag']:.1f} us, ratio {f['ratio']:.2f}"
            )
            say("purge: 10, 1,000 and 100,000 entries")
            results["purge"] = inprocess.purges(
                redis_server.host, redis_server.port, (10, 1_000, 100_000), purge_runs
            )
            for row in results["purge"]:
                say(
                    f"  {row['entries']:>7} entries: {row['ms_median']:.3f} ms, "
                    f"{row['commands']['top_level_per_op']:.0f} command(s)"
                )
            say("purge in a write transaction (the durable record)")
            results["purge_tx"] = inprocess.purges_in_transactions(purge_runs * 10)
            for row in results["purge_tx"]:
                say(
                    f"  {row['database']}: write {row['write_ms']:.3f} ms, + purge_tags "
                    f"{row['write_purge_ms']:.3f} ms (record {row['record_ms']:.3f} ms)"
                )
            say("compression: CPU per store and per hit, with and without the site dictionary")
            results["compression"] = inprocess.compression(page)
            c = results["compression"]
            say(
                f"  store {c['store_us']['plain']:.0f} us plain, {c['store_us']['dictionary']:.0f}"
                f" us with the dictionary, {c['store_us']['recompress']:.0f} us recompressing; "
                f"hit {c['hit_us']['plain']:.0f} / {c['hit_us']['dictionary']:.0f} us"
            )

        configs = list(CONFIGS)
        if args.configs:
            configs = [c for c in args.configs.split(",") if c in CONFIGS]
        if "pagecache-wsgi" in configs and importlib.util.find_spec("pagecache.wsgi") is None:
            configs.remove("pagecache-wsgi")
            notes.append("`pagecache-wsgi` skipped: `pagecache.wsgi` does not exist yet.")
            say("pagecache-wsgi skipped: pagecache.wsgi does not exist yet")
        env = child_env(redis_server.url)
        if any(c.startswith("demo-") for c in configs):
            say("demo site: migrate and seed 1,000 articles")
            setup_demo(env)
        measured = throughput(
            configs, env, redis_server, wrk, page, rounds, seconds, warm_seconds, notes
        )
        results["throughput"] = measured["configs"]
        results["memory"] = measured["memory"]
        if not args.throughput_only:
            say(
                f"stampede: {STAMPEDE_CLIENTS} clients on an expired page, "
                f"{stampede_trials} trial(s)"
            )
            results["stampede"] = stampede(env, redis_server, stampede_trials)
            from bench import scale

            say("scale: pagecache hits on a 3-master Redis Cluster vs one Redis")
            results["scale"] = {
                "cluster": scale.cluster_hits(
                    env, redis_server.url, wrk, rounds, seconds, DATA_DIR / "logs"
                ),
            }
            tags = 100_000 if quick else 1_000_000
            say(f"scale: tag-version state while {tags:,} distinct tags are purged")
            results["scale"]["tag_state"] = scale.tag_state(
                redis_server.url, tags, 1_000, 10.0, 2.0, 10.0 if quick else 45.0
            )
    finally:
        from bench.procs import stop_all

        stop_all()
        redis_server.stop()

    from bench import report

    results["elapsed_s"] = round(time.monotonic() - _started, 1)
    (DATA_DIR / "last.json").write_text(json.dumps(results, indent=2, default=str))
    if args.throughput_only:
        say(f"wrote bench/data/last.json ({results['elapsed_s']:.0f} s)")
        return 0
    report.write(results, DOCS / "benchmarks.md", DOCS / "bench.png")
    say(
        f"wrote docs/benchmarks.md, docs/bench.png and bench/data/last.json "
        f"({results['elapsed_s']:.0f} s)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
