"""What each response shows, and whether it is older than a completed write: pure, no I/O.

Every fact the writer changes is a *key* with an integer value:

``t:<pk>``
    the version in an article's title: titles carry a marker ``[a<pk> v<version>]``
    (``v0`` as seeded); any page showing the title shows the version.
``m:<article pk>:<tag pk>``
    1 if the article has the topic, 0 if not: read from the topic chips on the article's
    page, and from whether the article is listed on the topic's page.
``c:<pk>``
    the number of comments the article's page says it has.

A write records the facts it set, when it began and when it was *done* (its transaction
committed and every cache hook it triggers returned). All times are one clock
(``time.monotonic()``, system-wide on Linux). A response is judged by when it *started*:
it may show the value of the last write done before it started, or the value of any write
still in flight during it; a value older than that is **stale**, and the write it misses
is the first write done after its value was replaced. The staleness window is the time
from that write being done to the response starting.
"""

from __future__ import annotations

import bisect
import re
import statistics
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

#: Write kinds, in the writer's rotation order (``race`` is a title write made while many
#: renders of the pages showing that title are in flight).
KINDS = ("title", "m2m-add", "m2m-remove", "comment", "bulk", "bulk-bare", "race")
#: Writes made without the step the cache's documentation asks for.
UNDOCUMENTED = frozenset({"bulk-bare"})

MARKER = re.compile(r"\[a(\d+) v(\d+)\]")
_CHIP = re.compile(r'class="chip" href="/tags/([\w-]+)/"')
_COMMENTS = re.compile(r"<h2>(\d+) comments?</h2>")


def title_marker(pk: int, version: int) -> str:
    """The marker a title carries.

    >>> title_marker(12, 3)
    '[a12 v3]'
    """
    return f"[a{pk} v{version}]"


def strip_marker(title: str) -> str:
    """A title without its marker.

    >>> strip_marker("Farmers test new tram line [a7 v0]")
    'Farmers test new tram line'
    """
    return MARKER.sub("", title).rstrip()


@dataclass(frozen=True)
class Site:
    """What the checker needs to know about the seeded data to read a page."""

    #: pk -> slug of the articles the writer changes (the newest ones: every page that
    #: lists articles shows them first).
    pool: Mapping[int, str]
    #: slug -> pk of every topic.
    tags: Mapping[str, int]
    #: Topics whose links to pool articles the writer adds and removes.
    hot_tags: frozenset[int]

    def article_at(self, path: str) -> int | None:
        """The pool article whose page ``path`` is."""
        for pk, slug in self.pool.items():
            if path == f"/articles/{slug}/":
                return pk
        return None

    def tag_at(self, path: str) -> int | None:
        """The hot topic whose page ``path`` is."""
        if path.startswith("/tags/"):
            pk = self.tags.get(path[len("/tags/") :].strip("/"))
            if pk in self.hot_tags:
                return pk
        return None


def observe(site: Site, path: str, body: str) -> dict[str, int]:
    """The facts a page shows, as ``{key: value}``; a title shown twice with two
    versions (two fragments) keeps the older one.

    >>> site = Site({1: "a-one"}, {"rail": 5}, frozenset({5}))
    >>> page = '<h1>A one [a1 v3]</h1> <a class="chip" href="/tags/rail/">Rail</a>'
    >>> page += "<h2>2 comments</h2>"
    >>> observe(site, "/articles/a-one/", page)
    {'t:1': 3, 'm:1:5': 1, 'c:1': 2}
    >>> observe(site, "/tags/rail/", "<h2>Nothing here yet</h2>")
    {'m:1:5': 0}
    """
    shown: dict[str, int] = {}
    listed: set[int] = set()
    for pk_text, version_text in MARKER.findall(body):
        pk, version = int(pk_text), int(version_text)
        listed.add(pk)
        if pk in site.pool:
            key = f"t:{pk}"
            shown[key] = min(version, shown.get(key, version))
    article = site.article_at(path)
    if article is not None:
        chips = {site.tags.get(slug) for slug in _CHIP.findall(body)}
        for tag in sorted(site.hot_tags):
            shown[f"m:{article}:{tag}"] = int(tag in chips)
        found = _COMMENTS.search(body)
        if found is not None:
            shown[f"c:{article}"] = int(found.group(1))
    topic = site.tag_at(path)
    if topic is not None:
        for pk in site.pool:
            shown[f"m:{pk}:{topic}"] = int(pk in listed)
    return shown


