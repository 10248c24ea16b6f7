"""Keeping a failing cache from hurting the site.

:class:`Breaker` remembers that the cache just failed and, for a short back-off, tells
callers not to try it at all, so a dead Redis does not add a connect timeout to every
request. :func:`log_failure` writes one log line per interval per kind of failure, with
a count of what it suppressed, instead of a traceback per request.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from .conf import on_reload

logger = logging.getLogger("pagecache")

#: Seconds the cache is left alone after a failure before the next request tries again.
OUTAGE_BACKOFF = 1.0
#: At most one log line per this many seconds for each kind of failure.
LOG_INTERVAL = 10.0


class Breaker:
    """A minimal circuit breaker: open for ``backoff`` seconds after each failure."""

    def __init__(
        self, backoff: float = OUTAGE_BACKOFF, clock: Callable[[], float] = time.monotonic
    ):
        self.backoff = backoff
        self.clock = clock
        self._open_until = 0.0

    def allows(self) -> bool:
        """May the cache be tried now?"""
        return self._open_until == 0.0 or self.clock() >= self._open_until

    def failed(self) -> None:
        self._open_until = self.clock() + self.backoff

    def succeeded(self) -> None:
        self._open_until = 0.0


breaker = Breaker()

_log_lock = threading.Lock()
_last_logged: dict[str, float] = {}
_suppressed: dict[str, int] = {}


def log_failure(kind: str, message: str, *args: object, level: int = logging.WARNING) -> None:
    """Log ``message`` for ``kind`` at most once per :data:`LOG_INTERVAL` seconds."""
    now = time.monotonic()
    with _log_lock:
        last = _last_logged.get(kind)
        if last is not None and now - last < LOG_INTERVAL:
            _suppressed[kind] = _suppressed.get(kind, 0) + 1
            return
        _last_logged[kind] = now
        suppressed = _suppressed.pop(kind, 0)
    if suppressed:
        message += " (%d similar messages suppressed)"
        args = (*args, suppressed)
    logger.log(level, message, *args)


@on_reload
def reset() -> None:
    """Forget failures and log history (used when settings change, and by tests)."""
    breaker.succeeded()
    with _log_lock:
        _last_logged.clear()
        _suppressed.clear()


#: Error text a cluster node answers a single-server client with.
CLUSTER_REFUSALS = (
    "MOVED",
    "ASK ",
    "CROSSSLOT",
    "CLUSTERDOWN",
    # redis-py's names for the same replies
    "MovedError",
    "AskError",
    "ClusterCrossSlotError",
    "ClusterDownError",
)


def is_cluster_refusal(error: str) -> bool:
    """Whether an error says a single-server client is talking to a Redis Cluster node.

    >>> is_cluster_refusal("ResponseError: CROSSSLOT Keys in request don't hash to the same slot")
    True
    >>> is_cluster_refusal("ConnectionError: Error 111 connecting to 127.0.0.1:6379.")
    False
    """
    return any(word in error for word in CLUSTER_REFUSALS)
