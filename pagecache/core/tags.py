"""What a tag is.

A tag is a short string naming something a page depends on (``"blog.article:42"``).
Model classes and instances are accepted wherever tags are and become tags through
:func:`model_tag`. This module validates and normalises tags; renders collect them in
:mod:`pagecache.core.render`, and purging lives in :mod:`pagecache.purging`.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.db.models import Model

from ..exceptions import InvalidTag

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
