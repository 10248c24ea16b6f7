# ruff: noqa: RUF001, RUF002 (typeset text: the multiplication sign and en dash are meant)
"""Turn the results of ``bench.run`` into docs/benchmarks.md and docs/bench.png."""

from __future__ import annotations

import statistics
from pathlib import Path
from typing import Any

DESCRIPTIONS = {
    "bare": "bare WSGI callable returning the page bytes (ceiling)",
    "django-const": "Django view returning the precomputed bytes (`/const/`), no cache",
    "uncached": "`/page/` rendered from the database on every request",
    "django-site-cache": "`UpdateCacheMiddleware` + `FetchFromCacheMiddleware`, django-redis",
    "django-cache-page": "`@cache_page` on the view, django-redis",
    "cacheops": "django-cacheops caching the page's queryset (timeout 60 s); the template renders",
    "cachalot": "django-cachalot caching the page's SQL results; the template renders",
    "minimal-middleware": "limit control: first middleware, one raw redis-py GET",
    "minimal-wsgi": "limit control: WSGI wrapper, one raw redis-py GET",
    "pagecache-middleware": "`PageCacheMiddleware` first, hit",
    "pagecache-wsgi": "`PageCacheWSGI` around Django, hit",
    "pagecache-stale": "`PageCacheMiddleware`, every hit on the STALE path (lock held)",
    "pagecache-stats": "`PageCacheMiddleware` first, hit, with `STATS` counting on",
    "asgi-django-site-cache": "uvicorn: Django's site cache (as `django-site-cache`)",
    "asgi-minimal": "uvicorn: limit control, ASGI wrapper, one pooled `redis.asyncio` GET",
    "asgi-pagecache-middleware": "uvicorn: `PageCacheMiddleware` first (native async), hit",
    "asgi-pagecache-asgi": "uvicorn: `PageCacheASGI` around Django, hit",
    "demo-home-uncached": "the demo news site's home page (`make demo`), nothing cached "
    "(fragments on Django's dummy cache)",
    "demo-home-site-cache": "the demo's home page behind Django's site cache (its fragments "
    "stay pagecache's)",
    "demo-home-pagecache": "the demo's home page behind `PageCacheMiddleware` (hit)",
    "demo-article-site-cache": "the demo's newest article (a comment form: a CSRF cookie is "
    "set) behind Django's site cache",
    "demo-article-pagecache": "the demo's newest article behind `PageCacheMiddleware` (hit; "
    "each visitor gets their own CSRF token)",
}
SITE = "django-site-cache"
#: bench.run's memory row for pagecache-middleware once its site dictionary is trained.
DICTIONARY_MEMORY = "pagecache-dictionary"
BARE = "bare"


def _rps(results: dict[str, Any], config: str) -> list[float]:
    data = results["throughput"].get(config)
    return [r["rps"] for r in data["rounds"]] if data else []


def ratio(results: dict[str, Any], config: str, ref: str) -> tuple[float, float, float] | None:
    """Median, min and max of the per-round ratios ``config / ref``."""
    a, b = _rps(results, config), _rps(results, ref)
    if not a or not b:
        return None
    ratios = [x / y for x, y in zip(a, b, strict=False) if y]
    return statistics.median(ratios), min(ratios), max(ratios)


def _fmt_ratio(r: tuple[float, float, float] | None, rounds: int) -> str:
    if r is None:
        return "–"
    if rounds > 1:
        return f"{r[0]:.2f}× ({r[1]:.2f}–{r[2]:.2f})"
    return f"{r[0]:.2f}×"


def _commands(detail: dict[str, Any]) -> str:
    top = detail["top_level"]
    if not top:
        return "0"
    names = ", ".join(f"{v:g} {k.upper()}" for k, v in top.items())
    return f"{detail['top_level_per_op']:g} ({names})"


def _inner(detail: dict[str, Any]) -> str:
    calls = detail["all_calls"]
    if not calls:
        return "–"
    return ", ".join(f"{k.upper()} {v:g}" for k, v in calls.items())


def _kb(n: float) -> str:
    return f"{n / 1000:.1f} KB"


