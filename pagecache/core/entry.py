"""The stored form of a page or fragment: a compact, versioned byte string.

Layout (format 3)::

    b"PC3 " start ttl_ms stale_ms id n tag1..tagn [start_k n_k tags...]... b"\\n"
                                            header, read by Python and by Lua
    codec byte (b"0" raw, b"z" zlib, b"s" zstd, b"d" zstd with the site dictionary)
    payload: b"STATUS REASON\\r\\n" [b":csrf: placeholder\\r\\n"] headers b"\\r\\n" body
                                            (compressed as a whole)

The header is plain ASCII-ish text so the Redis lookup script can check tag versions
without reading the body. ``start`` is the purge clock read when the render began
(see :mod:`pagecache.purging`); it is what makes a render that raced a purge stale. ``id``
is a digest of the whole entry (header fields and payload, as first compressed): a process
that already decoded that entry can skip transferring and decoding it again (see
:mod:`pagecache.driver`). Compressing the same entry again (:func:`with_payload`) keeps
its header, id included: the content is the same.

A ``d`` payload is a zstd frame that names its dictionary (:mod:`pagecache.core.compression`):
:func:`wanted_dictionary` says which, so the driver can fetch it before :func:`loads`.
Anything that does not parse — an older or newer format, a foreign value, a truncated
or corrupt payload, a codec this Python lacks, a dictionary not given — loads as ``None``
and is a miss.

:func:`judge` is the freshness rule, shared by the Lua script and the generic store.
"""

from __future__ import annotations

import hashlib
import zlib
from collections.abc import Iterable
from dataclasses import dataclass

from .compression import (
    FAST_LEVEL,
    HAVE_ZSTD,
    Dictionary,
    frame_dictionary_id,
    zstd_compress,
    zstd_decompress,
)

MAGIC = b"PC3 "
VARY_MAGIC = b"PCV "
#: The payload line naming an entry's CSRF placeholder (a colon cannot start a header name).
CSRF_LINE = ":csrf"
#: The payload line saying what rendered the entry: its render time (ms) and its name (the
#: URL pattern's name, or the fragment's), for STATS and the debug-toolbar panel.
ABOUT_LINE = ":about"
#: Bodies at least this large are compressed; below it compression costs more than it saves.
COMPRESS_MIN_BYTES = 1024


@dataclass(frozen=True, slots=True)
class Entry:
    """A stored response (or fragment, with status 0) and what decides its freshness."""

    status: int
    reason: str
    headers: tuple[tuple[str, str], ...]
    body: bytes
    #: The tags judged against ``start``: the render's own, and those of parts rendered with it.
    tags: tuple[str, ...]
    #: Purge clock when the render's data could first be read: a tag purged later condemns it.
    start: int
    ttl: int
    stale_ttl: int
    #: Tags carried in by parts served from the cache that began earlier than ``start``
    #: (a cached fragment inside a page): each is judged against the start of its part.
    carried: tuple[tuple[str, int], ...] = ()
    #: Where this render's CSRF token was taken out (see :mod:`pagecache.core.csrf`); "" if the
    #: page holds none. Each hit puts the visitor's own token there.
    csrf_placeholder: str = ""
    #: The URL pattern's name (pages) or the fragment's name; "" when unknown.
    name: str = ""
    #: How long the render took, in milliseconds: what each hit saves.
    render_ms: int = 0

    @property
    def all_tags(self) -> tuple[str, ...]:
        return self.tags + tuple(tag for tag, _ in self.carried)

    def tag_starts(self) -> dict[str, int]:
        """Each tag and the start it is judged against (what an enclosing render carries)."""
        starts = dict.fromkeys(self.tags, self.start)
        starts.update(self.carried)
        return starts


