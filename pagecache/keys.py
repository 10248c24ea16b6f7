"""Every Redis key pagecache writes is built here, from named parts.

Keys stay readable where they can (``pc:p:https://example.com/blog/?page=2``) so
``redis-cli`` and ``manage.py pagecache inspect`` show what they hold, and have a
bounded length: a long URL keeps a readable head and ends in a digest of the whole.
``FORMAT`` is part of every entry key, so a release that changes the layout starts
from fresh keys instead of misreading old ones.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

FORMAT = "1"
#: URL parts longer than this are cut and completed by a digest of the whole.
MAX_READABLE = 160


def _digest(text: str, size: int = 32) -> str:
    return hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=size // 2).hexdigest()


def page_key(prefix: str, scheme: str, host: str, path: str, query: str) -> str:
    """The key of a page before ``Vary`` is applied.

    >>> page_key("pc", "https", "example.com", "/blog/", "page=2")
    'pc:p1:https://example.com/blog/?page=2'
    """
    url = f"{scheme}://{host}{path}"
    if query:
        url = f"{url}?{query}"
    if len(url) > MAX_READABLE:
        url = f"{url[: MAX_READABLE - 40]}~{_digest(url)}"
    return f"{prefix}:p{FORMAT}:{url}"


def variant_key(base_key: str, vary_names: Sequence[str], vary_values: Sequence[str]) -> str:
    """The key of one variant of a page whose response carries ``Vary``.

    >>> variant_key("pc:p1:https://example.com/", ["accept-language"], ["de"])
    'pc:p1:https://example.com/|v:94f2a940adbec829'
    """
    parts = "\n".join(f"{n}={v}" for n, v in zip(vary_names, vary_values, strict=True))
    return f"{base_key}|v:{_digest(parts, 16)}"


def fragment_key(prefix: str, name: str, vary_on: Sequence[str], source_digest: str) -> str:
    """The key of a cached fragment: its name, its VARY_ON values and its source digest.

    >>> fragment_key("pc", "sidebar", ["de"], "0f1e2d3c")
    'pc:f1:sidebar:372c8c48edf4305d'
    """
    if len(name) > MAX_READABLE // 2:
        name = f"{name[: MAX_READABLE // 2 - 33]}~{_digest(name)}"
    parts = "\n".join([source_digest, *vary_on])
    return f"{prefix}:f{FORMAT}:{name}:{_digest(parts, 16)}"


def lock_key(entry_key: str) -> str:
    """The render lock (and hit-for-miss marker) of an entry key."""
    return f"{entry_key}|lock"


def tag_versions_key(prefix: str) -> str:
    """The one hash holding every tag's purge versions, the clock and the floor."""
    return f"{prefix}:tags"


def deliverer_key(prefix: str) -> str:
    """Whose turn it is to deliver recorded purges (see :mod:`pagecache.deliverer`)."""
    return f"{prefix}:deliverer"