def targets(results: dict[str, Any]) -> list[tuple[str, str, str]]:
    """(target, measured, PASS/MISS/–) for every SPEC §10 target."""
    rounds = results["rounds"]
    rows: list[tuple[str, str, str]] = []

    def ratio_row(text: str, config: str, ref: str, floor: float) -> None:
        r = ratio(results, config, ref)
        if r is None:
            rows.append((text, "not measured", "–"))
        else:
            rows.append((text, _fmt_ratio(r, rounds), "PASS" if r[0] >= floor else "MISS"))

    ratio_row("Middleware hit ≥ 1.6 × Django site cache", "pagecache-middleware", SITE, 1.6)
    ratio_row(
        "Middleware hit ≥ 0.9 × minimal one-GET middleware",
        "pagecache-middleware",
        "minimal-middleware",
        0.9,
    )
    ratio_row(
        "Middleware hit with `STATS` on ≥ 0.95 × with it off",
        "pagecache-stats",
        "pagecache-middleware",
        0.95,
    )
    ratio_row("WSGI fast-path hit ≥ 2.0 × Django site cache", "pagecache-wsgi", SITE, 2.0)
    ratio_row(
        "WSGI fast-path hit ≥ 0.9 × minimal one-GET WSGI wrapper",
        "pagecache-wsgi",
        "minimal-wsgi",
        0.9,
    )
    ratio_row(
        "ASGI: middleware hit ≥ 2.0 × Django site cache (uvicorn)",
        "asgi-pagecache-middleware",
        "asgi-django-site-cache",
        2.0,
    )
    ratio_row(
        "ASGI: `PageCacheASGI` hit ≥ 0.9 × minimal one-GET ASGI wrapper (uvicorn)",
        "asgi-pagecache-asgi",
        "asgi-minimal",
        0.9,
    )
    asgi_limit = ratio(results, "asgi-pagecache-middleware", "asgi-minimal")
    rows.append(
        (
            "ASGI: middleware hit / minimal one-GET ASGI wrapper (reported)",
            _fmt_ratio(asgi_limit, rounds),
            "–",
        )
    )
    bare = ratio(results, "pagecache-wsgi", BARE)
    rows.append(("WSGI fast-path hit / bare WSGI (reported)", _fmt_ratio(bare, rounds), "–"))
    hit_configs = (
        "pagecache-middleware",
        "pagecache-wsgi",
        "asgi-pagecache-middleware",
        "asgi-pagecache-asgi",
    )
    for config in hit_configs:
        data = results["throughput"].get(config)
        if data is None:
            rows.append((f"One round trip per hit ({config})", "not measured", "–"))
            continue
        n = data["commands"]["top_level_per_op"]
        rows.append(
            (
                f"One round trip per hit ({config})",
                _commands(data["commands"]),
                "PASS" if n == 1 else "MISS",
            )
        )
    big = next((p for p in results["purge"] if p["entries"] == 100_000), None)
    if big:
        trips = big["commands"]["top_level_per_op"]
        ok = trips <= 2 and big["ms_median"] < 1
        rows.append(
            (
                "`purge_tags`, tag on 100,000 entries: ≤ 2 round trips, < 1 ms",
                f"{trips:g} round trip(s), {big['ms_median']:.3f} ms",
                "PASS" if ok else "MISS",
            )
        )
    pc = results["stampede"].get("pagecache-middleware")
    if pc:
        ok = all(n == 1 for n in pc["renders"])
        rows.append(
            (
                f"{32} concurrent requests on an expired page: exactly 1 render",
                f"renders per trial: {', '.join(map(str, pc['renders']))}",
                "PASS" if ok else "MISS",
            )
        )
    frag = results["fragments"]
    rows.append(
        (
            "`{% cachetag %}` hit ≤ 1.1 × `{% cache %}` hit",
            f"{frag['ratio']:.2f}× ({frag['us']['cachetag']:.1f} µs vs "
            f"{frag['us']['django-cache']:.1f} µs)",
            "PASS" if frag["ratio"] <= 1.1 else "MISS",
        )
    )
    mem = results["memory"].get("pagecache-middleware")
    if mem:
        django = results["memory"].get(SITE)
        versus = f"; Django site cache {_kb(django['page_bytes'])}" if django else ""
        rows.append(
            (
                "Redis memory per cached 20 KB page ≤ 6 KB",
                f"{_kb(mem['page_bytes'])} ({mem['page_bytes']:,} bytes){versus}",
                "PASS" if mem["page_bytes"] <= 6000 else "MISS",
            )
        )
    site_mem = results["memory"].get(DICTIONARY_MEMORY)
    if site_mem:
        rows.append(
            (
                "Redis memory per cached 20 KB page of one site ≤ 3 KB (site dictionary)",
                f"{_kb(site_mem['page_bytes'])} ({site_mem['page_bytes']:,} bytes)",
                "PASS" if site_mem["page_bytes"] <= 3000 else "MISS",
            )
        )
    scale = results.get("scale")
    if scale:
        cluster = scale["cluster"]
        rows.append(
            (
                "Redis Cluster (3 masters) hit ≥ 0.8 × the same on one Redis",
                f"{cluster['ratio']:.2f}× ({cluster['cluster_median']:,.0f} vs "
                f"{cluster['single_median']:,.0f} req/s)",
                "PASS" if cluster["ratio"] >= 0.8 else "MISS",
            )
        )
        state = scale["tag_state"]
        rows.append(
            (
                f"Tag state bounded after purging {state['total']:,} distinct tags "
                f"over {state['run_seconds']:.0f} s (entries live {state['life_seconds']:.0f} s)",
                f"at most {state['max_fields']:,} fields, {_kb(state['max_bytes'])}; "
                f"{state['final_fields']:,} fields at the end",
                "PASS" if state["max_fields"] < state["total"] else "MISS",
            )
        )
    return rows


