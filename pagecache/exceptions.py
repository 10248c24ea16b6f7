"""Errors pagecache raises, named after what went wrong.

Redis and cache-backend errors never leak past the store boundary: they become
:class:`StoreUnavailable`, which the page and fragment layers turn into an uncached
render. Only :class:`PurgeError` (on request) and :class:`InvalidTag` reach user code.
"""

from __future__ import annotations


class PageCacheError(Exception):
    """Base class of every pagecache error."""


class StoreUnavailable(PageCacheError):
    """The cache could not be reached, timed out, or answered something unreadable."""


class PurgeError(PageCacheError):
    """A purge could not be delivered; its tags are kept and re-sent later."""

    def __init__(self, message: str, tags: tuple[str, ...]) -> None:
        super().__init__(message)
        self.tags = tags


class InvalidTag(PageCacheError, ValueError):
    """A value given as a tag is not a valid tag, model instance or model class."""
