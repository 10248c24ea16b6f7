"""Classify the soak's responses by the data they show: pure functions, no I/O.

Every page of the soak site shows ``(pk, version)`` pairs. A version only ever grows, and
each purge is recorded with the version it was made for and the moment it completed
(``t_done``: after ``purge_tags`` returned, or after the writer's response arrived). All
times are seconds on one clock (the host's ``time.monotonic()``). A response is judged by
when it *started* (``t_start``, taken before the request was sent), so nothing it shows may
be older than a purge that had completed by then:

``hard``
    the response started after a delivered hard purge of the article completed and shows
    an older version (whatever its ``X-Cache``).
``soft-hit``
    ``X-Cache: HIT`` and an older version than a delivered soft (or hard) purge that
    completed before it started. Pre-soft-purge content may be served as ``STALE`` or
    embedded in a ``MISS``/``BYPASS`` page, never as a ``HIT``.
``undelivered``
    a purge that could not be delivered (``delivered`` false) must take effect within
    ``grace`` seconds of Redis being reachable again: a response started later than that
    showing an older version (any response for a hard purge, a ``HIT`` for a soft one).
``5xx``
    any response with a status of 500 or more.
``slow``
    a request that took longer than ``slow_limit`` outside the phases that kill workers.
``error``
    no response at all (connection refused, reset, timed out) outside those phases; within
    them such a request is counted as *dropped*, not as a violation.

Each ``(response, article)`` pair gets at most one data violation, the first that applies
in the order above.
"""

from __future__ import annotations

import bisect
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

HARD = "hard"
SOFT_HIT = "soft-hit"
UNDELIVERED = "undelivered"
SERVER_ERROR = "5xx"
SLOW = "slow"
ERROR = "error"
KINDS = (HARD, SOFT_HIT, UNDELIVERED, SERVER_ERROR, SLOW, ERROR)

#: Seconds a request may take outside the phases that kill workers.
SLOW_LIMIT = 2.0
#: Seconds after Redis is back within which an undelivered purge must have taken effect.
GRACE = 1.0

_SHOWN = re.compile(rb'data-pk="(\d+)" data-v="(\d+)"')
_READ = re.compile(rb'data-pk="(\d+)" data-v="(\d+)" data-r="([0-9.]+)"')
_PAGE = re.compile(rb'<body data-page="([^"]*)" data-pid="(\d+)" data-read="([0-9.]+)"')


def parse_shown(body: bytes) -> tuple[tuple[int, int], ...]:
    """The ``(pk, version)`` pairs a page shows, in page order.

    >>> parse_shown(b'<span data-pk="3" data-v="7" data-r="1.5">A</span>')
    ((3, 7),)
    """
    return tuple((int(pk), int(version)) for pk, version in _SHOWN.findall(body))


def parse_read_times(body: bytes) -> dict[int, float]:
    """pk -> when the request that rendered that article's fragment read its rows."""
    return {int(pk): float(read) for pk, _, read in _READ.findall(body)}


def parse_page(body: bytes) -> tuple[str, int, float] | None:
    """``(page, pid, read_at)`` of the render that produced this page body, if shown."""
    found = _PAGE.search(body)
    if found is None:
        return None
    return found.group(1).decode(), int(found.group(2)), float(found.group(3))


@dataclass(frozen=True, slots=True)
class Response:
    """One request the soak made and what came back."""

    t_start: float
    t_end: float
    url: str
    #: ``None``: no response at all (connection refused, reset or timed out).
    status: int | None
    x_cache: str = ""
    shown: tuple[tuple[int, int], ...] = ()
    method: str = "GET"
    server: str = ""
    logged_in: bool = False
    error: str = ""
    #: pk -> when the request that rendered the article's fragment read its rows.
    read_times: dict[int, float] = field(default_factory=dict, compare=False, hash=False)
    #: (page, pid, read_at) of the render that produced the page body.
    page: tuple[str, int, float] | None = None

    @property
    def latency(self) -> float:
        return self.t_end - self.t_start


@dataclass(frozen=True, slots=True)
class Purge:
    """A data change and its purge: ``version`` is the version the change produced."""

    pk: int
    version: int
    soft: bool
    t_done: float
    delivered: bool = True
    source: str = "purger"
    pid: int | None = None

    @property
    def kind(self) -> str:
        return "soft" if self.soft else "hard"