def scale_section(results: dict[str, Any]) -> list[str]:
    scale = results.get("scale")
    if not scale:
        return []
    cluster, state = scale["cluster"], scale["tag_state"]
    rounds = ", ".join(f"{r:.2f}" for r in cluster["ratios"])
    samples = state["samples"]
    shown = samples[:: max(1, len(samples) // 8)] + ([samples[-1]] if samples else [])
    out = [
        "## Scale (`python -m bench.scale`)",
        "",
        "`pagecache-middleware` on a 3-master Redis Cluster (`pagecache.backends."
        "RedisClusterCache`) against the same site on one Redis, alternating wrk runs: "
        f"cluster {cluster['cluster_median']:,.0f} req/s, single {cluster['single_median']:,.0f}"
        f" req/s, ratio **{cluster['ratio']:.2f}×** (per round: {rounds}).",
        "",
        f"Tag-version state while {state['total']:,} distinct tags are purged in batches of "
        f"{state['batch']:,} over {state['run_seconds']:.0f} s, with entries living "
        f"{state['life_seconds']:.0f} s (versions are kept {state['window_seconds']:.0f} s: "
        f"life + LOCK_TIMEOUT + 5 s). Median purge of {state['batch']:,} tags: "
        f"{state['purge_ms_median']:.1f} ms.",
        "",
        "| seconds | tags purged so far | fields in the versions hash | MEMORY USAGE |",
        "|---:|---:|---:|---:|",
    ]
    out += [
        f"| {s['seconds']:.0f} | {s['purged']:,} | {s['fields']:,} | {_kb(s['bytes'])} |"
        for s in shown
    ]
    return out


def dictionary_section(results: dict[str, Any]) -> list[str]:
    """The site dictionary: how it was warmed up, and its CPU per store and per hit."""
    out: list[str] = []
    site = results["memory"].get(DICTIONARY_MEMORY)
    if site:
        fast = site["before_recompression"]
        shared = "; ".join(f"`{i['key']}` {i['bytes']:,} bytes" for i in site["shared"])
        out += [
            "",
            f"Site dictionary: after the rounds, `pagecache-middleware` rendered "
            f"{site['warm_pages']} other pages of the site (`/pages/<n>/`, the same template "
            f"over other rows) until its dictionary was trained on "
            f"{site['dictionary']['samples']} of them; then `/page/` was stored again: "
            f"{fast['value_bytes']:,} bytes ({fast['bytes']:,} in Redis) as the request "
            "compressed it (zstd level 3 with the dictionary), the row above once the "
            "background thread compressed it again (level 15). Shared by every page: "
            f"{shared} (the current dictionary is named in `pc:zd:current`; those trained "
            "on fewer pages were replaced as the sample grew and expire a day later).",
        ]
    cost = results.get("compression")
    if cost:
        store, hit, size = cost["store_us"], cost["hit_us"], cost["bytes"]
        out += [
            "",
            "CPU per entry of the 20 KB page, in this process (best of 5 loops; a dictionary "
            f"of {cost['dictionary_bytes']:,} bytes trained on {cost['samples']} other pages "
            f"in {cost['train_ms']:.0f} ms). A hit whose entry this process already decoded "
            "decodes nothing (see docs/design.md, the hit path).",
            "",
            "| entry | stored bytes | store (request) | store (background) | hit (decode) |",
            "|---|---:|---:|---:|---:|",
            f"| zstd level 3, no dictionary | {size['plain']:,} | {store['plain']:.0f} µs | – | "
            f"{hit['plain']:.0f} µs |",
            f"| level 3 with the site dictionary | {size['dictionary']:,} | "
            f"{store['dictionary']:.0f} µs | – | {hit['dictionary']:.0f} µs |",
            f"| then level 15 with it (background) | {size['recompressed']:,} | – | "
            f"{store['recompress']:,.0f} µs | {hit['recompressed']:.0f} µs |",
        ]
    return out


def markdown(results: dict[str, Any]) -> str:
    rounds = results["rounds"]
    v = results["versions"]
    m = results["machine"]
    mode = (
        "**quick** run (`make bench-quick`: one short round; numbers are indicative)"
        if results["mode"] == "quick"
        else "**full** run (`make bench`)"
    )
    out = [
        "# Benchmarks",
        "",
        "<!-- Generated by `python -m bench.run` (bench/report.py); do not edit by hand. -->",
        "",
        f"This file was regenerated by a {mode} on {results['date']} "
        f"in {results['elapsed_s']:.0f} s.",
        "",
        f"* **Command:** `{results['command']}`",
        f"* **Machine:** {m['cpu']}, {m['cores']} cores ({m['os']})",
        "* **Versions:** " + ", ".join(f"{k} {val}" for k, val in v.items()),
        f"* **Page:** {results['page_bytes']:,} bytes of HTML, a Django template looping over "
        "40 database rows (SQLite); `bare`, `django-const` and the limit controls serve the "
        "same bytes. The `demo-*` rows serve the demo news site (`make demo`, 1,000 seeded "
        "articles in SQLite): its home page and its newest article, whose comment form makes "
        "Django set a CSRF cookie.",
        f"* **Load:** each configuration is its own gunicorn (`--workers 1 --worker-class sync`, "
        "loopback; `asgi-*`: uvicorn, `--workers 1`); "
        f"`wrk {results['wrk_args']}` after a warm-up; {rounds} interleaved "
        f"round(s) (every configuration once per round, in the same order) so machine drift "
        "cancels in the per-round ratios. All Django configurations run the usual middleware "
        "(Security, Session, Common, Csrf, Auth, Messages); each cache has its own database "
        "in one private redis-server. Page caches keep pages for an hour, so every measured "
        "request is a hit.",
        "",
        "![Throughput per configuration](bench.png)",
        "",
        "## SPEC §10 targets",
        "",
        "| target | measured | |",
        "|---|---|---|",
    ]
    out += [f"| {t} | {meas} | {ok} |" for t, meas, ok in targets(results)]
    out += [
        "",
        "Ratios are the median of the per-round ratios (min–max over rounds in brackets). "
        "1 KB = 1,000 bytes.",
        "",
        "## Throughput (hits)",
        "",
        "| configuration | median req/s | min–max | × Django site cache | × bare WSGI | "
        "p99 ms | Redis commands per request |",
        "|---|---:|---:|---:|---:|---:|---|",
    ]
    for config, data in results["throughput"].items():
        rps = [r["rps"] for r in data["rounds"]]
        p99 = statistics.median(r["p99_ms"] for r in data["rounds"])
        check = "" if data["check"]["ok"] else " ⚠"
        out.append(
            f"| `{config}`{check} | {statistics.median(rps):,.0f} | "
            f"{min(rps):,.0f}–{max(rps):,.0f} | "
            f"{_fmt_ratio(ratio(results, config, SITE), rounds)} | "
            f"{_fmt_ratio(ratio(results, config, BARE), rounds)} | {p99:.2f} | "
            f"{_commands(data['commands'])} |"
        )
    out += [
        "",
        "What each configuration is, how its warm-up was checked to be served the way it "
        f"claims, and every Redis call per request ({results['count_requests']} sequential "
        "requests, `INFO commandstats`, which on Redis 7 also counts the calls a Lua script "
        'makes). The "commands per request" column above counts top-level commands only '
        "(from `MONITOR`; what a client sends, one round trip each since nothing here "
        "pipelines on a hit). The `SET <prefix>:deliverer NX` that pagecache's background "
        "deliverer sends twice a second per process, whatever the load, is left out of both: "
        "it belongs to no request (all the servers share one redis-server).",
        "",
        "| configuration | what | check after warm-up | all Redis calls per request |",
        "|---|---|---|---|",
    ]
    for config, data in results["throughput"].items():
        check = data["check"]
        seen = ("ok: " if check["ok"] else "**FAILED**: ") + check["seen"]
        out.append(
            f"| `{config}` | {DESCRIPTIONS.get(config, '')} | {seen} | {_inner(data['commands'])} |"
        )

    frag = results["fragments"]
    out += [
        "",
        "## Fragments",
        "",
        f"In-process, no HTTP: a template whose block renders {frag['fragment_bytes']:,} bytes "
        f"(14 rows), {frag['iterations']:,} renders each, in interleaved chunks of 500 "
        "(median of the chunks), both caches on django-redis against the private Redis.",
        "",
        "| template | µs per render | Redis commands per render | all calls per render |",
        "|---|---:|---|---|",
    ]
    labels = {
        "django-cache": '`{% cache 60 "name" %}` hit',
        "cachetag": '`{% cachetag "name" %}` hit',
        "uncached": "block rendered (no cache)",
    }
    for name, label in labels.items():
        detail = frag["commands"].get(name)
        out.append(
            f"| {label} | {frag['us'][name]:.1f} | "
            f"{_commands(detail) if detail else '0'} | "
            f"{_inner(detail) if detail else '–'} |"
        )
    out += [
        "",
        f"`{{% cachetag %}}` / `{{% cache %}}`: **{frag['ratio']:.2f}×** "
        f"(chunks {frag['ratio_min']:.2f}–{frag['ratio_max']:.2f}).",
    ]

    out += [
        "",
        "## Purge",
        "",
        "`pagecache.purge_tags(tag)` for a tag carried by N entries (written directly with a "
        "pipeline, each checked fresh before and purged after); time is the median of "
        f"{results['purge'][0]['runs']} calls from Python, round trips are the top-level "
        "commands it sent (`MONITOR`).",
        "",
        "| entries carrying the tag | median ms | min–max ms | round trips | all calls |",
        "|---:|---:|---:|---|---|",
    ]
    for row in results["purge"]:
        out.append(
            f"| {row['entries']:,} | {row['ms_median']:.3f} | {row['ms_min']:.3f}–"
            f"{row['ms_max']:.3f} | {_commands(row['commands'])} | "
            f"{_inner(row['commands'])} |"
        )

    if results.get("purge_tx"):
        out += [
            "",
            "**In a write transaction.** Inside `transaction.atomic()` a purge is sent at once "
            "and again at commit, and writes its durable record in the transaction (under a "
            "savepoint), deleted after the commit's purge (SPEC §6.5). One `UPDATE` in "
            f"`atomic()`, with and without `purge_tags`; medians of "
            f"{results['purge_tx'][0]['runs']} interleaved runs:",
            "",
            "| database | write alone ms | write + purge_tags ms | of which the record ms "
            "| purge_tags outside a transaction ms |",
            "|---|---:|---:|---:|---:|",
        ]
        for row in results["purge_tx"]:
            out.append(
                f"| {row['database']} | {row['write_ms']:.3f} | {row['write_purge_ms']:.3f} | "
                f"{row['record_ms']:.3f} | {row['purge_ms']:.3f} |"
            )

    st = results["stampede"]
    out += [
        "",
        "## Stampede",
        "",
        f"32 clients, released together by a barrier, request an expired `/page/` (its cache "
        "keys deleted: no stale copy). gunicorn `--workers 4 --worker-class gthread "
        f"--threads 8`; the view sleeps {results['stampede_render_sleep'] * 1000:.0f} ms "
        "(a slow database) and counts its renders with a Redis INCR.",
        "",
        "| cache | renders per trial | p50 ms | p99 ms | responses |",
        "|---|---|---:|---:|---|",
    ]
    for config, data in st.items():
        labels_seen: dict[str, int] = {}
        for trial in data["trials"]:
            for label, n in trial["x_cache"].items():
                labels_seen[label or "no X-Cache"] = labels_seen.get(label or "no X-Cache", 0) + n
        responses = ", ".join(f"{k} {v}" for k, v in labels_seen.items())
        out.append(
            f"| `{config}` | {', '.join(map(str, data['renders']))} | "
            f"{data['p50_ms_median']:.0f} | {data['p99_ms_median']:.0f} | {responses} |"
        )

    out += [
        "",
        "## Memory",
        "",
        "`MEMORY USAGE` of every key written for the one page (each cache has its own Redis "
        "database).",
        "",
        "| cache | bytes for the page | keys (value bytes → MEMORY USAGE) |",
        "|---|---:|---|",
    ]
    for config, data in results["memory"].items():
        keys = "; ".join(
            f"`{_short(i['key'])}` {i['value_bytes']:,} → {i['bytes']:,}" for i in data["page_keys"]
        )
        name = f"`{config}`"
        if config == DICTIONARY_MEMORY:
            name = "`pagecache-middleware`, site dictionary"
        out.append(f"| {name} | {data['page_bytes']:,} ({_kb(data['page_bytes'])}) | {keys} |")
    shared = results["memory"].get("pagecache-middleware", {}).get("shared")
    if shared:
        out += [
            "",
            "Shared by every page: "
            + "; ".join(f"`{i['key']}` {i['bytes']:,} bytes" for i in shared)
            + " (the purge clock, floor and tag versions; it grows with distinct purged tags, "
            "not with pages).",
        ]
    out += dictionary_section(results)

    if results.get("scale"):
        out += ["", *scale_section(results)]
    if results["notes"]:
        out += ["", "## Notes from this run", ""] + [f"* {n}" for n in results["notes"]]
    out.append("")
    return "\n".join(out)


def _short(key: str) -> str:
    return key if len(key) <= 70 else f"{key[:40]}…{key[-20:]}"


def chart(results: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = list(results["throughput"])
    medians, lows, highs, colors = [], [], [], []
    for name in names:
        rps = _rps(results, name)
        med = statistics.median(rps)
        medians.append(med)
        lows.append(med - min(rps))
        highs.append(max(rps) - med)
        if name.startswith("pagecache"):
            colors.append("#2b7bba")
        elif name.startswith("minimal") or name == "bare":
            colors.append("#9e9e9e")
        else:
            colors.append("#e08a2c")
    fig, ax = plt.subplots(figsize=(9, 0.45 * len(names) + 1.6))
    y = list(range(len(names)))[::-1]
    ax.barh(y, medians, xerr=[lows, highs], color=colors, capsize=3)
    ax.set_yticks(y, names)
    for yi, med, high in zip(y, medians, highs, strict=True):
        ax.text(med + high, yi, f"  {med:,.0f}", va="center", fontsize=8)
    from matplotlib.patches import Patch

    ax.legend(
        handles=[
            Patch(color="#2b7bba", label="pagecache"),
            Patch(color="#e08a2c", label="Django and queryset caches"),
            Patch(color="#9e9e9e", label="ceiling and one-GET limit controls"),
        ],
        loc="lower right",
        fontsize=8,
    )
    ax.set_xlabel("requests per second (median, min–max error bars)")
    mode = "quick run" if results["mode"] == "quick" else f"{results['rounds']} rounds"
    ax.set_title(
        f"{results['page_bytes'] / 1000:.1f} KB page, gunicorn 1 sync worker, "
        f"wrk {results['wrk_args'].split(' --')[0]} ({mode})",
        fontsize=10,
    )
    ax.set_xlim(0, max(medians[i] + highs[i] for i in range(len(names))) * 1.15)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def write(results: dict[str, Any], md_path: Path, png_path: Path) -> None:
    md_path.write_text(markdown(results))
    chart(results, png_path)
