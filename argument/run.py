"""Run the argument: the demo site under one read/write workload in five configurations.

``python -m argument.run`` (``make argument``):

1. starts a private redis-server on a free loopback port, creates a throwaway PostgreSQL
   database on 127.0.0.1:5432, migrates it, seeds the demo (``seed_demo --articles 300``)
   and puts a version marker in every title (``[a<pk> v0]``): the *template*;
2. measures each configuration (``none``, ``cache_page``, ``cacheops``, ``cachalot``,
   ``pagecache``; see :mod:`argument.settings`) once per round, in reverse order every
   other round (so a slow drift or a busy neighbour weighs on all of them alike). Each
   *slot* copies the template to a fresh database, empties the configuration's Redis
   database, serves the site with gunicorn (gthread, loopback), runs reader processes
   (:mod:`argument.readers`) and the writer (:mod:`argument.writer`) for a warm-up and a
   measured window, stops them all and drops the copy. The machine may be shared: before
   a slot the run waits (briefly) for other processes to calm down, measures how much CPU
   they used during the slot, and measures a disturbed slot once more while in budget;
3. judges every response against the writes of its slot (:mod:`argument.checker`),
   prints the tables and writes ``docs/argument.md`` and ``docs/argument.png``
   (:mod:`argument.report`).

Everything it starts is stopped when it ends, also on failure or Ctrl-C.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType
from typing import Any

from argument import checker, report
from argument.procs import (
    ArgumentError,
    CpuMeter,
    Database,
    Gunicorn,
    server_version,
    wait_until_quiet,
)
from argument.settings import CONFIGS
from tests.redis_harness import RedisServer, find_redis_server_binary
from tests.soak.procs import ROOT, Child, run_django

POOL = 12
HOT_TAGS = 8
OTHERS = 88
#: Percent of the machine's CPU other processes may use before a slot starts.
QUIET = 15.0
#: A slot during which other processes used more than this is measured again (in budget).
RETRY_ABOVE = 25.0


def now() -> float:
    return time.monotonic()


def sleep_until(moment: float) -> None:
    while (left := moment - now()) > 0:
        time.sleep(min(left, 0.5))


# -- the seeded data ----------------------------------------------------------------------


def mark_titles(database: Database) -> None:
    """Put ``[a<pk> v0]`` in every title, so every page shows which version it shows."""
    with database.connect() as conn:
        conn.execute("UPDATE demo_site_article SET title = title || ' [a' || id || ' v0]'")


def site_data(database: Database) -> dict[str, Any]:
    """What readers, writer and checker need to know about the seeded data."""
    with database.connect() as conn:
        newest = conn.execute(
            "SELECT a.id, a.slug, a.title, c.slug FROM demo_site_article a "
            "JOIN demo_site_category c ON c.id = a.category_id "
            "ORDER BY a.published_at DESC, a.id DESC LIMIT %s",
            (POOL + OTHERS,),
        ).fetchall()
        pool, others = newest[:POOL], newest[POOL:]
        ids = [row[0] for row in pool]
        links = conn.execute(
            "SELECT article_id, tag_id FROM demo_site_article_tags WHERE article_id = ANY(%s)",
            (ids,),
        ).fetchall()
        counts = dict(
            conn.execute(
                "SELECT article_id, count(*) FROM demo_site_comment "
                "WHERE article_id = ANY(%s) GROUP BY article_id",
                (ids,),
            ).fetchall()
        )
        tags = conn.execute("SELECT id, slug FROM demo_site_tag ORDER BY id").fetchall()
        categories = [r[0] for r in conn.execute("SELECT slug FROM demo_site_category")]
    hot = [pk for pk, _ in tags[:HOT_TAGS]]
    pool_info = {
        pk: {
            "slug": slug,
            "title": checker.strip_marker(title),
            "category": category,
            "tags": sorted(t for a, t in links if a == pk),
        }
        for pk, slug, title, category in pool
    }
    initial: dict[str, int] = {}
    for pk in ids:
        initial[f"t:{pk}"] = 0
        initial[f"c:{pk}"] = counts.get(pk, 0)
        for tag in hot:
            initial[f"m:{pk}:{tag}"] = int(tag in pool_info[pk]["tags"])
    return {
        "pool": {pk: info["slug"] for pk, info in pool_info.items()},
        "pool_info": pool_info,
        "others": [row[1] for row in others],
        "categories": categories,
        "tags": {slug: pk for pk, slug in tags},
        "hot_tags": hot,
        "comments": {pk: counts.get(pk, 0) for pk in ids},
        "initial": initial,
    }


# -- one configuration ----------------------------------------------------------------------


def load_reads(paths: list[Path]) -> list[checker.Read]:
    reads = []
    for path in paths:
        for t_start, t_end, url, status, x_cache, queries, shown in json.loads(path.read_text()):
            reads.append(checker.Read(t_start, t_end, url, status, x_cache, queries, shown))
    return sorted(reads, key=lambda r: r.t_start)


def load_writes(path: Path) -> list[checker.Write]:
    writes = []
    with contextlib.suppress(FileNotFoundError), open(path, encoding="utf-8") as lines:
        for line in lines:
            data = json.loads(line)
            facts = tuple((key, int(value)) for key, value in data["facts"])
            writes.append(checker.Write(data["kind"], data["t_begin"], data["t_done"], facts))
    return writes


def wait_for(children: list[Child], deadline: float) -> None:
    while any(child.alive() for child in children):
        if now() > deadline:
            late = ", ".join(child.name for child in children if child.alive())
            raise ArgumentError(f"{late} still running past the deadline")
        time.sleep(0.1)


@dataclass
class Slot:
    """One configuration measured once: a fresh database copy, cache and server."""

    config: str
    round: int
    reads: list[checker.Read]
    writes: list[checker.Write]
    judgement: checker.Judgement
    other_cpu: float


def run_slot(
    config: str,
    round_no: int,
    args: argparse.Namespace,
    base_env: dict[str, str],
    template: Database,
    redis_server: RedisServer,
    log_dir: Path,
    site_path: Path,
    initial: dict[str, int],
    log: Any,
) -> Slot:
    name = f"{config}-{round_no}"
    database = Database(f"{template.name}_{config}", template=template.name).create()
    env = {**base_env, "ARGUMENT_CONFIG": config, "ARGUMENT_DB": database.name}
    client = redis_server.client(db=CONFIGS.index(config) + 1)
    client.flushdb()  # our own server: a fresh cache for each slot
    client.close()
    server = Gunicorn(config, env, log_dir)
    children: list[Child] = []
    try:
        server.spawn()
        server.wait_ready()
        t0 = now() + 1.0
        t1 = t0 + args.warmup
        t2 = t1 + args.seconds
        outs = [log_dir / f"reads-{name}-{i}.json" for i in range(args.readers)]
        writes_path = log_dir / f"writes-{name}.jsonl"
        for i, out in enumerate(outs):
            command = [
                sys.executable, "-m", "argument.readers", "--port", str(server.port),
                "--site", str(site_path), "--threads", str(args.threads),
                "--measure-from", repr(t1), "--until", repr(t2),
                "--seed", str(args.seed * 100 + round_no * 10 + i), "--out", str(out),
            ]  # fmt: skip
            children.append(Child(f"readers-{name}-{i}", command, env, out.with_suffix(".log")))
        command = [
            sys.executable, "-m", "argument.writer", "--site", str(site_path),
            "--start", repr(t1), "--until", repr(t2), "--interval", str(args.interval),
            "--port", str(server.port), "--seed", str(args.seed + round_no),
            "--out", str(writes_path),
        ]  # fmt: skip
        children.append(Child(f"writer-{name}", command, env, writes_path.with_suffix(".log")))
        for child in children:
            child.spawn()
        log(f"{name}: serving on port {server.port}, database {database.name}; "
            f"{args.warmup:.0f} s warm-up, {args.seconds:.0f} s measured")  # fmt: skip
        sleep_until(t1)
        meter = CpuMeter(template.name)
        meter.start()
        sleep_until(t2)
        other_cpu = meter.stop()
        wait_for(children, t2 + 90)
        for child in children:
            code = child.proc.wait() if child.proc is not None else None
            if code:
                raise ArgumentError(f"{child.name} exited with {code}:\n{child.log_tail()}")
        reads = load_reads(outs)
        writes = load_writes(writes_path)
    finally:
        for child in children:
            child.stop()
        server.stop()
        with contextlib.suppress(Exception):
            database.drop()
    judgement = checker.judge(reads, checker.timelines(initial, writes))
    return Slot(config, round_no, reads, writes, judgement, other_cpu)


def combine(config: str, slots: list[Slot], seconds: float) -> dict[str, Any]:
    """One configuration's result from its slots (each judged against its own writes)."""
    reads = [read for slot in slots for read in slot.reads]
    writes = [write for slot in slots for write in slot.writes]
    judgement = checker.Judgement(
        [item for slot in slots for item in slot.judgement.stale],
        [item for slot in slots for item in slot.judgement.unexplained],
    )
    summary = checker.summarize(reads, writes, judgement, seconds * len(slots))
    pages: dict[str, list[int]] = {}
    for read in reads:
        counts = pages.setdefault(checker.page_kind(read.path), [0, 0])
        counts[0] += 1
        counts[1] += read.queries == 0
    stale_where = [[kind, page, n] for (kind, page), n in checker.where(judgement).most_common()]
    examples = [
        {
            "path": s.read.path,
            "x_cache": s.read.x_cache,
            "key": s.key,
            "shown": s.shown,
            "missed": s.missed.kind,
            "window": round(s.window, 3),
        }
        for s in sorted(judgement.stale, key=lambda s: -s.window)[:5]
    ]
    return {
        "config": config,
        "summary": asdict(summary),
        "where": stale_where,
        "pages": pages,
        "other_cpu": sum(slot.other_cpu for slot in slots) / len(slots),
        "slots": [
            {"round": slot.round, "other_cpu": slot.other_cpu, "reads": len(slot.reads)}
            for slot in slots
        ],
        "examples": examples,
    }


