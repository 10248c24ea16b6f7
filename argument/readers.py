"""Reader process: threads GETting the demo's pages over keep-alive connections.

``python -m argument.readers --port P --site site.json --threads N --measure-from T1
--until T2 --seed S --out reads.json``: each thread keeps one HTTP/1.1 connection and
requests, until ``T2`` (``time.monotonic()``), home 20 %, an article 45 % (four in five
of them the articles the writer changes), a section 15 %, a topic 20 % (four in five of
them the topics the writer links and unlinks). Responses that started at or after ``T1``
are kept, each with the facts it shows (:func:`argument.checker.observe`), and written
as JSON when the threads are done. Readers send no cookies (first-time visitors, crawlers,
a CDN's fetches).
"""

from __future__ import annotations

import argparse
import http.client
import json
import random
import sys
import threading
import time
from pathlib import Path
from typing import Any

from argument.checker import Site, observe

TIMEOUT = 30.0


def load_site(data: dict[str, Any]) -> Site:
    return Site(
        pool={int(pk): slug for pk, slug in data["pool"].items()},
        tags=dict(data["tags"]),
        hot_tags=frozenset(data["hot_tags"]),
    )


def pick_path(rng: random.Random, data: dict[str, Any]) -> str:
    roll = rng.random()
    if roll < 0.20:
        return "/"
    if roll < 0.65:
        if rng.random() < 0.8:
            return f"/articles/{rng.choice(list(data['pool'].values()))}/"
        return f"/articles/{rng.choice(data['others'])}/"
    if roll < 0.80:
        return f"/categories/{rng.choice(data['categories'])}/"
    hot = [slug for slug, pk in data["tags"].items() if pk in data["hot_tags"]]
    if rng.random() < 0.8:
        return f"/tags/{rng.choice(hot)}/"
    return f"/tags/{rng.choice(list(data['tags']))}/"


class Reader(threading.Thread):
    def __init__(
        self, index: int, args: argparse.Namespace, data: dict[str, Any], site: Site
    ) -> None:
        super().__init__(name=f"reader-{index}", daemon=True)
        self.rng = random.Random(args.seed * 1000 + index)
        self.args = args
        self.data = data
        self.site = site
        self.records: list[list[Any]] = []
        self.conn: http.client.HTTPConnection | None = None

    def _get(self, path: str) -> tuple[int, dict[str, str], bytes]:
        for attempt in (1, 2):
            conn = self.conn
            if conn is None:
                conn = http.client.HTTPConnection("127.0.0.1", self.args.port, timeout=TIMEOUT)
                self.conn = conn
            try:
                conn.request("GET", path)
                response = conn.getresponse()
                body = response.read()
                headers = {k.lower(): v for k, v in response.getheaders()}
                if headers.get("connection", "").lower() == "close":
                    conn.close()
                    self.conn = None
                return response.status, headers, body
            except (OSError, http.client.HTTPException):
                conn.close()
                self.conn = None
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")

    def run(self) -> None:
        while (t_start := time.monotonic()) < self.args.until:
            path = pick_path(self.rng, self.data)
            try:
                status, headers, body = self._get(path)
            except (OSError, http.client.HTTPException):
                status, headers, body = 0, {}, b""
            t_end = time.monotonic()
            if t_start < self.args.measure_from:
                continue
            shown = observe(self.site, path, body.decode("utf-8", "replace")) if status else {}
            self.records.append(
                [
                    t_start,
                    t_end,
                    path,
                    status,
                    headers.get("x-cache", ""),
                    int(headers.get("x-queries", "-1")),
                    shown,
                ]
            )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m argument.readers")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--site", type=Path, required=True)
    parser.add_argument("--threads", type=int, default=6)
    parser.add_argument("--measure-from", type=float, required=True)
    parser.add_argument("--until", type=float, required=True)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args(argv)
    data = json.loads(args.site.read_text())
    site = load_site(data)
    readers = [Reader(i, args, data, site) for i in range(args.threads)]
    for reader in readers:
        reader.start()
    for reader in readers:
        reader.join(args.until - time.monotonic() + TIMEOUT + 5)
    records = [record for reader in readers for record in reader.records]
    args.out.write_text(json.dumps(records))
    return 0


if __name__ == "__main__":
    sys.exit(main())
