"""The render state of one request: when its data could first be read (its start), the
tags it collects, and the freshness of what it embeds.

A page render and every fragment rendered inside it share one :class:`RenderState`
(fragments inherit the page's start, SPEC §6.2); fragments served from the cache bring
their own tags and starts into it (:meth:`RenderState.carry`).
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from .tags import normalize_tags

if TYPE_CHECKING:
    from django.http import HttpRequest

#: Where a request carries the purge clock noted when Django started handling it:
#: ``request.META`` (WSGI) or ``request.scope`` (ASGI). See :mod:`pagecache.clock`.
ARRIVAL_KEY = "pagecache.arrival"
#: A request arrived, but no start is known for it: nothing it renders may be stored (a
#: start read later, at a fragment's own lookup, could postdate the rows it shows).
UNKNOWN = -1


@dataclass
class RenderState:
    """What one render (a page, or a fragment inside it) collects while it runs.

    ``start`` is the purge clock when the render's data could first be read (see
    :mod:`pagecache.clock`), ``None`` when that is unknown (then nothing it renders is
    stored); a fragment rendered inside a page inherits the page's. Each tag maps to the
    earliest start of a part served from cache that carried it, or ``None`` when only this
    render (and parts rendered with it) carried it.
    """

    tags: dict[str, int | None] = field(default_factory=dict)
    start: int | None = None
    #: Nothing noted when and where this render began (a request Django's handler never
    #: saw, as from ``RequestFactory``): its first lookup sets the start, as outside a request.
    open_start: bool = False
    #: ``time.monotonic()`` when the first part embedded so far stops being fresh.
    fresh_until: float | None = None
    ttl: int | None = None
    stale_ttl: int | None = None
    exempt: bool = False
    #: The CSRF tokens Django handed out during the render (``None``: not known).
    csrf_minted: list[str] | None = None
    #: ``time.perf_counter()`` when the render began: what a hit on its entry saves.
    began: float = field(default_factory=time.perf_counter)

    def elapsed_ms(self) -> int:
        return int((time.perf_counter() - self.began) * 1000)

    def begin(self, start: int | None) -> None:
        """Set the start (``None``: unknown, store nothing)."""
        self.start = start
        self.open_start = False

    def add(self, tags: Iterable[str]) -> None:
        """Tags of this render's own (judged against its start)."""
        for tag in tags:
            self.tags.setdefault(tag, None)

    def carry(self, tag_starts: Mapping[str, int]) -> None:
        """Tags of a part served from cache, each with the start it is judged against."""
        for tag, start in tag_starts.items():
            current = self.tags.get(tag)
            self.tags[tag] = start if current is None else min(current, start)

    def embed(self, fresh_until: float | None) -> None:
        """An embedded part stops being fresh at ``fresh_until``: so does this render."""
        if fresh_until is not None and (self.fresh_until is None or fresh_until < self.fresh_until):
            self.fresh_until = fresh_until

    def embed_render(self, part: RenderState, ttl: int) -> None:
        """A part rendered inside this one: its tags, at its start, and its freshness."""
        if part.start is None:
            self.add(part.tags)
        else:
            self.carry(part.tag_starts(part.start))
        self.embed(part.fresh_until)
        self.embed(time.monotonic() + ttl)

    def tag_starts(self, start: int) -> dict[str, int]:
        """Every tag with the start it is judged against, for a render that began at ``start``."""
        return {tag: start if s is None else min(s, start) for tag, s in self.tags.items()}

    def judged_tags(self, start: int) -> tuple[tuple[str, ...], tuple[tuple[str, int], ...]]:
        """The tags judged against ``start``, and those carried in with an earlier start."""
        own = tuple(tag for tag, s in self.tags.items() if s is None or s >= start)
        carried = tuple((tag, s) for tag, s in self.tags.items() if s is not None and s < start)
        return own, carried

    def fresh_seconds(self, ttl: int) -> int:
        """``ttl`` shortened to the freshness left of what this render embeds (whole seconds,
        rounded down: an entry may go stale early, never late)."""
        if self.fresh_until is None:
            return ttl
        left = int(self.fresh_until - time.monotonic())
        return max(0, min(ttl, left))


_STATE_ATTR = "_pagecache_state"
#: Set on a request pagecache's middleware (or a ``@cache_page`` on its own) drives: then
#: the decorators below it only annotate its render state.
HANDLED_ATTR = "_pagecache_handled"

#: The render in progress in this thread or task, so fragments can bubble their tags to it.
current_render: ContextVar[RenderState | None] = ContextVar("pagecache_render", default=None)


def render_state(request: HttpRequest) -> RenderState:
    """Return the :class:`RenderState` of ``request``, creating it on first use."""
    state: RenderState | None = getattr(request, _STATE_ATTR, None)
    if state is None:
        noted = request_arrival(request)
        if noted is None:
            state = RenderState(open_start=True)
        else:
            state = RenderState(start=None if noted == UNKNOWN else noted)
        setattr(request, _STATE_ATTR, state)
    return state


def add_tags(request: HttpRequest, *tags: object) -> None:
    """Attach tags to the page being rendered for ``request``.

    Accepts strings, model instances and model classes; raises ``ValueError``
    (:class:`~pagecache.exceptions.InvalidTag`) naming a bad one.
    """
    valid = normalize_tags(tags)  # validate first: a bad tag raises before anything changes
    render_state(request).add(valid)


def request_arrival(request: object) -> int | None:
    """The purge clock noted when Django started handling ``request`` (:data:`UNKNOWN` if
    the cache was unusable then); ``None`` if nothing was noted."""
    meta = getattr(request, "META", None)
    if isinstance(meta, dict) and ARRIVAL_KEY in meta:
        return meta[ARRIVAL_KEY]  # type: ignore[no-any-return]
    scope = getattr(request, "scope", None)
    if isinstance(scope, dict):
        return scope.get(ARRIVAL_KEY)
    return None