# -- the run ---------------------------------------------------------------------------------


def _interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m argument.run", description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )  # fmt: skip
    parser.add_argument("--configs", nargs="+", choices=CONFIGS, default=list(CONFIGS))
    parser.add_argument("--rounds", type=int, default=3, help="each configuration once a round")
    parser.add_argument(
        "--seconds", type=float, default=10.0, help="measured, per configuration and round"
    )
    parser.add_argument("--warmup", type=float, default=4.0)
    parser.add_argument("--articles", type=int, default=300)
    parser.add_argument("--interval", type=float, default=0.3, help="seconds between writes")
    parser.add_argument("--readers", type=int, default=2, help="reader processes")
    parser.add_argument("--threads", type=int, default=6, help="threads per reader process")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument(
        "--wait-quiet", type=float, default=20.0,
        help="seconds to wait at most, before each slot, for other processes to calm down",
    )  # fmt: skip
    parser.add_argument(
        "--budget", type=float, default=420.0,
        help="seconds into the run after which a slot disturbed by other processes is not "
        "measured again",
    )  # fmt: skip
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "argument.md")
    parser.add_argument("--chart", type=Path, default=ROOT / "docs" / "argument.png")
    parser.add_argument("--no-docs", action="store_true", help="print only")
    parser.add_argument("--log-dir", type=Path, help="keep logs, reads and writes here")
    args = parser.parse_args(argv)
    signal.signal(signal.SIGTERM, _interrupt)
    signal.signal(signal.SIGINT, _interrupt)
    log_dir = args.log_dir or Path(tempfile.mkdtemp(prefix="pagecache-argument-"))
    try:
        code = run(args, log_dir)
    except ArgumentError as exc:
        print(f"argument: {exc}\nargument: logs are in {log_dir}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"argument: interrupted; logs are in {log_dir}", file=sys.stderr)
        return 130
    if args.log_dir is None:
        shutil.rmtree(log_dir, ignore_errors=True)
    return code


def run(args: argparse.Namespace, log_dir: Path) -> int:
    began = now()

    def log(message: str) -> None:
        print(f"[argument {now() - began:6.1f}s] {message}", flush=True)

    log_dir.mkdir(parents=True, exist_ok=True)
    binary = find_redis_server_binary()
    redis_server = RedisServer(binary=binary)
    template = Database(f"pagecache_argument_{os.getpid()}")
    results: list[dict[str, Any]] = []
    try:
        redis_server.start()
        if redis_server.port == 6379:
            raise ArgumentError("refusing to run against port 6379")
        template.create()
        base_env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "argument.settings",
            "ARGUMENT_REDIS_URL": redis_server.url,
            "PAGECACHE_DEMO_DATA": str(log_dir / "demo-data"),
            "PYTHONPATH": os.pathsep.join(
                p for p in (str(ROOT), os.environ.get("PYTHONPATH", "")) if p
            ),
        }
        seed_env = {**base_env, "ARGUMENT_CONFIG": "pagecache", "ARGUMENT_DB": template.name}
        log(f"redis-server {redis_server.port}; database {template.name}: migrate, seed")
        run_django(["migrate", "--noinput", "-v", "0"], seed_env)
        run_django(["seed_demo", "--articles", str(args.articles)], seed_env)
        mark_titles(template)
        data = site_data(template)
        site_path = log_dir / "site.json"
        site_path.write_text(json.dumps(data))
        slots: dict[str, list[Slot]] = {config: [] for config in args.configs}
        for round_no in range(args.rounds):
            order = args.configs if round_no % 2 == 0 else args.configs[::-1]
            for config in order:
                other = wait_until_quiet(template.name, QUIET, args.wait_quiet, log)
                if other >= QUIET:
                    log(f"other processes still use {other:.0f} % of the CPU; going on")
                slot = run_slot(
                    config, round_no, args, base_env, template, redis_server, log_dir,
                    site_path, data["initial"], log,
                )  # fmt: skip
                log(report.slot_line(slot.config, slot.round, len(slot.reads), args.seconds,
                                     len(slot.judgement.stale), slot.other_cpu))  # fmt: skip
                if slot.other_cpu >= RETRY_ABOVE and now() - began < args.budget:
                    log(f"{config}: other processes were busy; measuring it again")
                    again = run_slot(
                        config, round_no, args, base_env, template, redis_server, log_dir,
                        site_path, data["initial"], log,
                    )  # fmt: skip
                    log(report.slot_line(again.config, again.round, len(again.reads),
                                         args.seconds, len(again.judgement.stale),
                                         again.other_cpu))  # fmt: skip
                    slot = min(slot, again, key=lambda s: s.other_cpu)
                slots[config].append(slot)
        for config in args.configs:
            results.append(combine(config, slots[config], args.seconds))
            log(report.one_line(results[-1]))
        info = {
            "seconds": args.seconds,
            "rounds": args.rounds,
            "warmup": args.warmup,
            "articles": args.articles,
            "interval": args.interval,
            "readers": args.readers,
            "threads": args.threads,
            "pool": POOL,
            "hot_tags": HOT_TAGS,
            "postgres": server_version(),
            "redis": _redis_version(binary),
            "elapsed": now() - began,
            "finished": datetime.now(tz=UTC).strftime("%Y-%m-%d %H:%M UTC"),
            "commit": report.commit(),
        }
    finally:
        redis_server.stop()
        with contextlib.suppress(Exception):
            template.drop()
    (log_dir / "results.json").write_text(json.dumps({"info": info, "results": results}))
    print()
    print(report.table(results))
    print()
    print(report.kind_table(results))
    unexplained = sum(r["summary"]["unexplained"] for r in results)
    if not args.no_docs:
        report.write(results, info, args.out, args.chart)
        log(f"wrote {args.out} and {args.chart}")
    log(f"done in {now() - began:.0f} s")
    if unexplained:
        print(f"argument: {unexplained} facts shown that no write explains", file=sys.stderr)
        return 1
    return 0


def _redis_version(binary: str) -> str:
    out = subprocess.run([binary, "--version"], capture_output=True, text=True, check=False)
    for part in out.stdout.split():
        if part.startswith("v="):
            return part[2:]
    return "?"


if __name__ == "__main__":
    sys.exit(main())
