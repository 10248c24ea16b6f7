"""The synthetic content: deterministic rows, and the precomputed page bytes on disk."""

from __future__ import annotations

import datetime as dt
import os
import random
from pathlib import Path

ROWS = 40
PAGE_FILE = "page.html"

_VOCABULARY = (
    "cache redis page fragment purge tag render request response latency throughput "
    "django template model query worker socket header vary stale fresh lock clock entry "
    "server client memory round trip middleware view stampede version floor hash script"
)
_WORDS = _VOCABULARY.split()


def data_dir() -> Path:
    default = Path(__file__).resolve().parent.parent / "data"
    return Path(os.environ.get("BENCH_DATA_DIR", default))


#: The seed of ``/page/``'s rows; ``/pages/<n>/`` renders the same template from seed ``n``.
PAGE_SEED = 8


def row_values(seed: int = PAGE_SEED) -> list[dict[str, object]]:
    """The rows of the page (about 20 KB of HTML once rendered); another ``seed`` gives
    another page of the same site (same markup, other words)."""
    rng = random.Random(seed)
    base = dt.datetime(2024, 1, 1, 12, 0, tzinfo=dt.UTC)
    rows = []
    for position in range(ROWS):
        title = " ".join(rng.choice(_WORDS) for _ in range(6)).capitalize()
        body = " ".join(rng.choice(_WORDS) for _ in range(36)).capitalize() + "."
        rows.append(
            {
                "position": position,
                "title": title,
                "author": f"Author {rng.randint(1, 12)}",
                "published": base + dt.timedelta(hours=7 * position),
                "body": body,
                "score": rng.randint(0, 100),
            }
        )
    return rows


def page_bytes() -> bytes:
    """The page as rendered by the template, written by ``bench.run`` during setup."""
    path = data_dir() / PAGE_FILE
    try:
        return path.read_bytes()
    except OSError as exc:
        hint = "run the benchmark with `python -m bench.run`"
        raise RuntimeError(f"{path} is missing: {hint}") from exc
