"""The site dictionary's decisions: when one is trained, on what, where it is kept, and
which entries are compressed again with it. Pure: no cache, no threads; the clock and the
random source are parameters.

:mod:`pagecache.dictionary_worker` runs these in one background thread per process,
:mod:`pagecache.dictionary` holds the dictionaries, and both do their I/O through
:mod:`pagecache.stores.dictionaries`; :mod:`pagecache.core.compression` holds the codecs.
docs/design.md ("The site dictionary") explains the whole.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from .policy import Decision

__all__ = [
    "Current",
    "Ratio",
    "Samples",
    "current_key",
    "dictionary_key",
    "dictionary_size",
    "pause_after",
    "recompress_due",
    "training_due",
    "training_key",
]

#: A dictionary is first trained once this many distinct entries were sampled, and ...
MIN_SAMPLES = 32
#: ... at least this many bytes of them (zstd needs material; a tiny site gains little).
MIN_SAMPLE_BYTES = 128 * 1024
#: Samples kept per process (one per entry key, replaced at random once full); a
#: dictionary trained on fewer is trained again when a process holds twice as many.
FULL_SAMPLES = 128
#: Bytes kept of each sample (its head) and of all of them: the memory bound of sampling.
SAMPLE_MAX_BYTES = 64 * 1024
SAMPLES_MAX_BYTES = 4 * 1024 * 1024
#: zstd's own default dictionary size: on 20 KB pages, 110 KB beat 64 KB by 2 % and
#: 32 KB by 5 %; larger ones did worse.
DICTIONARY_MAX_BYTES = 112_640
#: Retrain when entries compress this much worse than in the dictionary's first stores
#: (the site's markup changed) and the dictionary is at least this old.
RETRAIN_WORSE_BY = 1.25
RETRAIN_AFTER_S = 3600
#: Stores with a new dictionary that set the ratio it is later compared with.
BASELINE_STORES = 32
#: Entries living less than this are left as the request compressed them.
RECOMPRESS_MIN_LIFE_S = 60
#: Share of one core the background thread may spend compressing entries again.
RECOMPRESS_DUTY = 0.25
#: Seconds between two looks at which dictionary the site uses (and keeping it alive).
REFRESH_S = 30.0
#: A dictionary key lives this long after the last process using it kept it alive, ...
DICTIONARY_TTL_S = 7 * 24 * 3600
#: ... and this long once a newer one replaced it (older entries still name it; one living
#: longer is a miss once it is gone).
SUPERSEDED_TTL_S = 24 * 3600
#: Dictionaries a process keeps for reading (one is the current; older entries name others).
HELD_DICTIONARIES = 4
#: Seconds a dictionary found missing is not asked for again.
MISSING_RETRY_S = 1.0


def dictionary_key(prefix: str, dictionary_id: int) -> str:
    """Where a dictionary's bytes are kept (one key per dictionary, any Cluster slot).

    >>> dictionary_key("pc", 0x1234abcd)
    'pc:zd:1234abcd'
    """
    return f"{prefix}:zd:{dictionary_id:08x}"


def current_key(prefix: str) -> str:
    """Which dictionary writers use (:class:`Current`)."""
    return f"{prefix}:zd:current"


def training_key(prefix: str) -> str:
    """Held (SET NX) by the one process training a dictionary."""
    return f"{prefix}:zd:training"


@dataclass(frozen=True, slots=True)
class Current:
    """The dictionary writers use: its id, how many entries it was trained on, and when
    (Unix seconds).

    >>> Current(0x1234abcd, 32, 1700000000).dumps()
    b'1234abcd 32 1700000000'
    >>> Current.loads(b'1234abcd 32 1700000000')
    Current(id=305441741, samples=32, created=1700000000)
    """

    id: int
    samples: int
    created: int

    def dumps(self) -> bytes:
        return b"%08x %d %d" % (self.id, self.samples, self.created)

    @classmethod
    def loads(cls, data: object) -> Current | None:
        """``None`` for anything that is not a :meth:`dumps` value."""
        if not isinstance(data, bytes):
            return None
        try:
            text_id, samples, created = data.decode("ascii").split(" ")
            found = cls(int(text_id, 16), int(samples), int(created))
        except (ValueError, UnicodeDecodeError):
            return None
        return found if found.id > 0 and found.samples >= 0 else None


class Samples:
    """Entry payloads of this process to train on: one per entry key, at most
    :data:`FULL_SAMPLES` of at most :data:`SAMPLE_MAX_BYTES` each and
    :data:`SAMPLES_MAX_BYTES` together; once full, a new key replaces one at random (so the
    samples follow the site as it changes).

    >>> samples = Samples(count=2, rng=random.Random(1))
    >>> for key in "abc":
    ...     samples.add(key, key.encode() * 10)
    >>> len(samples), samples.bytes
    (2, 20)
    """

    def __init__(
        self,
        count: int = FULL_SAMPLES,
        total_bytes: int = SAMPLES_MAX_BYTES,
        rng: random.Random | None = None,
    ) -> None:
        self.count = count
        self.total_bytes = total_bytes
        self.bytes = 0
        self._rng = rng or random.Random()
        self._by_key: dict[str, bytes] = {}

    def __len__(self) -> int:
        return len(self._by_key)

    def add(self, key: str, payload: bytes) -> None:
        payload = payload[:SAMPLE_MAX_BYTES]
        self.bytes -= len(self._by_key.pop(key, b""))
        while self._by_key and (
            len(self._by_key) >= self.count or self.bytes + len(payload) > self.total_bytes
        ):
            victim = self._rng.choice(list(self._by_key))
            self.bytes -= len(self._by_key.pop(victim))
        self._by_key[key] = payload
        self.bytes += len(payload)

    def payloads(self) -> list[bytes]:
        return list(self._by_key.values())

    def clear(self) -> None:
        self._by_key.clear()
        self.bytes = 0


class Ratio:
    """How well the current dictionary compresses this process's entries: the mean ratio
    of its first :data:`BASELINE_STORES` stores, then a moving average of the later ones.

    >>> ratio = Ratio()
    >>> for _ in range(BASELINE_STORES):
    ...     ratio.add(1000, 200)
    >>> for _ in range(200):
    ...     ratio.add(1000, 300)
    >>> round(ratio.worse_by(), 2)
    1.48
    """

    ALPHA = 1 / 64

    def __init__(self) -> None:
        self.count = 0
        self.baseline = 0.0
        self.recent = 0.0

    def add(self, raw: int, compressed: int) -> None:
        if raw <= 0:
            return
        value = compressed / raw
        self.count += 1
        if self.count <= BASELINE_STORES:
            self.baseline += (value - self.baseline) / self.count
            self.recent = self.baseline
        else:
            self.recent += (value - self.recent) * self.ALPHA

    def worse_by(self) -> float:
        """Recent ratio over the baseline (1.0 until there are enough stores to tell)."""
        if self.count < 2 * BASELINE_STORES or self.baseline <= 0:
            return 1.0
        return self.recent / self.baseline


def dictionary_size(sample_bytes: int) -> int:
    """The size to train a dictionary at: an eighth of the material, at most
    :data:`DICTIONARY_MAX_BYTES`.

    >>> dictionary_size(4_000_000), dictionary_size(160_000)
    (112640, 20000)
    """
    return max(1024, min(DICTIONARY_MAX_BYTES, sample_bytes // 8))


def training_due(
    current: Current | None, *, samples: int, sample_bytes: int, worse_by: float, now: float
) -> Decision:
    """Whether this process trains a dictionary now (and publishes it as the current one).

    >>> training_due(None, samples=40, sample_bytes=800_000, worse_by=1.0, now=0)
    Decision(ok=True, reason='the site has no dictionary yet')
    >>> bool(training_due(Current(1, 32, 0), samples=40, sample_bytes=800_000, worse_by=1, now=0))
    False
    """
    if samples < MIN_SAMPLES or sample_bytes < MIN_SAMPLE_BYTES:
        return Decision(False, f"{samples} entries ({sample_bytes} bytes) sampled: too few")
    if current is None:
        return Decision(True, "the site has no dictionary yet")
    if current.samples < FULL_SAMPLES and samples >= min(FULL_SAMPLES, 2 * current.samples):
        return Decision(True, f"it was trained on {current.samples} entries; {samples} now")
    if worse_by >= RETRAIN_WORSE_BY and now - current.created >= RETRAIN_AFTER_S:
        return Decision(True, f"entries compress {worse_by:.2f} times worse than at first")
    return Decision(False, "the current dictionary is good")


def recompress_due(life_s: int, *, have_dictionary: bool, codec: bytes) -> Decision:
    """Whether an entry just stored is compressed again at the slow level, off the request
    path: it costs about 5 ms of CPU per 20 KB and saves about a third of the entry for
    its life, so short-lived entries are left as they are.

    >>> recompress_due(3600, have_dictionary=True, codec=b"d")
    Decision(ok=True, reason='')
    >>> recompress_due(30, have_dictionary=True, codec=b"d").reason
    'it lives 30 s, less than 60 s'
    """
    if not have_dictionary:
        return Decision(False, "this process has no dictionary")
    if codec not in (b"s", b"d"):
        return Decision(False, "it is not compressed with zstd")  # too small, or no zstd
    if life_s < RECOMPRESS_MIN_LIFE_S:
        return Decision(False, f"it lives {life_s} s, less than {RECOMPRESS_MIN_LIFE_S} s")
    return Decision(True)


def pause_after(worked_s: float) -> float:
    """How long the background thread rests after ``worked_s`` seconds of compressing, so
    that it spends at most :data:`RECOMPRESS_DUTY` of a core.

    >>> pause_after(0.005)
    0.015
    """
    return round(worked_s * (1 / RECOMPRESS_DUTY - 1), 9)