@dataclass(frozen=True, slots=True)
class Phase:
    """A stretch of the run with one fault; responses belong to the phase they started in."""

    name: str
    t_start: float
    t_end: float
    fault: str = ""
    #: Workers are killed: dropped connections and slow requests are expected.
    kills: bool = False
    #: ``(t_down, t_back)`` intervals during which Redis was unreachable.
    outages: tuple[tuple[float, float], ...] = ()
    notes: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Violation:
    kind: str
    response: Response
    phase: str
    pk: int | None = None
    shown_version: int | None = None
    purge: Purge | None = None
    #: For ``undelivered``: the moment from which the purge had to be in effect.
    deadline: float | None = None


class _Newest:
    """For one article: the highest version among purges effective before a moment."""

    def __init__(self, entries: Iterable[tuple[float, Purge]]) -> None:
        ordered = sorted(entries, key=lambda item: item[0])
        self.times = [moment for moment, _ in ordered]
        self.best: list[Purge] = []
        for _, purge in ordered:
            if not self.best or purge.version > self.best[-1].version:
                self.best.append(purge)
            else:
                self.best.append(self.best[-1])

    def before(self, moment: float) -> Purge | None:
        """The purge with the highest version among those effective strictly before."""
        index = bisect.bisect_left(self.times, moment)
        return self.best[index - 1] if index else None


def redis_back(t_done: float, outages: Iterable[tuple[float, float]]) -> float:
    """When Redis was reachable again for a purge that failed at ``t_done``: the end of
    the outage it failed in, else ``t_done`` itself (Redis was up)."""
    for t_down, t_back in outages:
        if t_down <= t_done <= t_back:
            return t_back
    return t_done


@dataclass
class _Index:
    hard: dict[int, _Newest]
    any: dict[int, _Newest]
    undelivered_hard: dict[int, _Newest]
    undelivered_any: dict[int, _Newest]
    deadlines: dict[Purge, float]


def _index(purges: Sequence[Purge], outages: Sequence[tuple[float, float]], grace: float) -> _Index:
    hard: dict[int, list[tuple[float, Purge]]] = {}
    any_: dict[int, list[tuple[float, Purge]]] = {}
    und_hard: dict[int, list[tuple[float, Purge]]] = {}
    und_any: dict[int, list[tuple[float, Purge]]] = {}
    deadlines: dict[Purge, float] = {}
    for purge in purges:
        if purge.delivered:
            any_.setdefault(purge.pk, []).append((purge.t_done, purge))
            if not purge.soft:
                hard.setdefault(purge.pk, []).append((purge.t_done, purge))
        else:
            deadline = redis_back(purge.t_done, outages) + grace
            deadlines[purge] = deadline
            und_any.setdefault(purge.pk, []).append((deadline, purge))
            if not purge.soft:
                und_hard.setdefault(purge.pk, []).append((deadline, purge))

    def build(table: dict[int, list[tuple[float, Purge]]]) -> dict[int, _Newest]:
        return {pk: _Newest(entries) for pk, entries in table.items()}

    return _Index(build(hard), build(any_), build(und_hard), build(und_any), deadlines)


def phase_of(moment: float, phases: Sequence[Phase]) -> Phase:
    """The phase a moment falls in: the last one that started at or before it."""
    starts = [phase.t_start for phase in phases]
    index = bisect.bisect_right(starts, moment) - 1
    return phases[max(index, 0)]


def _older(table: dict[int, _Newest], pk: int, version: int, moment: float) -> Purge | None:
    newest = table.get(pk)
    purge = newest.before(moment) if newest is not None else None
    return purge if purge is not None and version < purge.version else None


def _data_violation(
    response: Response, pk: int, version: int, index: _Index, phase: str
) -> Violation | None:
    moment = response.t_start
    hit = response.x_cache == "HIT"
    purge = _older(index.hard, pk, version, moment)
    if purge is not None:
        return Violation(HARD, response, phase, pk, version, purge)
    if hit:
        purge = _older(index.any, pk, version, moment)
        if purge is not None:
            return Violation(SOFT_HIT, response, phase, pk, version, purge)
    purge = _older(index.undelivered_any if hit else index.undelivered_hard, pk, version, moment)
    if purge is not None:
        deadline = index.deadlines[purge]
        return Violation(UNDELIVERED, response, phase, pk, version, purge, deadline)
    return None


