"""Compressing entry payloads: zstd, with or without the site's dictionary, or zlib.

A page of a site shares most of its bytes with the site's other pages (markup, navigation,
headers), and zstd alone cannot see that: it compresses each page on its own. A
*dictionary* trained on the site's pages gives it those shared bytes up front, which
roughly halves a typical entry (docs/design.md, "The site dictionary"). This module holds
the codecs only — CPU work, no I/O: which dictionary a process uses, and when one is
trained, is :mod:`pagecache.dictionary` and :mod:`pagecache.dictionary_worker`'s business;
the decisions are in :mod:`pagecache.core.dictionary`.

A dictionary is named by the 32-bit id zstd writes in its header (derived from its
content by the trainer). A frame compressed with it names the same id in its own header
(RFC 8878 §3.1.1.1), and zstd refuses to decompress it with any other dictionary, so an
entry carries its dictionary's id without a byte of its own.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Any

try:  # Python 3.14+ ships zstd; older ones use the zstandard wheel.
    from compression import zstd as _zstd_std  # type: ignore[import-not-found,unused-ignore]

    _zstandard: Any = None
    HAVE_ZSTD = True
except ImportError:
    _zstd_std = None
    try:
        import zstandard as _zstandard

        HAVE_ZSTD = True
    except ImportError:  # pragma: no cover - exercised only without zstandard installed
        _zstandard = None
        HAVE_ZSTD = False

__all__ = [
    "FAST_LEVEL",
    "HAVE_ZSTD",
    "SLOW_LEVEL",
    "Dictionary",
    "dictionary_id",
    "frame_dictionary_id",
    "load_dictionary",
    "train",
    "zstd_compress",
    "zstd_decompress",
]

#: The level a request compresses at: about 0.1 ms for a 20 KB page, with or without a
#: dictionary (higher levels cost milliseconds, which a miss cannot afford).
FAST_LEVEL = 3
#: The level entries are compressed again at, off the request path (about 5 ms for 20 KB;
#: levels above it cost twice as much for a few bytes).
SLOW_LEVEL = 15

#: Every zstd frame starts with these bytes (RFC 8878 §3.1.1).
FRAME_MAGIC = b"\x28\xb5\x2f\xfd"
#: Every zstd dictionary starts with these bytes, then its id (RFC 8878 §5).
DICTIONARY_MAGIC = b"\x37\xa4\x30\xec"

# zstandard's (de)compressor objects must not be used by two threads at once (threaded
# servers decode at the same moment): one of each per thread.
_codecs = threading.local()


def zstd_compress(data: bytes) -> bytes:
    """``data`` as one zstd frame at :data:`FAST_LEVEL`, without a dictionary."""
    if _zstd_std is not None:
        return bytes(_zstd_std.compress(data, level=FAST_LEVEL))
    compressor = getattr(_codecs, "compressor", None)
    if compressor is None:
        compressor = _codecs.compressor = _zstandard.ZstdCompressor(level=FAST_LEVEL)
    return bytes(compressor.compress(data))


def zstd_decompress(data: bytes) -> bytes:
    """The bytes of one zstd frame made without a dictionary."""
    if _zstd_std is not None:
        return bytes(_zstd_std.decompress(data))
    decompressor = getattr(_codecs, "decompressor", None)
    if decompressor is None:
        decompressor = _codecs.decompressor = _zstandard.ZstdDecompressor()
    return bytes(decompressor.decompress(data))


def dictionary_id(data: bytes) -> int | None:
    """The id in a zstd dictionary's header; ``None`` if ``data`` is not a dictionary.

    >>> dictionary_id(DICTIONARY_MAGIC + (123456).to_bytes(4, "little") + bytes(8))
    123456
    >>> dictionary_id(b"raw content") is None
    True
    """
    if len(data) < 16 or data[:4] != DICTIONARY_MAGIC:
        return None
    return int.from_bytes(data[4:8], "little") or None


def frame_dictionary_id(frame: bytes) -> int | None:
    """The dictionary id a zstd frame's header names (0: none); ``None`` if ``frame`` does
    not start with a zstd frame header (RFC 8878 §3.1.1.1).

    >>> frame_dictionary_id(FRAME_MAGIC + bytes([0x23]) + (70000).to_bytes(4, "little"))
    70000
    >>> frame_dictionary_id(FRAME_MAGIC + bytes([0x20, 0x10]))
    0
    """
    if len(frame) < 5 or frame[:4] != FRAME_MAGIC:
        return None
    descriptor = frame[4]
    size = (0, 1, 2, 4)[descriptor & 3]
    if not size:
        return 0
    start = 5 if descriptor & 0x20 else 6  # a window descriptor unless single-segment
    if len(frame) < start + size:
        return None
    return int.from_bytes(frame[start : start + size], "little")


class Dictionary:
    """One trained zstd dictionary, ready to compress (at any level) and decompress.

    Safe to share between threads: each thread gets its own (de)compressor; the digested
    forms zstd builds from the dictionary (one per compression level) are built once.
    """

    def __init__(self, data: bytes) -> None:
        found = dictionary_id(data)
        if found is None or not HAVE_ZSTD:
            raise ValueError("not a zstd dictionary")
        self.id: int = found
        self.data = bytes(data)
        self._local = threading.local()
        self._lock = threading.Lock()
        self._prepared: dict[int, Any] = {}
        if _zstd_std is not None:
            self._std = _zstd_std.ZstdDict(self.data)
        else:
            self._ddict = _zstandard.ZstdCompressionDict(self.data)
            _zstandard.ZstdDecompressor(dict_data=self._ddict)  # digests it now, once

    def __repr__(self) -> str:
        return f"<Dictionary {self.id:08x} ({len(self.data):,} bytes)>"

    def prepare(self, level: int) -> None:
        """Digest the dictionary for ``level`` now (about 1 ms at level 3, 20 ms at 15),
        so that the first compression at that level does not pay for it."""
        if _zstd_std is not None:
            self.compress(b"", level)
            return
        with self._lock:
            if level not in self._prepared:
                prepared = _zstandard.ZstdCompressionDict(self.data)
                prepared.precompute_compress(level=level)
                self._prepared[level] = prepared

    def compress(self, data: bytes, level: int = FAST_LEVEL) -> bytes:
        """``data`` as one zstd frame that names this dictionary (no checksum)."""
        if _zstd_std is not None:
            return bytes(_zstd_std.compress(data, level=level, zstd_dict=self._std))
        compressors: dict[int, Any] | None = getattr(self._local, "compressors", None)
        if compressors is None:
            compressors = self._local.compressors = {}
        compressor = compressors.get(level)
        if compressor is None:
            if level not in self._prepared:
                self.prepare(level)
            compressor = compressors[level] = _zstandard.ZstdCompressor(
                dict_data=self._prepared[level], write_checksum=False, write_dict_id=True
            )
        return bytes(compressor.compress(data))

    def decompress(self, frame: bytes) -> bytes:
        """The bytes of a frame compressed with this dictionary (zstd raises on another's)."""
        if _zstd_std is not None:
            return bytes(_zstd_std.decompress(frame, zstd_dict=self._std))
        decompressor = getattr(self._local, "decompressor", None)
        if decompressor is None:
            decompressor = self._local.decompressor = _zstandard.ZstdDecompressor(
                dict_data=self._ddict
            )
        return bytes(decompressor.decompress(frame))


def load_dictionary(data: object) -> Dictionary | None:
    """A :class:`Dictionary` from stored bytes; ``None`` for anything that is not one."""
    if not isinstance(data, bytes):
        return None
    try:
        return Dictionary(data)
    except Exception:  # not a dictionary, or one zstd rejects: never an error
        return None


def train(samples: Sequence[bytes], size: int) -> Dictionary | None:
    """A dictionary of at most ``size`` bytes trained on ``samples`` (zstd's fastcover
    trainer, parameters chosen by it); ``None`` if zstd cannot train one from them."""
    if not HAVE_ZSTD or not samples:
        return None
    try:
        if _zstd_std is not None:
            data = bytes(_zstd_std.train_dict(list(samples), size).dict_content)
        else:
            data = _zstandard.train_dictionary(size, list(samples)).as_bytes()
    except Exception:  # too few or too uniform samples: zstd refuses, the site waits
        return None
    return load_dictionary(data)
