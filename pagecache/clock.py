"""Where a render's start comes from: the purge clock as this process last saw it.

A render must start no later than the moment its data could first be read (SPEC §6.2):
an entry is condemned by every purge whose version is newer than its start, so a start
that is too early costs at most one extra miss, and one that is too late serves stale data.

Every lookup and purge reply carries the store's purge clock, which only moves forward.
The last value this process has seen is therefore never later than the clock at any
moment after it was seen: read when a request arrives, it is a safe start for everything
that request renders, without a round trip. A page lookup's own clock (read before the
view runs) is a fresher safe start and replaces it for that request.
"""

from __future__ import annotations

import threading
from contextvars import ContextVar

from django.conf import settings as django_settings
from django.core.signals import request_finished, request_started

from .conf import on_reload
from .core.render import ARRIVAL_KEY, UNKNOWN

_latest = 0

#: The purge clock seen when Django started handling the current request, for renders that
#: have no request object: ``None`` outside a request, :data:`UNKNOWN` when the cache could
#: not be reached then. Requests carry their own copy under :data:`ARRIVAL_KEY` in
#: ``request.META`` (WSGI) or ``request.scope`` (ASGI, where signal receivers run in a task
#: of their own).
arrival: ContextVar[int | None] = ContextVar("pagecache_arrival", default=None)


def saw(clock: int) -> None:
    """Note a purge clock value the store returned."""
    global _latest
    # The last value, not the largest: if the tag versions were lost and recreated on a
    # Redis whose clock is behind, an old maximum would be a start the new clock never
    # handed out. Two threads racing may keep an older value, which is still safe.
    _latest = clock


def latest() -> int:
    """The last purge clock this process has seen (0 before the first reply)."""
    return _latest


@on_reload
def forget() -> None:
    """Another store (settings changed) has another clock."""
    global _latest
    _latest = 0
    arrival.set(None)


def arrival_start(outside: int | None) -> int | None:
    """The start for a render with no enclosing render known: the current request's
    arrival; ``None`` (don't store) if the cache was unusable then; ``outside`` when no
    request is being handled."""
    noted = arrival.get()
    if noted is None:
        # Under ASGI, signal receivers run in a task of their own and the context variable
        # stays unset in the request's task: while any request is in flight, a render with
        # no enclosing render and no request is not known to be outside one — store nothing.
        return outside if not _in_flight else None
    return None if noted == UNKNOWN else noted


#: Requests this process is handling (counted only while arrivals are noted).
_in_flight = 0
_in_flight_lock = threading.Lock()


def _note_finish(**kwargs: object) -> None:
    global _in_flight
    with _in_flight_lock:
        _in_flight = max(0, _in_flight - 1)


def _note_arrival(**kwargs: object) -> None:
    global _in_flight
    with _in_flight_lock:
        _in_flight += 1
    if _latest:
        now: int | None = _latest
    else:
        from .driver import render_start  # a process's first request asks the store once

        now = render_start()
    noted = UNKNOWN if now is None else now
    arrival.set(noted)
    carrier = kwargs.get("environ", kwargs.get("scope"))
    if isinstance(carrier, dict):
        carrier[ARRIVAL_KEY] = noted


@on_reload
def listen_for_requests() -> None:
    """Note each request's arrival, unless the middleware placed first does it (it sees
    every request first, and sets the start itself): such a site pays nothing per request
    for this."""
    from .middleware import MIDDLEWARE_PATH

    global _in_flight
    if list(django_settings.MIDDLEWARE[:1]) == [MIDDLEWARE_PATH]:
        request_started.disconnect(dispatch_uid=_RECEIVER)
        request_finished.disconnect(dispatch_uid=_RECEIVER)
        with _in_flight_lock:
            _in_flight = 0
    else:
        request_started.connect(_note_arrival, dispatch_uid=_RECEIVER, weak=False)
        request_finished.connect(_note_finish, dispatch_uid=_RECEIVER, weak=False)


_RECEIVER = "pagecache.clock.arrival"
