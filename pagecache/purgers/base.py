"""What every purger shares: the tag header it asks pages to carry (in its target's
format, within its target's limits) and one purge call; the edge dispatcher
(:mod:`pagecache.purging.edge`) runs the calls off the request path, with retries.

A page with more tags than its target's header holds gets them **rolled up**, never cut:
instance tags ``app.model:pk`` become ``app.model:*``, and if that is still too long, the
page carries :data:`ALL` alone. A purge therefore sends, besides its tags, the rolled-up
tag of each instance tag and :data:`ALL` (:func:`purged_tags`), so a rolled-up page is
purged whenever any of its tags is; pages with a precise header are untouched by them.
"""

from __future__ import annotations

import logging
import urllib.error
import urllib.request
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from django.utils.encoding import escape_uri_path

from ..exceptions import PageCacheError

logger = logging.getLogger("pagecache")

#: The tag a page carries when even its rolled-up tags do not fit its target's header.
ALL = "pagecache:all"


class PurgerError(PageCacheError):
    """A purge call failed (the dispatcher retries, then logs)."""


class Purger:
    """A cache in front of Django that can be purged by tag.

    Subclasses set the class attributes and implement :meth:`purge_batch`. ``OPTIONS``
    from ``PAGECACHE["PURGERS"]`` arrive as keyword arguments, upper-case as in settings.
    """

    #: The response header the target reads a page's tags from.
    tag_header = ""
    #: How the target's header joins tags.
    separator = " "
    #: The most bytes of tags the header may hold (the target's documented limit).
    max_header_bytes = 8000
    #: The most tags one purge call may name.
    max_tags_per_call = 256

    def __init__(self, *, TIMEOUT: float = 2.0, RETRIES: int = 3, **options: Any) -> None:
        if not isinstance(TIMEOUT, int | float) or TIMEOUT <= 0:
            raise ValueError(f"TIMEOUT must be a positive number of seconds, not {TIMEOUT!r}")
        if not isinstance(RETRIES, int) or RETRIES < 0:
            raise ValueError(f"RETRIES must be an int >= 0, not {RETRIES!r}")
        self.timeout = float(TIMEOUT)
        self.retries = RETRIES
        if options:
            raise ValueError(f"{type(self).__name__} got unknown OPTIONS {sorted(options)}")

    def __repr__(self) -> str:
        return f"<{type(self).__name__}>"

    def encode_tag(self, tag: str) -> str:
        """``tag`` as it appears in the target's header and purge calls: non-ASCII
        percent-encoded (headers are ASCII)."""
        return tag if tag.isascii() else escape_uri_path(tag)

    def header_value(self, tags: Sequence[str]) -> str:
        """The page's tags as the target's header value, rolled up to fit (logged)."""
        value, rolled = fit_tags(tags, self.separator, self.max_header_bytes)
        if rolled:
            logger.info(
                "pagecache: %d tags do not fit %s's %s header (%d bytes): rolled up to %r",
                len(tags),
                type(self).__name__,
                self.tag_header,
                self.max_header_bytes,
                value[:200],
            )
        return value

    def batches(self, tags: Sequence[str]) -> list[list[str]]:
        """``tags`` split into calls the target accepts."""
        size = self.max_tags_per_call
        return [list(tags[i : i + size]) for i in range(0, len(tags), size)]

    def purge_batch(self, tags: Sequence[str], soft: bool) -> None:
        """Purge ``tags`` (one call; raise :class:`PurgerError` if it failed)."""
        raise NotImplementedError


def rolled_up(tag: str) -> str | None:
    """``app.model:*`` for an instance tag ``app.model:pk``; ``None`` for any other tag.

    >>> rolled_up("blog.article:42"), rolled_up("blog.article"), rolled_up("home")
    ('blog.article:*', None, None)
    """
    label, sep, _ = tag.rpartition(":")
    if not sep or "." not in label or ":" in label:
        return None
    return f"{label}:*"


def fit_tags(tags: Sequence[str], separator: str, max_bytes: int) -> tuple[str, bool]:
    """``tags`` joined by ``separator``, or rolled up until they fit ``max_bytes``; and
    whether they were rolled up.

    >>> fit_tags(["a.b:1", "a.b:2", "home"], " ", 100)
    ('a.b:1 a.b:2 home', False)
    >>> fit_tags(["a.b:1", "a.b:2", "home"], " ", 12)
    ('a.b:* home', True)
    >>> fit_tags(["a.b:1", "c.d:2", "home"], ",", 5)
    ('pagecache:all', True)
    """
    value = separator.join(tags)
    if len(value.encode()) <= max_bytes:
        return value, False
    kept: dict[str, None] = {}
    for tag in tags:
        kept[rolled_up(tag) or tag] = None
    value = separator.join(kept)
    if len(value.encode()) <= max_bytes:
        return value, True
    return ALL, True


def purged_tags(tags: Iterable[str]) -> list[str]:
    """What a purge of ``tags`` sends to a target: the tags, the rolled-up tag of each
    instance tag, and :data:`ALL` (pages whose headers were rolled up carry only those).

    >>> purged_tags(["blog.article:42", "home"])
    ['blog.article:42', 'home', 'blog.article:*', 'pagecache:all']
    """
    out = dict.fromkeys(tags)
    for tag in list(out):
        up = rolled_up(tag)
        if up:
            out[up] = None
    out[ALL] = None
    return list(out)


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    # A purge API that redirects did not purge: urllib would follow a POST as a GET.
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


_OPENER = urllib.request.build_opener(_NoRedirects)


def http_request(
    method: str,
    url: str,
    *,
    headers: Mapping[str, str],
    body: bytes | None = None,
    timeout: float,
) -> tuple[int, bytes]:
    """One HTTP request (standard library); the status and body, or :class:`PurgerError`
    for a network failure or a status of 400 and above."""
    request = urllib.request.Request(url, data=body, method=method, headers=dict(headers))
    try:
        with _OPENER.open(request, timeout=timeout) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        detail = exc.read()[:200]
        raise PurgerError(f"{method} {url}: HTTP {exc.code} {detail!r}") from exc
    except (urllib.error.URLError, OSError) as exc:
        raise PurgerError(f"{method} {url}: {exc}") from exc
