"""What a dead purger costs a request: ``python -m bench.dead_purger``.

In one process on tests/edge_site.py (a private redis-server), 300 rounds of a
``purge_tags`` call and a cache hit, with no purger and with a Varnish purger whose server
accepts connections and never answers (2 s timeout, 3 retries). The purger runs in a
background thread (pagecache.purging.edge), so neither median should move.
"""

from __future__ import annotations

import os
import socket
import statistics
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
ROUNDS = 300


def main() -> int:
    sys.path.insert(0, str(ROOT))
    from tests.redis_harness import RedisServer

    server = RedisServer().start()
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(ROUNDS * 4)  # accepts, never answers
    dead = f"http://127.0.0.1:{listener.getsockname()[1]}"
    os.environ.update(DJANGO_SETTINGS_MODULE="tests.edge_site", REDIS_URL=server.url)
    try:
        import django

        django.setup()
        purger = {"BACKEND": "pagecache.purgers.VarnishXkeyPurger",
                  "OPTIONS": {"SERVERS": [dead], "TIMEOUT": 2.0}}  # fmt: skip
        # A B B A, twice: drift over the run weighs on both alike.
        for first_dead in (False, True, False, True):
            order = [True, False] if first_dead else [False, True]
            for dead_purger in order:
                if dead_purger:
                    measure("dead Varnish purger", {"TTL": 30, "PURGERS": [purger]})
                else:
                    measure("no purger", {"TTL": 30})
    finally:
        listener.close()
        server.stop()
    return 0


def measure(label: str, settings: dict[str, Any]) -> None:
    from django.test import Client, override_settings

    import pagecache

    with override_settings(PAGECACHE=settings):
        client = Client(HTTP_HOST="edge.test")
        client.get("/article/1/")
        purges, hits = [], []
        for i in range(ROUNDS):
            started = time.perf_counter()
            pagecache.purge_tags(f"blog.article:{1000 + i}")
            purges.append(time.perf_counter() - started)
            started = time.perf_counter()
            response = client.get("/article/1/")
            hits.append(time.perf_counter() - started)
            assert response["X-Cache"] == "HIT", response["X-Cache"]
    print(f"{label:20} purge_tags {_ms(purges)} | hit {_ms(hits)}", flush=True)


def _ms(values: list[float]) -> str:
    p99 = sorted(values)[int(len(values) * 0.99)]
    return f"median {statistics.median(values) * 1e3:.3f} ms, p99 {p99 * 1e3:.3f} ms"


if __name__ == "__main__":
    sys.exit(main())
