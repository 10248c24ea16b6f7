"""Spelling tags the way a CDN accepts them: ASCII without the target's separators,
no longer than its per-tag limit, and as many per header as it reads.

Every function here is deterministic, so a page's header and a later purge (both go
through the purger's ``encode_tag``) always name a tag alike.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from urllib.parse import quote

from .base import ALL, fit_tags, rolled_up


def percent_encode(tag: str, also: str = "") -> str:
    """``tag`` with ``%``, whitespace, control and non-ASCII characters and those in ``also``
    percent-encoded (UTF-8). Injective: two tags never share a spelling.

    >>> percent_encode("blog.article:42"), percent_encode("a,b", also=","), percent_encode("é%")
    ('blog.article:42', 'a%2Cb', '%C3%A9%25')
    """
    forbidden = "% " + also
    if tag.isascii() and tag.isprintable() and not any(c in forbidden for c in tag):
        return tag
    return "".join(
        c if c.isascii() and c.isprintable() and c not in forbidden else quote(c, safe="")
        for c in tag
    )


def bounded(tag: str, max_length: int) -> str:
    """An ASCII ``tag`` if it has at most ``max_length`` characters; otherwise its head and a
    digest of the whole, ``max_length`` long (a longer key is refused or ignored by the
    target, and would make it ignore the keys after it too).

    >>> bounded("short", 16)
    'short'
    >>> t = bounded("x" * 2000, 64); (len(t), t[:31], t[31])
    (64, 'xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx', '~')
    """
    if len(tag) <= max_length:
        return tag
    digest = hashlib.blake2b(tag.encode(), digest_size=16).hexdigest()
    return f"{tag[: max_length - len(digest) - 1]}~{digest}"


def fit_counted(
    tags: Sequence[str], separator: str, max_bytes: int, max_tags: int
) -> tuple[str, bool]:
    """Like :func:`pagecache.purgers.base.fit_tags`, for a target that also reads at most
    ``max_tags`` tags from its header: rolled up (instance tags to ``app.model:*``, then
    :data:`~pagecache.purgers.base.ALL`) until both limits hold.

    >>> fit_counted(["a.b:1", "a.b:2", "c"], ",", 100, 3)
    ('a.b:1,a.b:2,c', False)
    >>> fit_counted(["a.b:1", "a.b:2", "c"], ",", 100, 2)
    ('a.b:*,c', True)
    >>> fit_counted(["a.b:1", "c.d:2", "e"], ",", 100, 2)
    ('pagecache:all', True)
    """
    unique = list(dict.fromkeys(tags))
    if len(unique) <= max_tags:
        return fit_tags(unique, separator, max_bytes)
    up = list(dict.fromkeys(rolled_up(tag) or tag for tag in unique))
    if len(up) > max_tags:
        return ALL, True
    value, _ = fit_tags(up, separator, max_bytes)
    return value, True


def checked_str(owner: str, name: str, value: object, what: str) -> str:
    """``value`` if it is a non-empty str of visible ASCII (it goes into a URL or a header);
    else a ``ValueError`` naming the option (never quoting it: it may be a secret).

    >>> checked_str("FastlyPurger", "SERVICE_ID", 42, "your service ID")
    Traceback (most recent call last):
    ...
    ValueError: FastlyPurger: OPTIONS["SERVICE_ID"] must be your service ID (a non-empty str of visible ASCII characters), not an int
    """  # noqa: E501
    if value is None:
        raise ValueError(f'{owner}: OPTIONS["{name}"] is required: {what}')
    if not (isinstance(value, str) and value and value.isascii() and value.isprintable()) or (
        " " in value
    ):
        kind = (
            "an empty str"
            if value == ""
            else "a str with spaces, control or non-ASCII characters"
            if isinstance(value, str)
            else f"{'an' if type(value).__name__[0] in 'aeiou' else 'a'} {type(value).__name__}"
        )
        raise ValueError(
            f'{owner}: OPTIONS["{name}"] must be {what} '
            f"(a non-empty str of visible ASCII characters), not {kind}"
        )
    return value


def checked_url(owner: str, value: object, default: str) -> str:
    """``API_URL``: an http(s) URL, without its trailing slash."""
    if not (isinstance(value, str) and value.startswith(("http://", "https://"))):
        raise ValueError(
            f'{owner}: OPTIONS["API_URL"] must be an http(s):// URL (default {default!r}), '
            f"not {value!r}"
        )
    return value.rstrip("/")
