"""Every Redis key pagecache writes is built here, from named parts.

Keys stay readable where they can (``pc:p1:https://example.com/blog/?page=2``) so
``redis-cli`` and ``manage.py pagecache inspect`` show what they hold, and have a
bounded length: a long URL keeps a readable head and ends in a digest of the whole.
``FORMAT`` is part of every entry key, so a release that changes the layout starts
from fresh keys instead of misreading old ones.

Keys are injective (SPEC §4): two requests that differ in a keyed part never share a key.
The parts arrive escaped (a path has no ``|``, ``?`` or space left), long URLs live under
a kind of key no readable URL can spell (``p1h:``), and every list of values is
length-prefixed, so no value can forge a separator.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

FORMAT = "1"
#: URL parts longer than this are cut and completed by a digest of the whole.
MAX_READABLE = 160


def _digest(text: str, size: int = 32) -> str:
    return hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=size // 2).hexdigest()


def page_key(
    prefix: str,
    scheme: str,
    host: str,
    path: str,
    query: str,
    script_name: str = "",
    *,
    language: str | None = None,
    varied: Sequence[str] = (),
) -> str:
    """The key of a page before ``Vary`` is applied.

    ``path`` is the escaped path below ``script_name`` (the escaped ``SCRIPT_NAME``, without
    its trailing slash); the two stay apart, so two splits of one URL (two applications)
    never share a key. ``language`` is the active language (with ``LocaleMiddleware``),
    ``varied`` the results of ``VARY_ON_REQUEST``.

    >>> page_key("pc", "https", "example.com", "/blog/", "page=2")
    'pc:p1:https://example.com/blog/?page=2'
    >>> page_key("pc", "https", "example.com", "/blog/", "", script_name="/shop")
    'pc:p1:https://example.com/shop|/blog/'
    >>> page_key("pc", "https", "example.com", "/", "", language="de")
    'pc:p1:https://example.com/|l=de'
    """
    url = f"{scheme}://{host}{script_name}|{path}" if script_name else f"{scheme}://{host}{path}"
    if query:
        url = f"{url}?{query}"
    if language:
        url = f"{url}|l={language}"  # a language code is a token: nothing to escape
    if varied:
        url = f"{url}|r:{_digest(_join(varied), 16)}"
    if len(url) > MAX_READABLE:
        # Its own kind of key ("h"): a short URL cannot spell this head + digest.
        return f"{prefix}:p{FORMAT}h:{url[: MAX_READABLE - 40]}~{_digest(url)}"
    return f"{prefix}:p{FORMAT}:{url}"


def _join(values: Sequence[str | None]) -> str:
    """Values in one string, length-prefixed: no value can forge a boundary, and a missing
    value (``None``) differs from an empty one."""
    return "".join("-" if v is None else f"{len(v)}:{v}" for v in values)


def variant_key(base_key: str, vary_names: Sequence[str], vary_values: Sequence[str | None]) -> str:
    """The key of one variant of a page whose response carries ``Vary``; a request without
    a varied header (``None``) and one with it empty get different variants.

    >>> variant_key("pc:p1:https://example.com/", ["accept-language"], ["de"])
    'pc:p1:https://example.com/|v:c89e3641303ad5f3'
    """
    pairs = [part for pair in zip(vary_names, vary_values, strict=True) for part in pair]
    return f"{base_key}|v:{_digest(_join(pairs), 16)}"


def fragment_key(prefix: str, name: str, vary_on: Sequence[str], source_digest: str) -> str:
    """The key of a cached fragment: its name, its VARY_ON values and its source digest.

    >>> fragment_key("pc", "sidebar", ["de"], "0f1e2d3c")
    'pc:f1:sidebar:90ca06594524725e'
    """
    digest = _digest(_join([name, source_digest, *vary_on]), 16)
    if len(name) > MAX_READABLE // 2:
        name = f"{name[: MAX_READABLE // 2 - 33]}~"
    return f"{prefix}:f{FORMAT}:{name}:{digest}"


def lock_key(entry_key: str) -> str:
    """The render lock (and hit-for-miss marker) of an entry key."""
    return f"{entry_key}|lock"


def tag_versions_key(prefix: str) -> str:
    """The one hash holding every tag's purge versions, the clock and the floor."""
    return f"{prefix}:tags"


def deliverer_key(prefix: str) -> str:
    """Whose turn it is to deliver recorded purges (see :mod:`pagecache.purging.deliverer`)."""
    return f"{prefix}:deliverer"


#: Tag-version groups on a Redis Cluster: each holds the versions the entries of its keys
#: are judged against, in one hash slot with them, so no key is read by every hit.
CLUSTER_GROUPS = 16


class Layout:
    """Where an entry and the tag versions it is judged against live.

    On one Redis (``groups=1``) keys are as the functions above build them and all versions
    sit in one hash. On a cluster, each key goes to one of ``groups`` groups by its digest
    and is stored with the group's hash tag after the prefix (``pc:{7}:p1:...``), beside that
    group's own versions hash (``pc:{7}:tags``): the lookup script reads an entry, its lock and
    its versions in one slot. A purge stamps every group.

    >>> Layout("pc", 1).stored("pc:p1:http://a/"), Layout("pc", 1).tags_key_of("pc:p1:http://a/")
    ('pc:p1:http://a/', 'pc:tags')
    >>> Layout("pc", 16).stored("pc:p1:http://a/")
    'pc:{2}:p1:http://a/'
    >>> Layout("pc", 16).tags_key_of("pc:p1:http://a/")
    'pc:{2}:tags'
    """

    def __init__(self, prefix: str, groups: int) -> None:
        self.prefix = prefix
        self.groups = groups
        self.tags_keys = (
            [tag_versions_key(prefix)]
            if groups == 1
            else [f"{prefix}:{{{group}}}:tags" for group in range(groups)]
        )
        #: Where ``STATS`` counters go, beside each group's versions (same slot).
        self.stats_keys = (
            [f"{prefix}:stats"]
            if groups == 1
            else [f"{prefix}:{{{group}}}:stats" for group in range(groups)]
        )

    def group_of(self, key: str) -> int:
        if self.groups == 1:
            return 0
        digest = hashlib.blake2b(key.encode("utf-8", "surrogatepass"), digest_size=4).digest()
        return int.from_bytes(digest, "big") % self.groups

    def stored(self, key: str) -> str:
        """The key as written to Redis."""
        if self.groups == 1:
            return key
        head = f"{self.prefix}:"
        rest = key[len(head) :] if key.startswith(head) else key
        return f"{head}{{{self.group_of(key)}}}:{rest}"

    def tags_key_of(self, key: str) -> str:
        """The versions hash an entry under ``key`` is judged against."""
        return self.tags_keys[self.group_of(key)]

    def stats_key_of(self, key: str) -> str:
        """The stats hash a lookup of ``key`` adds the counters it carries to."""
        return self.stats_keys[self.group_of(key)]