def dumps(
    entry: Entry, *, compress_min: int = COMPRESS_MIN_BYTES, dictionary: Dictionary | None = None
) -> bytes:
    """Encode ``entry``; the result starts with :data:`MAGIC`. A payload worth compressing
    is compressed with ``dictionary`` if one is given (at the fast level)."""
    lines = [f"{entry.status} {entry.reason}"]
    if entry.csrf_placeholder:
        lines.append(f"{CSRF_LINE}: {entry.csrf_placeholder}")  # not a header name: no clash
    if entry.name or entry.render_ms:
        name = entry.name.replace("\r", " ").replace("\n", " ")
        lines.append(f"{ABOUT_LINE}: {max(0, entry.render_ms)} {name}")
    lines.extend(f"{name}: {value}" for name, value in entry.headers)
    payload = ("\r\n".join(lines) + "\r\n\r\n").encode("utf-8") + entry.body
    codec = b"0"
    if len(payload) >= compress_min:
        if dictionary is not None:
            codec, payload = b"d", dictionary.compress(payload, FAST_LEVEL)
        elif HAVE_ZSTD:
            codec, payload = b"s", zstd_compress(payload)
        else:
            codec, payload = b"z", zlib.compress(payload, 1)
    groups: dict[int, list[str]] = {}
    for tag, start in entry.carried:
        groups.setdefault(start, []).append(tag)
    words = [str(len(entry.tags)), *entry.tags]
    for start, tags in groups.items():
        words += [str(start), str(len(tags)), *tags]
    times = b"%d %d %d" % (entry.start, entry.ttl * 1000, entry.stale_ttl * 1000)
    tag_groups = " ".join(words).encode("utf-8")
    # The id names the whole entry, not just its payload: a process holding an entry with
    # this id decoded may skip the body, and must then have the same start, tags and
    # windows too (a re-render with the same HTML has a new start).
    content_id = hashlib.blake2b(times, digest_size=8, key=b"pagecache")
    content_id.update(b" " + tag_groups + b"\n" + codec + payload)
    header = b"%b%b %b %b" % (MAGIC, times, content_id.hexdigest().encode(), tag_groups)
    return header + b"\n" + codec + payload


@dataclass(frozen=True, slots=True)
class Header:
    """What the first line of a stored entry says, readable without decoding the payload.

    After the content id come tag groups: the count and tags judged against ``start``,
    then for each earlier start a part carried in, ``start count tag...``.
    """

    start: int
    ttl_ms: int
    stale_ms: int
    content_id: str
    tags: tuple[str, ...]
    carried: tuple[tuple[str, int], ...]
    #: Where the header line ends (the payload starts one byte later, at the codec).
    end: int


def read_header(data: object) -> Header | None:
    """The header of a format-3 entry, or ``None`` if ``data`` does not start with one."""
    if not isinstance(data, bytes) or not data.startswith(MAGIC):
        return None
    try:
        newline = data.index(b"\n")
        fields = data[len(MAGIC) : newline].decode("utf-8").split(" ")
        start, ttl_ms, stale_ms = int(fields[0]), int(fields[1]), int(fields[2])
        if len(fields[3]) != 16:  # the content id
            return None
        count = int(fields[4])
        tags = tuple(fields[5 : 5 + count])
        carried: list[tuple[str, int]] = []
        i = 5 + count
        while i < len(fields):
            group_start, group_count = int(fields[i]), int(fields[i + 1])
            carried.extend((tag, group_start) for tag in fields[i + 2 : i + 2 + group_count])
            i += 2 + group_count
        if i != len(fields) or len(tags) != count or any(not t for t in tags):
            return None
        if any(not tag or group_start >= start for tag, group_start in carried):
            return None  # carried parts always began before the entry's own render
        return Header(start, ttl_ms, stale_ms, fields[3], tags, tuple(carried), newline)
    except (ValueError, IndexError, UnicodeDecodeError):
        return None