@dataclass
class Result:
    """Every violation found, plus what is needed for the per-phase table."""

    violations: list[Violation]
    dropped: Counter[str]
    responses: Sequence[Response]
    purges: Sequence[Purge]
    phases: Sequence[Phase]

    @property
    def ok(self) -> bool:
        return not self.violations

    def counts(self, phase: str | None = None) -> Counter[str]:
        return Counter(v.kind for v in self.violations if phase is None or v.phase == phase)


def classify(
    responses: Sequence[Response],
    purges: Sequence[Purge],
    phases: Sequence[Phase],
    *,
    slow_limit: float = SLOW_LIMIT,
    grace: float = GRACE,
) -> Result:
    """Judge every response against every purge (see the module docstring for the rules)."""
    if not phases:
        raise ValueError("classify() needs at least one phase")
    outages = sorted(outage for phase in phases for outage in phase.outages)
    index = _index(purges, outages, grace)
    violations: list[Violation] = []
    dropped: Counter[str] = Counter()
    for response in sorted(responses, key=lambda r: r.t_start):
        phase = phase_of(response.t_start, phases)
        if response.status is None:
            if phase.kills:
                dropped[phase.name] += 1
            else:
                violations.append(Violation(ERROR, response, phase.name))
            continue
        if response.status >= 500:
            violations.append(Violation(SERVER_ERROR, response, phase.name))
        if response.latency > slow_limit and not phase.kills:
            violations.append(Violation(SLOW, response, phase.name))
        if response.method != "GET":
            continue  # a write's body is its own new version, not cached content
        for pk, version in response.shown:
            found = _data_violation(response, pk, version, index, phase.name)
            if found is not None:
                violations.append(found)
    return Result(violations, dropped, responses, purges, phases)


# -- the report ------------------------------------------------------------------------------


