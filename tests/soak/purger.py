"""The soak's purger: a separate process that changes data behind Django's back and purges.

``python -m tests.soak.purger --out EVENTS.jsonl ...`` (started by :mod:`tests.soak.run`
with the site's settings in the environment) loops: it picks an article, bumps its
version with a bulk ``UPDATE`` (no signals, so no automatic purge) in a transaction and
reads the new value back, commits, then calls ``pagecache.purge_tags`` on the article's
tag, alternating soft and hard purges. After ``purge_tags`` returns it appends one JSON
line ``{"pk", "version", "soft", "t_done", "delivered", "pid"}``; ``t_done`` is
``time.monotonic()``, the host's CLOCK_MONOTONIC, the clock the orchestrator uses too.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import sys
import time
from types import FrameType


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", required=True, help="JSON-lines file to append events to")
    parser.add_argument("--interval", type=float, default=0.05, help="pause between purges")
    parser.add_argument("--duration", type=float, default=600.0, help="stop after this long")
    parser.add_argument("--pks", default="2-20", help="articles to purge, e.g. 2-20")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    stopping = False

    def stop(signum: int, frame: FrameType | None) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)

    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.soak.site.settings")
    django.setup()

    from django.db import transaction
    from django.db.models import F

    import pagecache
    from pagecache.purging.purge import pending_tags
    from tests.soak.site.models import Article

    first, _, last = args.pks.partition("-")
    pks = list(range(int(first), int(last or first) + 1))
    rng = random.Random(args.seed)
    deadline = time.monotonic() + args.duration
    count = 0
    with open(args.out, "a", encoding="utf-8") as out:
        Article.objects.exists()  # connect before saying ready
        out.write(json.dumps({"ready": True, "pid": os.getpid()}) + "\n")
        out.flush()
        while not stopping and time.monotonic() < deadline:
            pk = rng.choice(pks)
            soft = count % 2 == 0
            with transaction.atomic():
                Article.objects.filter(pk=pk).update(version=F("version") + 1)
                version = Article.objects.values_list("version", flat=True).get(pk=pk)
            pagecache.purge_tags(f"soaksite.article:{pk}", soft=soft)
            t_done = time.monotonic()
            delivered = not pending_tags()
            event = {
                "pk": pk,
                "version": version,
                "soft": soft,
                "t_done": t_done,
                "delivered": delivered,
                "pid": os.getpid(),
            }
            out.write(json.dumps(event) + "\n")
            out.flush()
            count += 1
            time.sleep(args.interval)
    return 0


if __name__ == "__main__":
    sys.exit(main())
