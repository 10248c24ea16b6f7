"""What a tag is, and how pages collect them while they render.

A tag is a short string naming something a page depends on (``"blog.article:42"``).
Model classes and instances are accepted wherever tags are and become tags through
:func:`model_tag`. This module validates and normalises tags and keeps the set of
tags a render has collected; purging lives in :mod:`pagecache.purge`.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from django.db.models import Model

from . import clock
from .exceptions import InvalidTag

if TYPE_CHECKING:
    from django.http import HttpRequest

MAX_TAG_LENGTH = 250


def model_tag(obj: Model | type[Model]) -> str:
    """Return the tag of a model class (``"blog.article"``) or instance (``"blog.article:42"``).

    >>> from django.contrib.auth.models import Group
    >>> model_tag(Group)
    'auth.group'
    >>> model_tag(Group(pk=7))
    'auth.group:7'
    """
    if isinstance(obj, type) and issubclass(obj, Model):
        return obj._meta.label_lower
    if isinstance(obj, Model):
        if obj.pk is None:
            raise InvalidTag(f"{obj!r} has no primary key yet, so it cannot be used as a tag.")
        return f"{obj._meta.label_lower}:{obj.pk}"
    raise InvalidTag(f"{obj!r} is not a model class or instance.")


def validate_tag(tag: str) -> str:
    """Return ``tag`` if it is a valid tag string, else raise :class:`InvalidTag` naming it."""
    if not tag:
        raise InvalidTag("A tag must be a non-empty string, not ''.")
    if len(tag) > MAX_TAG_LENGTH:
        raise InvalidTag(f"Tag {tag[:40]!r}... is {len(tag)} characters; the limit is 250.")
    for char in tag:
        if char.isspace() or not char.isprintable():
            raise InvalidTag(f"Tag {tag!r} contains whitespace or a control character.")
    return tag


def to_tag(value: object) -> str:
    """Turn one tag-like value (str, model instance or model class) into a valid tag."""
    if isinstance(value, str):
        return validate_tag(value)
    if isinstance(value, Model) or (isinstance(value, type) and issubclass(value, Model)):
        return validate_tag(model_tag(value))
    raise InvalidTag(f"{value!r} is not a tag: use a str, a model instance or a model class.")


def normalize_tags(values: Iterable[object]) -> tuple[str, ...]:
    """Validate tag-like values; return unique tags in first-seen order.

    A string is one tag (it is not split); nested lists and tuples are flattened.
    """
    seen: dict[str, None] = {}
    stack: list[Any] = list(values)[::-1]
    while stack:
        value = stack.pop()
        if isinstance(value, list | tuple | set | frozenset):
            stack.extend(list(value)[::-1])
        else:
            seen.setdefault(to_tag(value), None)
    return tuple(seen)


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
        noted = clock.request_arrival(request)
        if noted is None:
            state = RenderState(open_start=True)
        else:
            state = RenderState(start=None if noted == clock.UNKNOWN else noted)
        setattr(request, _STATE_ATTR, state)
    return state


def add_tags(request: HttpRequest, *tags: object) -> None:
    """Attach tags to the page being rendered for ``request``.

    Accepts strings, model instances and model classes; raises ``ValueError``
    (:class:`~pagecache.exceptions.InvalidTag`) naming a bad one.
    """
    valid = normalize_tags(tags)  # validate first: a bad tag raises before anything changes
    render_state(request).add(valid)
