"""The recent purges that ``/cache/`` lists, kept in Redis.

``pagecache.signals.tags_purged`` is sent once per completed purge, in whichever process
delivered it; a list in Redis (LPUSH + LTRIM) lets every process — each runserver thread,
each gunicorn worker — show the same history.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from redis.exceptions import RedisError

logger = logging.getLogger(__name__)

KEY = "pagecache-demo:purges"
KEEP = 50


@dataclass(frozen=True)
class LoggedPurge:
    at: datetime
    tags: tuple[str, ...]
    soft: bool

    @property
    def kind(self) -> str:
        return "soft" if self.soft else "hard"

    @property
    def ago(self) -> str:
        seconds = max(0, round((datetime.now(tz=UTC) - self.at).total_seconds()))
        if seconds < 120:
            return f"{seconds} s ago"
        if seconds < 7200:
            return f"{seconds // 60} min ago"
        return f"{seconds // 3600} h ago"


def _client() -> Any:
    from django_redis import get_redis_connection

    return get_redis_connection("default")


def record(sender: object, tags: tuple[str, ...], soft: bool, **kwargs: Any) -> None:
    """``tags_purged`` receiver: add the purge to the list (never fails the purge)."""
    entry = json.dumps({"at": time.time(), "tags": list(tags), "soft": bool(soft)})
    try:
        pipe = _client().pipeline()
        pipe.lpush(KEY, entry)
        pipe.ltrim(KEY, 0, KEEP - 1)
        pipe.execute()
    except RedisError as exc:
        logger.warning("demo: could not log the purge of %s: %s", " ".join(tags), exc)


def recent(limit: int = KEEP) -> list[LoggedPurge]:
    """The latest purges, newest first (empty if Redis does not answer)."""
    try:
        raw = _client().lrange(KEY, 0, limit - 1)
    except RedisError as exc:
        logger.warning("demo: could not read the purge log: %s", exc)
        return []
    purges = []
    for item in raw:
        data = json.loads(item)
        purges.append(
            LoggedPurge(
                at=datetime.fromtimestamp(data["at"], tz=UTC),
                tags=tuple(data["tags"]),
                soft=data["soft"],
            )
        )
    return purges