def loads(data: object, dictionary: Dictionary | None = None) -> Entry | None:
    """Decode a stored value; ``None`` for anything that is not a readable format-3 entry
    (``dictionary``: the one :func:`wanted_dictionary` named, if any)."""
    header = read_header(data)
    if header is None:
        return None
    assert isinstance(data, bytes)
    try:
        payload = _decompress(data, header, dictionary)
        if payload is None:
            return None
        head, body = payload.split(b"\r\n\r\n", 1)
        # A line break inside a header value would let a forged entry inject headers.
        if head.count(b"\n") != head.count(b"\r\n") or head.count(b"\r") != head.count(b"\n"):
            return None
        status_line, *header_lines = head.decode("utf-8").split("\r\n")
        status_text, _, reason = status_line.partition(" ")
        csrf_placeholder = ""
        if header_lines and header_lines[0].startswith(CSRF_LINE + ": "):
            csrf_placeholder = header_lines.pop(0)[len(CSRF_LINE) + 2 :]
        name, render_ms = "", 0
        if header_lines and header_lines[0].startswith(ABOUT_LINE + ": "):
            ms_text, _, name = header_lines.pop(0)[len(ABOUT_LINE) + 2 :].partition(" ")
            render_ms = int(ms_text)
        headers = tuple(_split_header(line) for line in header_lines)
        return Entry(
            int(status_text),
            reason,
            headers,
            body,
            header.tags,
            header.start,
            header.ttl_ms // 1000,
            header.stale_ms // 1000,
            header.carried,
            csrf_placeholder,
            name,
            render_ms,
        )
    except Exception:
        # Corrupt or foreign data (including any decompressor error) is a miss, never a 500.
        return None


def _decompress(data: bytes, header: Header, dictionary: Dictionary | None) -> bytes | None:
    """The payload of an entry, or ``None`` for a codec or dictionary this process lacks."""
    codec, compressed = data[header.end + 1 : header.end + 2], data[header.end + 2 :]
    if codec == b"0":
        return compressed
    if codec == b"s":
        return zstd_decompress(compressed) if HAVE_ZSTD else None
    if codec == b"z":
        return zlib.decompress(compressed)
    if codec == b"d":
        if dictionary is None or frame_dictionary_id(compressed) != dictionary.id:
            return None
        return dictionary.decompress(compressed)
    return None


def wanted_dictionary(data: object) -> int | None:
    """The id of the dictionary an entry's payload is compressed with, or ``None`` if it
    needs none (or is no entry)."""
    if not isinstance(data, bytes) or not data.startswith(MAGIC):
        return None
    newline = data.find(b"\n")
    if newline == -1 or data[newline + 1 : newline + 2] != b"d":
        return None
    return frame_dictionary_id(data[newline + 2 : newline + 20]) or None


def payload_of(data: object, dictionary: Dictionary | None = None) -> tuple[bytes, bytes] | None:
    """An entry's header line (with its newline) and its uncompressed payload; ``None`` if
    it cannot be read."""
    header = read_header(data)
    if header is None:
        return None
    assert isinstance(data, bytes)
    try:
        payload = _decompress(data, header, dictionary)
    except Exception:  # corrupt: nothing to compress again
        return None
    return (data[: header.end + 1], payload) if payload is not None else None


def with_payload(head: bytes, payload: bytes, dictionary: Dictionary, level: int) -> bytes:
    """The entry ``head`` names, its payload compressed with ``dictionary`` at ``level``
    (the header and its content id are kept: it is the same entry)."""
    return head + b"d" + dictionary.compress(payload, level)


def _split_header(line: str) -> tuple[str, str]:
    name, value = line.split(": ", 1)
    return name, value


def dumps_vary(names: Iterable[str]) -> bytes:
    """The marker stored under a page's base key when its responses carry ``Vary``."""
    return VARY_MAGIC + " ".join(names).encode("ascii")


def loads_vary(data: object) -> tuple[str, ...] | None:
    """Header names from a ``Vary`` marker, or ``None`` if ``data`` is not one."""
    if not isinstance(data, bytes) or not data.startswith(VARY_MAGIC):
        return None
    try:
        return tuple(data[len(VARY_MAGIC) :].decode("ascii").split())
    except UnicodeDecodeError:
        return None
