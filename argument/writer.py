"""Writer process: the same data changes in every configuration, through the ORM, so each
cache's own hooks run (``DJANGO_SETTINGS_MODULE=argument.settings``, ``ARGUMENT_CONFIG``).

``python -m argument.writer --site site.json --start T1 --until T2 --interval I --port P
--out writes.jsonl``: from ``T1`` to ``T2`` (``time.monotonic()``), one write every ``I``
seconds, each inside ``transaction.atomic()``, rotating through these kinds (``race`` twice):

``title``       ``article.title = ...; article.save()``
``m2m-add``     ``article.tags.add(tag)`` / ``tag.articles.add(article)`` (alternating)
``comment``     ``Comment.objects.create(article=article, ...)``
``m2m-remove``  ``tag.articles.remove(article)`` / ``article.tags.remove(tag)``
``bulk``        ``QuerySet.update()`` of three titles, plus what the cache's documentation
                asks for after one: cacheops ``invalidated_update()`` instead of
                ``update()``; pagecache ``purge_queryset()`` after it; the others nothing
``bulk-bare``   the same ``QuerySet.update()`` with nothing after it
``race``        a title write, then twelve GETs of the pages showing that title (which
                must render: the write purged or invalidated them), then 2 to 30 ms later,
                while they render, a second title write: the ``race`` write (twice in
                each rotation, as races are rare events)

Each write is recorded (one JSON line) with the facts it set (see
:mod:`argument.checker`), when it began and when it was done: after the ``atomic()``
block returned, i.e. after the commit and every on-commit hook (cacheops' and cachalot's
invalidation, pagecache's purge at commit).
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import random
import sys
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor, wait
from pathlib import Path
from typing import IO, Any

from argument.checker import title_marker

RACERS = 12


class Racers:
    """A few threads with keep-alive connections, to GET pages all at once."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.local = threading.local()
        self.pool = ThreadPoolExecutor(RACERS, thread_name_prefix="racer")

    def _get(self, path: str) -> int:
        conn = getattr(self.local, "conn", None)
        if conn is None:
            conn = self.local.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        try:
            conn.request("GET", path)
            response = conn.getresponse()
            response.read()
            return response.status
        except (OSError, http.client.HTTPException):
            conn.close()
            self.local.conn = None
            return 0

    def start(self, paths: list[str]) -> list[Any]:
        return [self.pool.submit(self._get, path) for path in paths]

    def close(self) -> None:
        self.pool.shutdown(wait=True, cancel_futures=True)


