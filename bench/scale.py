"""Scale measurements for ``make bench`` (SPEC §10, §11): hit throughput on a 3-master Redis
Cluster against a single Redis, and the size of the tag-version state while a million
distinct tags are purged over a run longer than the entries live.

Run alone with ``python -m bench.scale`` (after ``python -m bench.run`` prepared the site's
data), or as part of ``bench.run``, which adds the results to docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path
from typing import Any

from bench.load import ensure_wrk, get, run_wrk
from bench.procs import Gunicorn, start_all

ROOT = Path(__file__).resolve().parent.parent


def say(message: str) -> None:
    print(message, flush=True)


# -- cluster hit throughput ----------------------------------------------------------------


def cluster_hits(
    env: dict[str, str], single_url: str, wrk: str, rounds: int, seconds: float, log_dir: Path
) -> dict[str, Any]:
    """``pagecache-middleware`` hits on one Redis and on a 3-master cluster, interleaved."""
    from tests.cluster_harness import RedisClusterSet

    cluster = RedisClusterSet(masters=3, replicas=0)
    cluster.start()
    try:
        servers = {
            "single": Gunicorn(
                "pagecache-middleware",
                {**env, "BENCH_REDIS_URL": single_url, "BENCH_REDIS_DB": "30"},
                log_dir,
                name="scale-single",
            ),
            "cluster": Gunicorn(
                "pagecache-middleware",
                {**env, "BENCH_CLUSTER_URLS": ",".join(cluster.urls)},
                log_dir,
                name="scale-cluster",
            ),
        }
        failed = start_all(list(servers.values()))
        if failed:
            raise RuntimeError(f"scale servers did not start: {failed}")
        for name, server in servers.items():
            get(server.host, server.port, "/page/")
            reply = get(server.host, server.port, "/page/")
            if reply.headers.get("x-cache") != "HIT":
                raise RuntimeError(f"{name}: the page is not a HIT ({reply.headers})")
            run_wrk(wrk, server.url(), 1.0)
        rps: dict[str, list[float]] = {"single": [], "cluster": []}
        for number in range(rounds):
            order = ("single", "cluster") if number % 2 == 0 else ("cluster", "single")
            for name in order:
                result = run_wrk(wrk, servers[name].url(), seconds)
                if result.errors:
                    raise RuntimeError(f"{name}: {result.errors}")
                rps[name].append(result.rps)
            say(
                f"  round {number + 1}/{rounds}: single {rps['single'][-1]:.0f} req/s, "
                f"cluster {rps['cluster'][-1]:.0f} req/s"
            )
        ratios = [c / s for c, s in zip(rps["cluster"], rps["single"], strict=True)]
        return {
            "rps": rps,
            "ratios": ratios,
            "ratio": statistics.median(ratios),
            "single_median": statistics.median(rps["single"]),
            "cluster_median": statistics.median(rps["cluster"]),
        }
    finally:
        for server in locals().get("servers", {}).values():
            server.stop()
        cluster.stop()


# -- tag-version state ----------------------------------------------------------------------


def tag_state(
    redis_url: str, total: int, batch: int, life_s: float, lock_timeout_s: float, run_s: float
) -> dict[str, Any]:
    """Purge ``total`` distinct tags in batches, paced over ``run_s`` seconds (longer than an
    entry lives), and sample the versions hash: its field count and MEMORY USAGE."""
    import redis

    from pagecache.core.entry import Entry, dumps
    from pagecache.core.freshness import PRUNE_MARGIN_MS
    from pagecache.stores.redis import RedisStore

    client = redis.Redis.from_url(redis_url)
    prefix = "pcscale"
    allowance_ms = int(lock_timeout_s * 1000) + PRUNE_MARGIN_MS
    store = RedisStore(client, prefix, allowance_ms=allowance_ms)
    ttl = int(life_s / 2)
    entry = Entry(200, "OK", (), b"x", ("t",), store.clock(), ttl, ttl)
    store.save(f"{prefix}:p1:http://scale/", dumps(entry), ttl * 2)  # records the life
    purges = total // batch
    began = time.monotonic()
    samples: list[dict[str, float]] = []
    purge_ms: list[float] = []
    for number in range(purges):
        tags = [f"article:{number * batch + i}" for i in range(batch)]
        t0 = time.perf_counter()
        store.purge(tags, soft=False)
        purge_ms.append((time.perf_counter() - t0) * 1000)
        if number % max(1, purges // 60) == 0 or number == purges - 1:
            samples.append(
                {
                    "seconds": round(time.monotonic() - began, 1),
                    "purged": (number + 1) * batch,
                    "fields": client.hlen(store.tags_key),
                    "bytes": int(client.memory_usage(store.tags_key, samples=0) or 0),
                }
            )
        pause = began + run_s * (number + 1) / purges - time.monotonic()
        if pause > 0:
            time.sleep(pause)  # paced: the run must outlast the entries' life
    client.delete(store.tags_key, f"{prefix}:p1:http://scale/")
    window_s = life_s + allowance_ms / 1000
    return {
        "total": total,
        "batch": batch,
        "run_seconds": round(time.monotonic() - began, 1),
        "life_seconds": life_s,
        "window_seconds": window_s,
        "samples": samples,
        "max_fields": max(s["fields"] for s in samples),
        "max_bytes": max(s["bytes"] for s in samples),
        "final_fields": samples[-1]["fields"],
        "final_bytes": samples[-1]["bytes"],
        "purge_ms_median": statistics.median(purge_ms),
    }


def main(argv: list[str] | None = None) -> int:
    from bench.run import DATA_DIR, child_env, setup_django
    from tests.redis_harness import RedisServer

    parser = argparse.ArgumentParser(prog="python -m bench.scale", description=__doc__)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--tags", type=int, default=1_000_000)
    parser.add_argument("--tag-seconds", type=float, default=45.0, help="length of the purge run")
    args = parser.parse_args(argv)
    wrk = ensure_wrk()
    server = RedisServer(extra_args=["--databases", "32"])
    server.start()
    try:
        DATA_DIR.mkdir(parents=True, exist_ok=True)
        setup_django(server.url)  # the site's database and page, as bench.run prepares them
        results = {
            "cluster": cluster_hits(
                child_env(server.url), server.url, wrk, args.rounds, args.seconds,
                DATA_DIR / "logs",
            ),
            "tag_state": tag_state(server.url, args.tags, 1_000, 10.0, 2.0, args.tag_seconds),
        }  # fmt: skip
    finally:
        server.stop()
    (DATA_DIR / "scale.json").write_text(json.dumps(results, indent=2))
    say(json.dumps({k: v for k, v in results["tag_state"].items() if k != "samples"}, indent=2))
    say(f"cluster/single hit ratio {results['cluster']['ratio']:.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
