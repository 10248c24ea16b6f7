# ruff: noqa: RUF001 (typeset text: the multiplication sign and en dash are meant)
"""Turn the results of ``argument.run`` into tables, docs/argument.md and docs/argument.png."""

from __future__ import annotations

import platform
import statistics
import subprocess
import sys
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

from argument.checker import KINDS

LABELS = {
    "none": "no cache",
    "cache_page": "Django site cache (TTL)",
    "cacheops": "django-cacheops",
    "cachalot": "django-cachalot",
    "pagecache": "pagecache",
}
SHORT = {
    "none": "no cache",
    "cache_page": "site cache\n(TTL)",
    "cacheops": "cacheops",
    "cachalot": "cachalot",
    "pagecache": "pagecache",
}
KIND_TEXT = {
    "title": "`article.save()` of a new title",
    "m2m-add": "`article.tags.add(tag)` / `tag.articles.add(article)`",
    "m2m-remove": "`tag.articles.remove(article)` / `article.tags.remove(tag)`",
    "comment": "`Comment.objects.create(article=...)` (the article's comment count)",
    "bulk": "`QuerySet.update()` of three titles + the cache's documented step after it",
    "bulk-bare": "the same `QuerySet.update()`, nothing after it",
    "race": "a title `save()` committed while renders of its pages are in flight",
}
PACKAGES = (
    "Django", "django-redis", "redis", "psycopg", "gunicorn",
    "django-cacheops", "django-cachalot", "django-pagecache",
)  # fmt: skip


def _secs(seconds: float) -> str:
    """A staleness window, to a tenth of a second (a hundredth below that).

    >>> _secs(7.31), _secs(0.04)
    ('7.3 s', '0.04 s')
    """
    return f"{seconds:.1f} s" if seconds >= 0.1 else f"{seconds:.2f} s"


def _s(result: dict[str, Any]) -> dict[str, Any]:
    return result["summary"]  # type: ignore[no-any-return]


def _pct(part: float, whole: float) -> float:
    return 100.0 * part / whole if whole else 0.0


def _hits(result: dict[str, Any]) -> str:
    s = _s(result)
    if not s["x_cache"]:
        return "–"
    hit, stale = s["x_cache"].get("HIT", 0), s["x_cache"].get("STALE", 0)
    return f"{_pct(hit, s['reads']):.0f} % HIT, {_pct(stale, s['reads']):.0f} % STALE"


def _slot_rps(result: dict[str, Any]) -> list[float]:
    seconds = _s(result)["seconds"] / max(1, len(result.get("slots", [])))
    return [slot["reads"] / seconds for slot in result.get("slots", [])]


def rps(result: dict[str, Any]) -> float:
    """Requests per second: the median over the rounds (one slow round weighs less)."""
    slots = _slot_rps(result)
    if slots:
        return statistics.median(slots)
    s = _s(result)
    return s["reads"] / s["seconds"] if s["seconds"] else 0.0


def _rps_cell(result: dict[str, Any]) -> str:
    cell = f"{rps(result):.0f}"
    slots = _slot_rps(result)
    if len(slots) > 1:
        cell += " (" + ", ".join(f"{r:.0f}" for r in slots) + ")"
    return cell


def one_line(result: dict[str, Any]) -> str:
    s = _s(result)
    return (
        f"{result['config']}: {s['reads']} reads, {rps(result):.0f} req/s (median round), "
        f"{s['queries']:.2f} queries/req, {_pct(s['no_sql'], s['reads']):.0f} % without SQL, "
        f"stale {s['stale_reads']} ({_pct(s['stale_reads'], s['reads']):.2f} %), "
        f"longest {s['max_window']:.2f} s, {s['writes']} writes; other processes "
        f"{result.get('other_cpu', 0):.0f} % CPU"
    )


def _bare(s: dict[str, Any]) -> dict[str, Any]:
    row: dict[str, Any] = next(k for k in s["kinds"] if k["kind"] == "bulk-bare")
    return row


def slot_line(
    config: str, round_no: int, reads: int, seconds: float, stale: int, other_cpu: float
) -> str:
    return (
        f"{config}-{round_no}: {reads} reads, {reads / seconds:.0f} req/s, {stale} stale facts; "
        f"other processes {other_cpu:.0f} % CPU"
    )


