"""``STATS`` counters: what they are called, how they are named in Redis, and how a table of
them is read (pure; :mod:`pagecache.stats` counts, the stores write).

A counter is one field of a Redis hash, ``"<scope>|<name>|<event>"``: scope ``page`` (named
by the URL pattern's name) or ``fragment`` (by the fragment's name), or ``all`` for purges.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

#: What is counted, in the order ``manage.py pagecache stats`` prints it.
EVENTS = ("hit", "stale", "miss", "bypass", "store", "saved_ms", "purge", "purged_tags")
SCOPES = ("page", "fragment", "all")
#: The name of a page whose URL pattern has none (never the path: it would not be bounded).
UNNAMED = "(unnamed)"
#: Longest name kept in a field (longer ones are cut: the hash stays bounded).
MAX_NAME = 100


@functools.lru_cache(maxsize=4096)
def field_name(scope: str, name: str, event: str) -> str:
    """The hash field of one counter.

    >>> field_name("page", "blog:article", "hit")
    'page|blog:article|hit'
    >>> field_name("fragment", "side|bar", "miss")
    'fragment|side/bar|miss'
    """
    clean = (name or UNNAMED).replace("|", "/")[:MAX_NAME]
    return f"{scope}|{clean}|{event}"


@dataclass
class Row:
    """The counters of one page or fragment name."""

    scope: str
    name: str
    counts: dict[str, int] = field(default_factory=dict)

    @property
    def served(self) -> int:
        return self.counts.get("hit", 0) + self.counts.get("stale", 0)

    @property
    def hit_ratio(self) -> float | None:
        """Hits and stale hits over every lookup that could have been served (bypasses,
        which never look, are left out)."""
        looked = self.served + self.counts.get("miss", 0)
        return self.served / looked if looked else None


def table(fields: Iterable[tuple[bytes | str, bytes | str | int]]) -> list[Row]:
    """Rows from a stats hash (or several, summed), busiest first; unknown fields skipped.

    >>> rows = table([("page|home|hit", "3"), ("page|home|miss", 1), ("junk", 2)])
    >>> rows[0].name, rows[0].counts, rows[0].hit_ratio
    ('home', {'hit': 3, 'miss': 1}, 0.75)
    """
    rows: dict[tuple[str, str], Row] = {}
    for raw_field, raw_value in fields:
        text = raw_field.decode(errors="replace") if isinstance(raw_field, bytes) else raw_field
        scope, _, rest = text.partition("|")
        name, _, event = rest.rpartition("|")
        if scope not in SCOPES or event not in EVENTS or not name:
            continue
        try:
            value = int(raw_value)
        except (TypeError, ValueError):
            continue
        row = rows.setdefault((scope, name), Row(scope, name))
        row.counts[event] = row.counts.get(event, 0) + value
    return sorted(
        rows.values(),
        key=lambda r: (SCOPES.index(r.scope), -(r.served + r.counts.get("miss", 0)), r.name),
    )


def as_json(rows: Iterable[Row]) -> list[Mapping[str, object]]:
    return [{"scope": r.scope, "name": r.name, **r.counts, "hit_ratio": r.hit_ratio} for r in rows]


def render_table(rows: Iterable[Row]) -> str:
    """The rows as the plain-text table ``manage.py pagecache stats`` prints.

    >>> print(render_table(table([("page|home|hit", 9), ("page|home|miss", 1)])))
    scope  name  hit ratio  hits  stale  misses  bypasses  stores  saved
    page   home        90%     9      0       1         0       0  0.0 s
    """
    header = (
        "scope",
        "name",
        "hit ratio",
        "hits",
        "stale",
        "misses",
        "bypasses",
        "stores",
        "saved",
    )
    lines = [header]
    for r in rows:
        if r.scope == "all":
            continue
        ratio = "-" if r.hit_ratio is None else f"{r.hit_ratio:.0%}"
        c = r.counts
        lines.append((
            r.scope, r.name, ratio, str(c.get("hit", 0)), str(c.get("stale", 0)),
            str(c.get("miss", 0)), str(c.get("bypass", 0)), str(c.get("store", 0)),
            f"{c.get('saved_ms', 0) / 1000:.1f} s",
        ))  # fmt: skip
    widths = [max(len(line[i]) for line in lines) for i in range(len(header))]
    out = []
    for line in lines:
        cells = [
            cell.ljust(widths[i]) if i < 2 else cell.rjust(widths[i]) for i, cell in enumerate(line)
        ]
        out.append("  ".join(cells).rstrip())
    purges = next((r for r in rows if r.scope == "all"), None)
    if purges is not None:
        out.append(
            f"purges: {purges.counts.get('purge', 0)} ({purges.counts.get('purged_tags', 0)} tags)"
        )
    return "\n".join(out)