class Writer:
    def __init__(self, args: argparse.Namespace, data: dict[str, Any], out: IO[str]) -> None:
        from django.conf import settings

        self.config = settings.CONFIG
        self.args = args
        self.out = out
        self.rng = random.Random(args.seed)
        info = {int(pk): item for pk, item in data["pool_info"].items()}
        self.pool = sorted(info)
        self.base = {pk: item["title"] for pk, item in info.items()}
        self.slug = {pk: item["slug"] for pk, item in info.items()}
        self.category = {pk: item["category"] for pk, item in info.items()}
        self.tags = {pk: set(item["tags"]) for pk, item in info.items()}
        self.comments = {int(pk): n for pk, n in data["comments"].items()}
        self.tag_slug = {pk: slug for slug, pk in data["tags"].items()}
        self.hot = sorted(data["hot_tags"])
        self.version = 0
        self.turn = 0
        self.sides = 0
        self.racers = Racers(args.port)

    # -- recording ------------------------------------------------------------------------

    def timed(self, kind: str, change: Callable[[], list[tuple[str, int]]]) -> None:
        from django.db import transaction

        t_begin = time.monotonic()
        with transaction.atomic():
            facts = change()
        t_done = time.monotonic()
        record = {"kind": kind, "t_begin": t_begin, "t_done": t_done, "facts": facts}
        self.out.write(json.dumps(record) + "\n")
        self.out.flush()

    def next_article(self) -> int:
        self.turn += 1
        return self.pool[self.turn % len(self.pool)]

    def next_version(self) -> int:
        self.version += 1
        return self.version

    # -- the writes -----------------------------------------------------------------------

    def title(self, pk: int, kind: str = "title") -> None:
        from demo_site.models import Article

        version = self.next_version()

        def change() -> list[tuple[str, int]]:
            article = Article.objects.get(pk=pk)
            article.title = f"{self.base[pk]} {title_marker(pk, version)}"
            article.save()
            return [(f"t:{pk}", version)]

        self.timed(kind, change)

    def m2m(self, add: bool) -> None:
        from demo_site.models import Article, Tag

        pairs = [(a, t) for a in self.pool for t in self.hot if (t in self.tags[a]) != add]
        if not pairs:
            return
        pk, tag_pk = self.rng.choice(pairs)
        from_article = self.sides % 2 == 0
        self.sides += 1

        def change() -> list[tuple[str, int]]:
            article, tag = Article.objects.get(pk=pk), Tag.objects.get(pk=tag_pk)
            if add and from_article:
                article.tags.add(tag)
            elif add:
                tag.articles.add(article)
            elif from_article:
                article.tags.remove(tag)
            else:
                tag.articles.remove(article)
            return [(f"m:{pk}:{tag_pk}", int(add))]

        self.timed("m2m-add" if add else "m2m-remove", change)
        if add:
            self.tags[pk].add(tag_pk)
        else:
            self.tags[pk].discard(tag_pk)

    def comment(self) -> None:
        from demo_site.models import Article, Comment

        pk = self.next_article()
        count = self.comments[pk] + 1

        def change() -> list[tuple[str, int]]:
            article = Article.objects.get(pk=pk)
            Comment.objects.create(article=article, name="Writer", text=f"Comment {count}.")
            return [(f"c:{pk}", count)]

        self.timed("comment", change)
        self.comments[pk] = count

    def bulk(self, documented: bool) -> None:
        from django.db.models import Case, CharField, Value, When

        from demo_site.models import Article

        pks = [self.next_article() for _ in range(3)]
        versions = {pk: self.next_version() for pk in pks}
        title = Case(
            *(
                When(pk=pk, then=Value(f"{self.base[pk]} {title_marker(pk, v)}"))
                for pk, v in versions.items()
            ),
            output_field=CharField(),
        )

        def change() -> list[tuple[str, int]]:
            rows = Article.objects.filter(pk__in=pks)
            if documented and self.config == "cacheops":
                rows.invalidated_update(title=title)  # type: ignore[attr-defined]
            else:
                rows.update(title=title)
            if documented and self.config == "pagecache":
                import pagecache

                pagecache.purge_queryset(Article.objects.filter(pk__in=pks))
            return [(f"t:{pk}", v) for pk, v in versions.items()]

        self.timed("bulk" if documented else "bulk-bare", change)

    def race(self) -> None:
        pk = self.next_article()
        self.title(pk)
        pages = [
            "/",
            f"/articles/{self.slug[pk]}/",
            f"/categories/{self.category[pk]}/",
            *(f"/tags/{self.tag_slug[t]}/" for t in sorted(self.tags[pk])),
        ]
        in_flight = self.racers.start([pages[i % len(pages)] for i in range(RACERS)])
        time.sleep(self.rng.uniform(0.002, 0.030))
        self.title(pk, kind="race")
        wait(in_flight, timeout=30)

    # -- the loop -------------------------------------------------------------------------

    def run(self) -> None:
        rotation: list[Callable[[], None]] = [
            lambda: self.title(self.next_article()),
            lambda: self.m2m(add=True),
            self.race,
            self.comment,
            lambda: self.m2m(add=False),
            lambda: self.bulk(documented=True),
            self.race,
            lambda: self.bulk(documented=False),
        ]
        moment = self.args.start
        step = 0
        try:
            while True:
                while (left := moment - time.monotonic()) > 0:
                    time.sleep(left)
                if time.monotonic() >= self.args.until:
                    break
                rotation[step % len(rotation)]()
                step += 1
                moment = max(moment + self.args.interval, time.monotonic())
        finally:
            self.racers.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m argument.writer")
    parser.add_argument("--site", type=Path, required=True)
    parser.add_argument("--start", type=float, required=True)
    parser.add_argument("--until", type=float, required=True)
    parser.add_argument("--interval", type=float, default=0.3)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args(argv)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "argument.settings")
    import django

    django.setup()
    data = json.loads(args.site.read_text())
    with open(args.out, "w", encoding="utf-8") as out:
        Writer(args, data, out).run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