def percentile(values: Sequence[float], fraction: float) -> float:
    """Nearest-rank percentile (0 for no values).

    >>> percentile([1.0, 2.0, 3.0, 4.0], 0.5)
    2.0
    """
    if not values:
        return 0.0
    ordered = sorted(values)
    rank = max(1, -(-len(ordered) * fraction // 1))
    return ordered[int(min(rank, len(ordered))) - 1]


@dataclass(frozen=True)
class Row:
    phase: str
    fault: str
    reads: int
    writes: int
    hits: int
    stale: int
    purges_hard: int
    purges_soft: int
    undelivered: int
    dropped: int
    violations: dict[str, int]
    p50_ms: float
    p99_ms: float
    max_ms: float
    write_max_ms: float


def _row(name: str, fault: str, responses: Sequence[Response], purges: Sequence[Purge],
         dropped: int, violations: Counter[str]) -> Row:  # fmt: skip
    reads = [r for r in responses if r.method == "GET"]
    writes = [r for r in responses if r.method != "GET"]
    answered = [r.latency for r in reads if r.status is not None]
    written = [r.latency for r in writes if r.status is not None]
    return Row(
        phase=name,
        fault=fault,
        reads=len(reads),
        writes=len(writes),
        hits=sum(1 for r in reads if r.x_cache == "HIT"),
        stale=sum(1 for r in reads if r.x_cache == "STALE"),
        purges_hard=sum(1 for p in purges if not p.soft),
        purges_soft=sum(1 for p in purges if p.soft),
        undelivered=sum(1 for p in purges if not p.delivered),
        dropped=dropped,
        violations={kind: violations.get(kind, 0) for kind in KINDS},
        p50_ms=percentile(answered, 0.5) * 1000,
        p99_ms=percentile(answered, 0.99) * 1000,
        max_ms=max(answered, default=0.0) * 1000,
        write_max_ms=max(written, default=0.0) * 1000,
    )


def rows(result: Result) -> list[Row]:
    """One row per phase, then a total row."""
    phases = result.phases
    by_phase: dict[str, list[Response]] = {p.name: [] for p in phases}
    for response in result.responses:
        by_phase[phase_of(response.t_start, phases).name].append(response)
    purges_by_phase: dict[str, list[Purge]] = {p.name: [] for p in phases}
    for purge in result.purges:
        if purge.t_done >= phases[0].t_start:  # not the purges made while warming up
            purges_by_phase[phase_of(purge.t_done, phases).name].append(purge)
    table = [
        _row(p.name, p.fault, by_phase[p.name], purges_by_phase[p.name],
             result.dropped.get(p.name, 0), result.counts(p.name))
        for p in phases
    ]  # fmt: skip
    all_purges = [purge for name in purges_by_phase for purge in purges_by_phase[name]]
    table.append(
        _row("total", "", result.responses, all_purges, sum(result.dropped.values()),
             result.counts())
    )  # fmt: skip
    return table


def markdown_table(table: Sequence[Row]) -> str:
    """The rows as a Markdown table (also readable as plain text)."""
    head = (
        "| phase | fault | reads | HIT | STALE | writes | purges hard/soft | undelivered purges "
        "| dropped | " + " | ".join(KINDS) + " | p50 ms | p99 ms | max ms | write max ms |"
    )
    lines = [head, "|" + "---|" * 2 + "---:|" * (head.count("|") - 3)]
    for row in table:
        name = f"**{row.phase}**" if row.phase == "total" else row.phase
        cells = [
            name, row.fault, str(row.reads), str(row.hits), str(row.stale), str(row.writes),
            f"{row.purges_hard}/{row.purges_soft}", str(row.undelivered), str(row.dropped),
            *(str(row.violations[kind]) for kind in KINDS),
            f"{row.p50_ms:.1f}", f"{row.p99_ms:.1f}", f"{row.max_ms:.0f}",
            f"{row.write_max_ms:.0f}",
        ]  # fmt: skip
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def describe(violation: Violation, t0: float = 0.0) -> str:
    """One violation in detail, with times in seconds since ``t0``."""
    r = violation.response

    def at(moment: float) -> str:
        return f"{moment - t0:+.3f}s"

    head = (
        f"[{violation.kind}] {r.method} {r.server}{r.url} ({violation.phase}) "
        f"started {at(r.t_start)}, took {r.latency * 1000:.0f} ms"
    )
    if r.status is None:
        return f"{head}: no response ({r.error})"
    head += f": {r.status} X-Cache: {r.x_cache or '-'}"
    if r.logged_in:
        head += " (logged in)"
    if violation.purge is None:
        return head
    p = violation.purge
    lines = [
        head,
        f"    shows article {violation.pk} v{violation.shown_version}, but a {p.kind} purge "
        f"for v{p.version} ({p.source}"
        + (f", pid {p.pid}" if p.pid else "")
        + f") completed at {at(p.t_done)}"
        + ("" if p.delivered else " undelivered"),
    ]
    if violation.deadline is not None:
        lines.append(f"    Redis was back at {at(violation.deadline - GRACE)}; the purge was due "
                     f"by {at(violation.deadline)}")  # fmt: skip
    read = r.read_times.get(violation.pk) if violation.pk is not None else None
    if read is not None:
        lines.append(
            f"    the fragment showing it was rendered from rows read at {at(read)} "
            f"({(p.t_done - read) * 1000:+.0f} ms before the purge completed)"
        )
    if r.page is not None:
        _, pid, read_at = r.page
        lines.append(f"    the page body was rendered by pid {pid} from rows read at {at(read_at)}")
    return "\n".join(lines)


def summary(result: Result, t0: float = 0.0, examples: int = 3) -> str:
    """Violation counts by kind, distinct stale versions, and the first few examples of
    each kind."""
    if result.ok:
        return "no violations"
    parts = []
    for kind in KINDS:
        found = [v for v in result.violations if v.kind == kind]
        if not found:
            continue
        distinct = {(v.pk, v.shown_version) for v in found if v.pk is not None}
        line = f"{kind}: {len(found)}"
        if distinct:
            line += f" ((response, article) pairs; {len(distinct)} distinct stale versions)"
        parts.append(line)
        parts.extend(describe(v, t0) for v in found[:examples])
    return "\n".join(parts)