def table(results: list[dict[str, Any]]) -> str:
    """The main table: one row per configuration."""
    lines = [
        "| configuration | req/s: median (each round) | SQL queries / request "
        "| responses without SQL | X-Cache | stale responses, writes as documented "
        "| longest window | stale responses, bare `update()` | longest window | p50 / p99 ms |",
        "|---|---:|---:|---:|---|---:|---:|---:|---:|---:|",
    ]
    for result in results:
        s = _s(result)
        n = s["documented_stale_reads"]
        stale = f"{n} ({_pct(n, s['reads']):.2f} %)"
        window = _secs(s["documented_max_window"]) if n else "–"
        bare = _bare(s)
        bare_stale = f"{bare['stale_reads']} ({_pct(bare['stale_reads'], s['reads']):.2f} %)"
        bare_window = _secs(bare["max_window"]) if bare["stale_reads"] else "–"
        lines.append(
            f"| {LABELS[result['config']]} | {_rps_cell(result)} "
            f"| {s['queries']:.2f} | {_pct(s['no_sql'], s['reads']):.0f} % | {_hits(result)} "
            f"| {stale} | {window} | {bare_stale} | {bare_window} "
            f"| {s['p50_ms']:.0f} / {s['p99_ms']:.0f} |"
        )
    return "\n".join(lines)