@dataclass(frozen=True)
class Write:
    """One write: its kind, the facts it set and when it began and was done."""

    kind: str
    t_begin: float
    t_done: float
    facts: tuple[tuple[str, int], ...]


@dataclass(frozen=True, eq=False)  # compared and hashed by identity
class Read:
    """One response a reader got."""

    t_start: float
    t_end: float
    path: str
    status: int
    x_cache: str = ""
    #: SQL queries the server ran for it (the ``X-Queries`` header; -1 if absent).
    queries: int = -1
    shown: Mapping[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class Stale:
    """A fact a response showed older than a write done before it started."""

    read: Read
    key: str
    shown: int
    missed: Write

    @property
    def window(self) -> float:
        """Seconds from the missed write being done to the response starting."""
        return self.read.t_start - self.missed.t_done


class Timeline:
    """The writes of one key, in order (there is one writer: begin and done orders agree)."""

    def __init__(self, initial: int, writes: Iterable[tuple[Write, int]]) -> None:
        self.initial = initial
        self.writes = sorted(writes, key=lambda item: item[0].t_done)
        self.done = [write.t_done for write, _ in self.writes]

    def judge(self, shown: int, t_start: float, t_end: float) -> Write | None:
        """``None`` if ``shown`` is a value the response may show, else the write it
        misses. Raises ``ValueError`` for a value no write ever set."""
        index = bisect.bisect_left(self.done, t_start)  # writes done strictly before
        current = self.writes[index - 1][1] if index else self.initial
        if shown == current:
            return None
        for write, value in self.writes[index:]:
            if write.t_begin >= t_end:
                break
            if value == shown:
                return None  # in flight while the response was made
        for position in range(index - 1, -1, -1):
            if self.writes[position][1] == shown:
                return self.writes[position + 1][0]
        if shown == self.initial:
            return self.writes[0][0]
        raise ValueError(f"value {shown} was never written")


def timelines(initial: Mapping[str, int], writes: Iterable[Write]) -> dict[str, Timeline]:
    """One timeline per key that was written (keys never written cannot be stale)."""
    by_key: dict[str, list[tuple[Write, int]]] = {}
    for write in writes:
        for key, value in write.facts:
            by_key.setdefault(key, []).append((write, value))
    return {key: Timeline(initial.get(key, 0), items) for key, items in by_key.items()}


@dataclass
class Judgement:
    """Every stale fact found, and the facts no write explains (a harness bug if any)."""

    stale: list[Stale]
    unexplained: list[tuple[Read, str, int]]

    def stale_reads(self) -> dict[Read, list[Stale]]:
        found: dict[Read, list[Stale]] = {}
        for item in self.stale:
            found.setdefault(item.read, []).append(item)
        return found


def judge(reads: Iterable[Read], lines: Mapping[str, Timeline]) -> Judgement:
    """Judge every fact every read shows."""
    stale: list[Stale] = []
    unexplained: list[tuple[Read, str, int]] = []
    for read in reads:
        for key, value in read.shown.items():
            line = lines.get(key)
            if line is None:
                continue
            try:
                missed = line.judge(value, read.t_start, read.t_end)
            except ValueError:
                unexplained.append((read, key, value))
                continue
            if missed is not None:
                stale.append(Stale(read, key, value, missed))
    return Judgement(stale, unexplained)


# -- summary -------------------------------------------------------------------------------


def page_kind(path: str) -> str:
    """What kind of page ``path`` is.

    >>> page_kind("/"), page_kind("/articles/x/"), page_kind("/tags/rail/")
    ('home', 'article', 'topic')
    """
    for prefix, kind in (("/articles/", "article"), ("/categories/", "section"),
                         ("/tags/", "topic")):  # fmt: skip
        if path.startswith(prefix):
            return kind
    return "home" if path == "/" else "other"


def where(judgement: Judgement) -> Counter[tuple[str, str]]:
    """Stale responses by (kind of the missed write, kind of page)."""
    found: set[tuple[int, str, str]] = set()
    for item in judgement.stale:
        found.add((id(item.read), item.missed.kind, page_kind(item.read.path)))
    return Counter((kind, page) for _, kind, page in found)


def percentile(values: Sequence[float], fraction: float) -> float:
    """Nearest-rank percentile (0 for no values).

    >>> percentile([1.0, 2.0, 3.0, 4.0], 0.99)
    4.0
    """
    if not values:
        return 0.0
    ordered = sorted(values)
    rank = max(1, -(-len(ordered) * fraction // 1))
    return ordered[int(min(rank, len(ordered))) - 1]


@dataclass(frozen=True)
class KindRow:
    """Staleness caused by the writes of one kind."""

    kind: str
    writes: int
    #: Writes that some later response missed.
    writes_missed: int
    #: Responses showing data older than a write of this kind.
    stale_reads: int
    max_window: float


@dataclass(frozen=True)
class Summary:
    """One configuration's numbers."""

    reads: int
    seconds: float
    stale_reads: int
    max_window: float
    #: Median staleness window over stale responses (each counted by its oldest miss).
    median_window: float
    #: The same three, counting only misses of writes made as the cache's documentation
    #: says (every kind but ``bulk-bare``).
    documented_stale_reads: int
    documented_max_window: float
    documented_median_window: float
    kinds: tuple[KindRow, ...]
    x_cache: dict[str, int]
    no_sql: int
    queries: float
    p50_ms: float
    p99_ms: float
    errors: int
    unexplained: int
    writes: int

    @property
    def rps(self) -> float:
        return self.reads / self.seconds if self.seconds else 0.0

    @property
    def stale_pct(self) -> float:
        return 100.0 * self.stale_reads / self.reads if self.reads else 0.0

    @property
    def no_sql_pct(self) -> float:
        return 100.0 * self.no_sql / self.reads if self.reads else 0.0

    def x_cache_pct(self, status: str) -> float:
        return 100.0 * self.x_cache.get(status, 0) / self.reads if self.reads else 0.0


def summarize(
    reads: Sequence[Read], writes: Sequence[Write], judgement: Judgement, seconds: float
) -> Summary:
    """The numbers of one configuration's run."""
    ok = [r for r in reads if 200 <= r.status < 400]
    by_read = judgement.stale_reads()
    windows = [max(s.window for s in found) for found in by_read.values()]
    documented = [
        max(s.window for s in found if s.missed.kind not in UNDOCUMENTED)
        for found in by_read.values()
        if any(s.missed.kind not in UNDOCUMENTED for s in found)
    ]
    kinds = []
    for kind in KINDS:
        of_kind = [s for s in judgement.stale if s.missed.kind == kind]
        kinds.append(
            KindRow(
                kind=kind,
                writes=sum(1 for w in writes if w.kind == kind),
                writes_missed=len({s.missed for s in of_kind}),
                stale_reads=len({s.read for s in of_kind}),
                max_window=max((s.window for s in of_kind), default=0.0),
            )
        )
    latencies = [(r.t_end - r.t_start) * 1000 for r in ok]
    counted = [r.queries for r in ok if r.queries >= 0]
    return Summary(
        reads=len(reads),
        seconds=seconds,
        stale_reads=len(by_read),
        max_window=max(windows, default=0.0),
        median_window=statistics.median(windows) if windows else 0.0,
        documented_stale_reads=len(documented),
        documented_max_window=max(documented, default=0.0),
        documented_median_window=statistics.median(documented) if documented else 0.0,
        kinds=tuple(kinds),
        x_cache=dict(Counter(r.x_cache for r in ok if r.x_cache)),
        no_sql=sum(1 for q in counted if q == 0),
        queries=sum(counted) / len(counted) if counted else 0.0,
        p50_ms=percentile(latencies, 0.5),
        p99_ms=percentile(latencies, 0.99),
        errors=len(reads) - len(ok),
        unexplained=len(judgement.unexplained),
        writes=len(writes),
    )