def kind_table(results: list[dict[str, Any]]) -> str:
    """Stale responses by the kind of write they miss: responses (% of all), writes missed."""
    head = "| write kind | " + " | ".join(LABELS[r["config"]] for r in results) + " |"
    lines = [head, "|---|" + "---:|" * len(results)]
    for kind in KINDS:
        cells = []
        for result in results:
            s = _s(result)
            row = next(k for k in s["kinds"] if k["kind"] == kind)
            if not row["writes"]:
                cells.append("–")
            elif not row["stale_reads"]:
                cells.append(f"0 (0/{row['writes']} writes)")
            else:
                cells.append(
                    f"**{row['stale_reads']}** ({_pct(row['stale_reads'], s['reads']):.2f} %; "
                    f"{row['writes_missed']}/{row['writes']} writes; "
                    f"≤ {_secs(row['max_window'])})"
                )
        lines.append(f"| {kind} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def versions() -> str:
    found = []
    for name in PACKAGES:
        try:
            found.append(f"{name} {metadata.version(name)}")
        except metadata.PackageNotFoundError:
            found.append(f"{name} (not installed)")
    return ", ".join(found)


def commit() -> str:
    """This checkout's commit, ``-dirty`` if it has uncommitted changes."""
    out = subprocess.run(
        ["git", "describe", "--always", "--dirty"],
        capture_output=True, text=True, check=False, cwd=Path(__file__).parent,
    )  # fmt: skip
    return out.stdout.strip() or "?"


def _cpu() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "?"


def chart(results: list[dict[str, Any]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = [SHORT[r["config"]] for r in results]
    colors = ["#2563eb" if r["config"] == "pagecache" else "#9ca3af" for r in results]
    fig, axes = plt.subplots(1, 3, figsize=(13, 4.2))

    ax = axes[0]
    rates = [rps(r) for r in results]
    low = [rate - min(_slot_rps(r), default=rate) for r, rate in zip(results, rates, strict=True)]
    high = [max(_slot_rps(r), default=rate) - rate for r, rate in zip(results, rates, strict=True)]
    ax.bar(names, rates, color=colors, yerr=[low, high], capsize=4, ecolor="#374151")
    ax.set_title("req/s, median round (whiskers: slowest, fastest)", fontsize=10)

    ax = axes[1]
    ax.bar(names, [_s(r)["queries"] for r in results], color=colors)
    ax.set_title("SQL queries per request")

    ax = axes[2]
    documented = [_pct(_s(r)["documented_stale_reads"], _s(r)["reads"]) for r in results]
    total = [_pct(_s(r)["stale_reads"], _s(r)["reads"]) for r in results]
    ax.bar(names, documented, color="#dc2626", label="writes as documented")
    ax.bar(
        names,
        [t - d for t, d in zip(total, documented, strict=True)],
        bottom=documented,
        color="#f59e0b",
        label="only a bare update() missed",
    )
    ax.set_title("Responses older than a completed write (%)")
    ax.legend(fontsize=8)

    for ax in axes:
        ax.tick_params(axis="x", labelsize=8)
    fig.suptitle("The demo site under readers and one writer, five ways (make argument)")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)


def markdown(results: list[dict[str, Any]], info: dict[str, Any], chart_name: str) -> str:
    when = info.get("finished") or datetime.now(tz=UTC).strftime("%Y-%m-%d %H:%M UTC")
    parts = [
        "# The argument, measured",
        "",
        "<!-- Generated by `python -m argument.run` (argument/report.py); do not edit by hand. -->",
        "",
        f"Measured by `make argument` on {when} in {info['elapsed']:.0f} s "
        f"(commit `{info.get('commit') or commit()}`).",
        "",
        f"![Throughput, queries and stale responses per configuration]({chart_name})",
        "",
        "## Results",
        "",
        table(results),
        "",
        "**Stale responses by the write they miss** — responses (share of all responses), "
        "writes of that kind that some later response missed, longest window:",
        "",
        kind_table(results),
        "",
        "**Where they were** (stale responses by missed write and page; a response can "
        "count under more than one):",
        "",
        *_where(results),
        "",
        "* *stale response*: it started after a write had completed (committed, and every "
        "cache hook it triggers had returned) and shows data from before that write. A "
        "response may show the data of any write still in flight while it was made. The "
        "*window* is the time from that write completing to the stale response starting.",
        "* *SQL queries / request*: counted on the server, for each request, by "
        "`connection.execute_wrapper` in a WSGI wrapper around Django (`argument/wsgi.py`) "
        "into an `X-Queries` header; a query answered from cacheops' or cachalot's cache "
        "never reaches the database and is not counted. *Responses without SQL*: served "
        "without any query (a page-cache hit, or every query of the page cached).",
        "* A stale response counts under the *first* write it misses (the oldest): a page "
        "Django's site cache stored before the `race` write's preceding title write counts "
        "under `title`, which is why the TTL cache shows no `race` row of its own.",
        "* *X-Cache*: pagecache's own header. Django's site cache sets none; its hits are "
        "the responses without SQL (every render of these pages runs queries).",
        "",
        "## What the numbers say",
        "",
        *_reading(results),
        "",
        "## The workload",
        "",
        f"* **Site:** the demo news site (`demo_site/`), {info['articles']} seeded articles "
        "(`seed_demo`), 10 sections, 30 topics, comments; PostgreSQL "
        f"{info['postgres']} on loopback, each configuration on its own fresh copy of the "
        "same seeded database; one private redis-server "
        f"{info['redis']}, a database number per configuration. Every title carries a "
        "version marker (`[a12 v0]`) so the checker can read which version a page shows.",
        f"* **Server:** gunicorn, {_workers()} (`--keep-alive 30`), "
        "`argument.wsgi:application`; `DEBUG` off; persistent database connections "
        "(`CONN_MAX_AGE=300`) in every configuration.",
        f"* **Readers:** {info['readers']} processes × {info['threads']} threads, one "
        "keep-alive connection each, no cookies, as fast as answers come: home 20 %, an "
        f"article page 45 % (four in five of them the {info['pool']} newest articles, the "
        "ones the writer changes), a section page 15 %, a topic page 20 % (four in five of "
        f"them the {info['hot_tags']} topics the writer links and unlinks). "
        f"Each configuration is measured in {info['rounds']} rounds (the order reversed "
        f"every other round), each time on a fresh copy of the database with an empty "
        f"cache: {info['warmup']:.0f} s warm-up, then {info['seconds']:.0f} s measured; "
        f"{info['rounds'] * info['seconds']:.0f} s in all per configuration.",
        f"* **Writer:** one process, Django with the configuration's settings (so each "
        "cache's own hooks run), every write in `transaction.atomic()`, one every "
        f"{info['interval']} s, in rotation:",
        "",
        *(f"  * `{kind}`: {KIND_TEXT[kind]}" for kind in KINDS),
        "",
        "  The pages show what each write changes: titles on the home page (teasers, *Most "
        "read*), section and topic lists, the article page and its *Latest in* sidebar; "
        "topics as chips on the article page and as the list of the topic page; the "
        "comment count on the article page. The `race` write follows a title write to the "
        "same article; between them the writer sends twelve GETs of the pages showing that "
        "title (home, the article, its section, its topics), which must re-render, and "
        "commits the second write 2–30 ms later, while they do (twice per rotation: races "
        "are rare events). The writer's own GETs are not counted as responses.",
        "",
        "## How each configuration is set up",
        "",
        "Settings: `argument/settings.py` (the demo's settings, changed only where "
        "needed). Every configuration serves the same views and templates.",
        "",
        "* **no cache:** the demo without pagecache: not in `INSTALLED_APPS`, no "
        "middleware, no purge hooks; `{% cachetag %}` renders its body every time "
        "(`argument/nocache.py`).",
        "* **Django site cache:** as no cache, plus Django's per-site cache as its docs "
        "give it: `UpdateCacheMiddleware` first and `FetchFromCacheMiddleware` last in "
        "`MIDDLEWARE`, `CACHE_MIDDLEWARE_SECONDS` = pagecache's TTL in the demo "
        f"({_ttl()} s), django-redis. TTL only: nothing invalidates it.",
        "* **django-cacheops:** as no cache, plus `cacheops` in `INSTALLED_APPS`, "
        '`CACHEOPS_REDIS`, `CACHEOPS = {"demo_site.*": {"ops": "all", "timeout": '
        "60 * 15}}` (README: *Setup*); invalidation on save, delete and many-to-many "
        "changes is automatic. For bulk updates its README says to use "
        "`invalidated_update()`; the `bulk` write does, `bulk-bare` does not.",
        "* **django-cachalot:** as no cache, plus `cachalot` in `INSTALLED_APPS`; every "
        "`CACHALOT_*` setting at its default (quickstart); it caches in "
        "`CACHES['default']` (django-redis) and invalidates per table on every write, bulk "
        "updates included.",
        "* **pagecache:** the demo as it is: `PageCacheMiddleware` first, `{% cachetag %}` "
        f"fragments, `PAGECACHE` with `TTL` {_ttl()} s, `STALE_TTL` 30 s, `MODELS` for the "
        "five models and the extra purge rules of `demo_site/apps.py`. After a bulk update "
        "its README says to call `purge_queryset()`; the `bulk` write does, `bulk-bare` "
        "does not.",
        "",
        f"**Versions:** Python {platform.python_version()}, {versions()}; PostgreSQL "
        f"{info['postgres']}, redis-server {info['redis']}.",
        "",
        f"**Machine:** {_cpu()}, {_cores()} cores ({platform.platform()}); the readers, "
        "gunicorn, PostgreSQL and Redis share it, so req/s compare configurations with "
        "each other, not with other machines. The machine is shared: the run waits "
        "(briefly) for other processes to calm down before each slot, and measures a slot "
        "again if they were busy meanwhile (in a time budget). While the slots kept were "
        "measured, other processes used on average "
        + ", ".join(
            f"{r.get('other_cpu', 0):.0f} % ({SHORT[r['config']].splitlines()[0]})" for r in results
        )
        + " of the CPU.",
        "",
        "Rerun: `make argument` (about five minutes). Options go in `ARGUMENT_ARGS` (`make "
        'argument ARGUMENT_ARGS="--rounds 5 --log-dir /tmp/argument"`; `python -m '
        "argument.run --help` lists them; `--no-docs` prints without rewriting this page).",
        "",
    ]
    return "\n".join(parts)


def _where(results: list[dict[str, Any]]) -> list[str]:
    lines = []
    for result in results:
        found = [f"`{kind}` on {page} pages {n}" for kind, page, n in result["where"][:6]]
        more = len(result["where"]) - 6
        tail = f", {more} more" if more > 0 else ""
        lines.append(f"* {LABELS[result['config']]}: {', '.join(found) or 'none'}{tail}")
    return lines


def _kind(s: dict[str, Any], kind: str) -> dict[str, Any]:
    row: dict[str, Any] = next(k for k in s["kinds"] if k["kind"] == kind)
    return row


def _stale_on(result: dict[str, Any], kind: str, page: str | None = None) -> int:
    return sum(n for k, p, n in result["where"] if k == kind and (page is None or p == page))


def _no_sql_on(result: dict[str, Any], page: str) -> float:
    total, no_sql = result["pages"].get(page, [0, 0])
    return _pct(no_sql, total)


def _facts(result: dict[str, Any], base: dict[str, Any] | None) -> str:
    s = _s(result)
    rate = rps(result)
    parts = [f"{rate:.0f} req/s"]
    if base is not None and result["config"] != "none":
        b = _s(base)
        if rps(base):
            parts[0] += f" ({rate / rps(base):.1f}× no cache)"
        if b["queries"]:
            parts.append(f"{100 * s['queries'] / b['queries']:.0f} % of the uncached SQL queries")
    parts.append(f"{_pct(s['no_sql'], s['reads']):.0f} % of responses without SQL")
    if s["errors"]:
        parts.append(f"{s['errors']} error responses (no answer or a status of 400 or more)")
    doc = s["documented_stale_reads"]
    if not s["stale_reads"]:
        parts.append("no response older than a completed write")
    elif doc:
        missed = [k["kind"] for k in s["kinds"] if k["stale_reads"] and k["kind"] != "bulk-bare"]
        parts.append(
            f"{doc} responses ({_pct(doc, s['reads']):.2f} %) older than a write made as "
            f"documented, up to {_secs(s['documented_max_window'])} after it ("
            + ", ".join(f"`{k}`" for k in missed)
            + ")"
        )
    else:
        parts.append("no response older than a write made as documented")
    bare = _bare(s)
    if bare["stale_reads"]:
        parts.append(
            f"{bare['stale_reads']} ({_pct(bare['stale_reads'], s['reads']):.2f} %) older "
            f"than a bare `update()`, up to {_secs(bare['max_window'])}"
        )
    return "; ".join(parts)


def _why(result: dict[str, Any]) -> list[str]:
    """Why a configuration did what it did: stated only where the numbers show it."""
    config, s = result["config"], _s(result)
    why: list[str] = []
    if config == "none" and s["stale_reads"]:
        why.append(
            "The uncached site must never be stale: the harness is wrong, and every other "
            "number here is suspect."
        )
    if config == "none" and not s["stale_reads"]:
        why.append("The control: reading the database every time, nothing is ever stale.")
    if config == "cache_page":
        why.append(
            f"TTL only: a stored page keeps the data of its render for up to {_ttl()} s "
            "whatever changes, so every kind of write on a page it stores is missed for a while."
        )
        if _no_sql_on(result, "article") < 1:
            why.append(
                "It stores no article page: the comment form sets the CSRF cookie for these "
                "cookie-less readers, and Django's cache middleware stores no response that "
                "sets a cookie (for readers holding the cookie it would store one copy per "
                "visitor, `Vary: Cookie`). Article pages are rendered every time — never "
                "stale, never fast — which is why it misses no `comment` write: only the "
                "article page shows the count."
            )
    if config == "cacheops":
        if _kind(s, "bulk-bare")["stale_reads"]:
            why.append(
                "`QuerySet.update()` sends no signal: cacheops never hears of `bulk-bare` "
                "and keeps the old rows until the next invalidation of the same conditions "
                "or its timeout (its README lists mass updates among its caveats); with "
                "`invalidated_update()` (`bulk`) it "
                + ("misses none." if not _kind(s, "bulk")["stale_reads"] else "still misses some.")
            )
        if _kind(s, "race")["stale_reads"]:
            why.append(
                "The race: a queryset read before the commit and stored after cacheops "
                "invalidated at commit stays cached until something invalidates it again "
                "(here the next write, within a second; on a quiet site up to the 15-minute "
                "timeout). Its queryset cache stores results without checking for an "
                "invalidation during the query (`@cached_as(..., keep_fresh=True)`, for "
                "functions, does check)."
            )
        clean = [k["kind"] for k in s["kinds"] if k["writes"] and not k["stale_reads"]]
        if clean:
            why.append(
                "Saves, many-to-many changes from either side and new comments are "
                "invalidated correctly here: " + ", ".join(f"`{k}`" for k in clean) + "."
            )
        why.append(
            "Its cost: every request still runs the view and renders the templates; "
            "caching the queries saves database round trips, not the rendering."
        )
    if config == "cachalot":
        clean = [k["kind"] for k in s["kinds"] if k["writes"] and not k["stale_reads"]]
        if clean:
            why.append(
                "It invalidates whole tables on every write, bulk updates included, so it "
                "misses none of " + ", ".join(f"`{k}`" for k in clean) + "."
            )
        if _kind(s, "race")["stale_reads"]:
            why.append(
                "The race: a result is stamped with the time it is stored, after the query "
                "ran; one read before the commit and stored after cachalot's invalidation at "
                "commit looks newer than the invalidation, and stays until the next write to "
                "one of its tables (here within a second; `CACHALOT_TIMEOUT` is `None` by "
                "default: no expiry)."
            )
        raced = [k["kind"] for k in s["kinds"] if k["stale_reads"] and k["kind"] not in ("race",)]
        if raced:
            why.append(
                "Its few misses after "
                + ", ".join(f"`{k}`" for k in raced)
                + " writes are the same race, with one of the readers' renders in flight when "
                "the write committed: per-table invalidation cannot miss them otherwise."
            )
        why.append(
            f"Its cost: every article write throws away every cached query on the article "
            f"table, so only {_pct(s['no_sql'], s['reads']):.0f} % of responses run no "
            "query; and, as with cacheops, every request renders the templates."
        )
    if config == "pagecache":
        clean = [k["kind"] for k in s["kinds"] if k["writes"] and not k["stale_reads"]]
        if clean:
            why.append(
                "Tag purges at commit (and before it) catch "
                + ", ".join(f"`{k}`" for k in clean)
                + "; a render that began before a purge is never stored as fresh."
            )
        if _stale_on(result, "bulk", "article"):
            why.append(
                "`bulk` is missed on article pages, although the writer calls "
                "`purge_queryset()` as the README says: it purges the model tag and the "
                "rows' tags, not the extra tags `pagecache.register()` gives a save. The "
                "demo's *Latest in <section>* sidebar is tagged with its section only (a "
                "save purges it through `demo_site/apps.py`), so after a bulk update it "
                "keeps the old titles until its TTL."
            )
        if _kind(s, "bulk-bare")["stale_reads"]:
            why.append(
                "`bulk-bare` purges nothing: pages and fragments (the teasers) keep the old "
                f"titles until their TTL ({_ttl()} s) or the article's next save; a page "
                "re-rendered after another purge embeds the teaser fragments still cached."
            )
        why.append(
            f"Its hits run no view and no query ({s['x_cache'].get('HIT', 0)} of "
            f"{s['reads']} responses), hence the throughput."
        )
    return why


def _reading(results: list[dict[str, Any]]) -> list[str]:
    """Statements read off the numbers (so they stay true when the numbers change)."""
    base = next((r for r in results if r["config"] == "none"), None)
    lines = []
    for result in results:
        lines.append(f"* **{LABELS[result['config']]}:** {_facts(result, base)}.")
        lines.extend(f"  * {line}" for line in _why(result))
    varied = [
        f"{LABELS[r['config']]} {min(_slot_rps(r)):.0f}–{max(_slot_rps(r)):.0f} req/s"
        for r in results
        if len(_slot_rps(r)) > 1 and max(_slot_rps(r)) > 1.5 * min(_slot_rps(r))
    ]
    if varied:
        lines.append(
            "* Rounds of one configuration varied: "
            + "; ".join(varied)
            + ", while other processes used "
            + ("little" if max(r.get("other_cpu", 0) for r in results) < 5 else "some")
            + " of the CPU (see below). The tables and the chart use the median round and "
            "show each round; staleness counts add all rounds up."
        )
    return lines


def _ttl() -> int:
    from argument.settings import TTL

    return int(TTL)


def _workers() -> str:
    from argument.procs import THREADS, WORKERS

    return f"{WORKERS} gthread workers × {THREADS} threads"


def _cores() -> int:
    import os

    return os.cpu_count() or 0


def write(results: list[dict[str, Any]], info: dict[str, Any], out: Path, chart_path: Path) -> None:
    chart(results, chart_path)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(markdown(results, info, chart_path.name))


def main(argv: list[str] | None = None) -> int:
    """``python -m argument.report RESULTS [--no-docs]``: the tables again from a run's saved
    ``results.json`` (``argument.run --log-dir``), and docs/argument.md and .png rewritten
    from it (after a change of wording, without measuring again)."""
    import argparse
    import json

    parser = argparse.ArgumentParser(prog="python -m argument.report", description=main.__doc__)
    parser.add_argument("results", type=Path)
    parser.add_argument("--no-docs", action="store_true")
    args = parser.parse_args(argv)
    data = json.loads(args.results.read_text())
    print(table(data["results"]))
    print()
    print(kind_table(data["results"]))
    if not args.no_docs:
        docs = Path(__file__).resolve().parent.parent / "docs"
        write(data["results"], data["info"], docs / "argument.md", docs / "argument.png")
    return 0


if __name__ == "__main__":
    sys.exit(main())
