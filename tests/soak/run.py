"""Soak pagecache under load and faults, and check that no response is older than a purge.

``python -m tests.soak.run --duration 180`` (``make soak``) starts:

* a private redis-server on a free loopback port, and a throwaway PostgreSQL database
  (``pagecache_soak_<pid>`` on 127.0.0.1:5432), migrated and seeded;
* two gunicorn servers of the soak site (:mod:`tests.soak.site`) sharing both: 3 sync
  workers, and 2 gthread workers x 4 threads;
* the purger process (:mod:`tests.soak.purger`), alternating soft and hard purges;

then runs reader threads (some logged in: they bypass the page cache but use fragments)
and a writer thread (``POST /write/<pk>/``: a save whose MODELS hook purges) through seven
phases of ``duration / 7`` seconds, one fault each. Every response is classified by
:mod:`tests.soak.checker`; the run prints a table per phase and the first violations, and
exits 1 if there was any violation (2 if the harness itself failed). All times are
``time.monotonic()``: on Linux that is CLOCK_MONOTONIC, one clock for every process.
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import json
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType

import redis

from tests.redis_harness import RedisServer, find_redis_server_binary
from tests.soak import checker
from tests.soak.checker import Phase, Purge, Response
from tests.soak.procs import (
    ROOT,
    Child,
    Database,
    Gunicorn,
    SoakError,
    run_django,
    start_servers,
    tcp_ports_to,
)

ARTICLES = 20
#: The article only phase 7 changes: its one purge is the undelivered one.
CANARY = 1
OTHERS = list(range(2, ARTICLES + 1))
READER = ("reader", "reader-password")
TAG_PREFIX = "soaksite.article"
#: Requests recorded at most (memory bound); readers stop early if it is reached.
MAX_RESPONSES = 400_000
REQUEST_TIMEOUT = 30.0
#: Seconds of load kept after Redis is back in phase 7 (the grace, plus time to see it).
AFTER_BACK = checker.GRACE + 2.0


def now() -> float:
    return time.monotonic()


# -- HTTP ---------------------------------------------------------------------------------------


@dataclass
class Reply:
    status: int | None
    headers: dict[str, str]
    body: bytes
    error: str = ""


def http_request(
    server: Gunicorn,
    method: str,
    path: str,
    *,
    headers: dict[str, str] | None = None,
    body: bytes | None = None,
    timeout: float = REQUEST_TIMEOUT,
) -> Reply:
    """One request on a new connection; a failure to get a response is a Reply too."""
    conn = http.client.HTTPConnection(server.host, server.port, timeout=timeout)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        response = conn.getresponse()
        data = response.read()
        return Reply(response.status, {k.lower(): v for k, v in response.getheaders()}, data)
    except (OSError, http.client.HTTPException) as exc:
        return Reply(None, {}, b"", f"{type(exc).__name__}: {exc}")
    finally:
        conn.close()


def to_response(
    server: Gunicorn, method: str, url: str, t_start: float, t_end: float, reply: Reply,
    logged_in: bool = False,
) -> Response:  # fmt: skip
    body = reply.body if method == "GET" else b""
    return Response(
        t_start=t_start,
        t_end=t_end,
        url=url,
        status=reply.status,
        x_cache=reply.headers.get("x-cache", ""),
        shown=checker.parse_shown(body),
        method=method,
        server=server.name,
        logged_in=logged_in,
        error=reply.error,
        read_times=checker.parse_read_times(body),
        page=checker.parse_page(body),
    )


def write(server: Gunicorn, pk: int, source: str) -> tuple[Response, Purge | None, int | None]:
    """POST /write/<pk>/: the response, the hard purge it made (if it answered), its pid."""
    url = f"/write/{pk}/"
    t_start = now()
    reply = http_request(server, "POST", url, body=b"")
    t_end = now()
    response = to_response(server, "POST", url, t_start, t_end, reply)
    if reply.status != 200:
        return response, None, None
    try:
        data = json.loads(reply.body)
        purge = Purge(
            pk=int(data["pk"]),
            version=int(data["version"]),
            soft=False,
            t_done=t_end,
            delivered=bool(data["delivered"]),
            source=source,
            pid=int(data["pid"]),
        )
    except (ValueError, KeyError, TypeError) as exc:
        raise SoakError(f"unexpected answer from {url}: {reply.body[:200]!r}") from exc
    return response, purge, purge.pid


# -- load ---------------------------------------------------------------------------------------


def reader_paths(rng: random.Random) -> str:
    roll = rng.random()
    if roll < 0.30:
        return "/"
    if roll < 0.45:
        return "/fast/"
    if roll < 0.60:
        return "/j/"
    return f"/a/{rng.randint(1, ARTICLES)}/"


class Load:
    """Reader threads and one writer thread, recording into shared lists."""

    def __init__(
        self,
        servers: list[Gunicorn],
        session: str,
        *,
        readers: int,
        logged_in: int,
        write_interval: float,
        seed: int,
    ) -> None:
        self.servers = servers
        self.session = session
        self.readers = readers
        self.logged_in = logged_in
        self.write_interval = write_interval
        self.seed = seed
        self.stop = threading.Event()
        self.responses: list[Response] = []
        self.purges: list[Purge] = []
        self.threads: list[threading.Thread] = []
        #: Why the writer stopped early, if it did (the run then fails as a harness error).
        self.failure = ""

    def start(self) -> None:
        for index in range(self.readers):
            self.threads.append(
                threading.Thread(target=self._reader, args=(index,), name=f"reader-{index}")
            )
        self.threads.append(threading.Thread(target=self._writer, name="writer"))
        for thread in self.threads:
            thread.daemon = True
            thread.start()

    def finish(self, timeout: float = REQUEST_TIMEOUT + 5) -> None:
        self.stop.set()
        deadline = now() + timeout
        for thread in self.threads:
            thread.join(max(0.0, deadline - now()))

    def _full(self) -> bool:
        return len(self.responses) >= MAX_RESPONSES

    def _reader(self, index: int) -> None:
        rng = random.Random(self.seed * 1000 + index)
        logged_in = index < self.logged_in
        headers = {"Cookie": f"sessionid={self.session}"} if logged_in else {}
        while not self.stop.is_set() and not self._full():
            server = rng.choice(self.servers)
            path = reader_paths(rng)
            t_start = now()
            reply = http_request(server, "GET", path, headers=headers)
            t_end = now()
            self.responses.append(
                to_response(server, "GET", path, t_start, t_end, reply, logged_in)
            )

    def _writer(self) -> None:
        rng = random.Random(self.seed * 1000 + 999)
        try:
            while not self.stop.wait(self.write_interval) and not self._full():
                server, pk = rng.choice(self.servers), rng.choice(OTHERS)
                response, purge, _ = write(server, pk, "writer")
                self.responses.append(response)
                if purge is not None:
                    self.purges.append(purge)
        except SoakError as exc:
            self.failure = str(exc)


# -- faults -------------------------------------------------------------------------------------


@dataclass
class Soak:
    """Everything a fault needs."""

    redis_server: RedisServer
    servers: list[Gunicorn]
    load: Load
    rng: random.Random
    log: Callable[[str], None]

    def admin(self, timeout: float = 10.0) -> redis.Redis:
        return self.redis_server.client(socket_timeout=timeout, socket_connect_timeout=timeout)


@dataclass
class FaultResult:
    outages: list[tuple[float, float]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    #: The phase must last at least until then.
    not_before: float = 0.0
    #: Why the fault could not be injected as planned (the run then proves less: exit 2).
    problem: str = ""


def sleep_until(moment: float) -> None:
    while (left := moment - now()) > 0:
        time.sleep(min(left, 0.5))


def fault_none(soak: Soak, start: float, end: float) -> FaultResult:
    return FaultResult()


def fault_restart(soak: Soak, start: float, end: float) -> FaultResult:
    sleep_until(start + lead(start, end))
    t_down = now()
    soak.redis_server.restart()
    t_back = now()
    return FaultResult([(t_down, t_back)], [f"redis down {1000 * (t_back - t_down):.0f} ms"])


PAUSE_MS = 1500


def fault_pause(soak: Soak, start: float, end: float) -> FaultResult:
    sleep_until(start + lead(start, end))
    admin = soak.admin()
    try:
        admin.ping()
        t_down = now()
        admin.execute_command("CLIENT", "PAUSE", PAUSE_MS, "ALL")
        admin.ping()  # answered once the pause is over
        t_back = max(now(), t_down + PAUSE_MS / 1000)
    finally:
        admin.close()
    return FaultResult([(t_down, t_back)], [f"CLIENT PAUSE {PAUSE_MS} ALL"])


#: Busy Redis for one second where DEBUG is not enabled.
BUSY_LUA = """
local t = redis.call('TIME')
local start = t[1] * 1000000 + t[2]
while true do
  local n = redis.call('TIME')
  if n[1] * 1000000 + n[2] - start > 1000000 then return 1 end
end
"""


def fault_debug_sleep(soak: Soak, start: float, end: float) -> FaultResult:
    sleep_until(start + lead(start, end))
    admin = soak.admin()
    how = "DEBUG SLEEP 1"
    try:
        admin.ping()
        t_down = now()
        try:
            admin.execute_command("DEBUG", "SLEEP", "1")
        except redis.ResponseError:
            how = "a 1 s busy Lua script (DEBUG is disabled)"
            t_down = now()
            admin.eval(BUSY_LUA, 0)
        t_back = now()
    finally:
        admin.close()
    return FaultResult([(t_down, t_back)], [how])


def fault_maxmemory(soak: Soak, start: float, end: float) -> FaultResult:
    sleep_until(start + lead(start, end))
    admin = soak.admin()
    notes = []
    try:
        evicted_before = int(admin.info("stats")["evicted_keys"])
        keys_before = int(admin.dbsize())
        admin.config_set("maxmemory-policy", "allkeys-lru")
        t_down = now()
        # Far below what Redis uses: every key goes, the tag versions (pc:tags) included,
        # and writes fail with OOM while it lasts.
        admin.config_set("maxmemory", "1")
        deadline = now() + 2.0
        while admin.dbsize() and now() < deadline:
            time.sleep(0.02)
        tags_left = admin.exists("pc:tags")
        time.sleep(0.2)
        used = int(admin.info("memory")["used_memory"])
        # Then just above: entries and pc:tags keep being evicted as the cache refills.
        admin.config_set("maxmemory", str(used + 128 * 1024))
        t_back = now()
        notes.append(
            f"{keys_before} keys, all evicted (pc:tags {'kept!' if tags_left else 'evicted'}); "
            f"then maxmemory used+128KB"
        )
        sleep_until(start + 0.8 * (end - start))
        admin.config_set("maxmemory", "0")
        admin.config_set("maxmemory-policy", "noeviction")
        evicted = int(admin.info("stats")["evicted_keys"]) - evicted_before
        notes.append(f"{evicted} keys evicted")
    finally:
        admin.close()
    return FaultResult([(t_down, t_back)], notes)


def kill_a_worker(soak: Soak, server: Gunicorn) -> str:
    workers = server.worker_pids()
    if not workers:
        return f"{server.name}: no worker to kill"
    pid = soak.rng.choice(workers)
    os.kill(pid, signal.SIGKILL)
    return f"SIGKILL worker {pid} of {server.name}"


def fault_kill(soak: Soak, start: float, end: float) -> FaultResult:
    notes = []
    sleep_until(start + lead(start, end))
    notes.append(kill_a_worker(soak, soak.servers[0]))
    sleep_until(start + 0.55 * (end - start))
    notes.append(kill_a_worker(soak, soak.servers[1]))
    return FaultResult([], notes)


def fault_undelivered(soak: Soak, start: float, end: float) -> FaultResult:
    """Redis unreachable without losing data, a write whose purge cannot get through, the
    worker that owes the purge SIGKILLed, then Redis back.

    ``CLIENT PAUSE WRITE`` holds every script (pagecache's lookups and purges) while plain
    reads, connection handshakes and ``CLIENT UNPAUSE`` still pass; a held command whose
    client gave up (socket timeout) is dropped, never run late. (Under SIGSTOP the kernel
    would buffer the purge and Redis would run it on SIGCONT; ``CLIENT PAUSE ALL`` cannot
    be ended early.)"""
    sleep_until(start + lead(start, end))
    server = soak.servers[0]
    admin = soak.admin()
    notes = []
    problem = ""
    try:
        keys_before, floor_before = admin.dbsize(), admin.hget("pc:tags", "floor")
        stamp = admin.hget("pc:tags", f"h:{TAG_PREFIX}:{CANARY}")
        t_down = now()
        admin.execute_command("CLIENT", "PAUSE", 60_000, "WRITE")
        try:
            response, purge, pid = write(server, CANARY, "canary")
            soak.load.responses.append(response)
            if purge is not None:
                soak.load.purges.append(purge)
                notes.append(
                    f"write of article {CANARY} -> v{purge.version}, delivered={purge.delivered}, "
                    f"took {response.latency * 1000:.0f} ms"
                )
                if purge.delivered:
                    problem = "the write's purge was delivered although Redis was paused"
            else:
                failure = response.error or response.status
                problem = f"the write of article {CANARY} failed: {failure}"
            if pid is not None and pid in server.worker_pids():
                kill_and_disconnect(admin, pid, soak.redis_server.port)
                notes.append(f"SIGKILL worker {pid} of {server.name}")
            elif pid is not None:
                problem = f"pid {pid} is not a worker of {server.name}: not killed"
        finally:
            admin.execute_command("CLIENT", "UNPAUSE")
        admin.ping()
        t_back = now()
        floor_after = admin.hget("pc:tags", "floor")
        notes.append(
            f"keys {keys_before} -> {admin.dbsize()}, pc:tags floor "
            + ("unchanged" if floor_after == floor_before else "changed")
        )
        notes.append(f"the canary's purge reached Redis {canary_purged(admin, stamp, t_back)}")
    finally:
        admin.close()
    return FaultResult([(t_down, t_back)], notes, t_back + AFTER_BACK, problem)


def canary_purged(admin: redis.Redis, before: object, t_back: float) -> str:
    """When the canary's tag got a new hard purge stamp after Redis came back (diagnostic:
    by whom is not known; with durable purges another process should deliver it)."""
    field = f"h:{TAG_PREFIX}:{CANARY}"
    while (waited := now() - t_back) < AFTER_BACK - 0.5:
        if admin.hget("pc:tags", field) != before:
            return f"{waited * 1000:.0f} ms after it was back"
        time.sleep(0.005)
    return f"not within {AFTER_BACK - 0.5:.1f} s after it was back"


def kill_and_disconnect(admin: redis.Redis, pid: int, redis_port: int) -> None:
    """SIGKILL ``pid`` and return once Redis has dropped its connections.

    The worker may have sent its pending purge again (before serving its next request) just
    before it died; Redis holds that command while paused, and runs it at ``CLIENT UNPAUSE``
    unless it has seen the connection close first.
    """
    os.kill(pid, signal.SIGSTOP)  # frozen: it opens no connection after the look below
    ports = tcp_ports_to(pid, redis_port)
    os.kill(pid, signal.SIGKILL)
    addresses = {f"127.0.0.1:{port}" for port in ports}
    deadline = now() + 10.0
    while now() < deadline:
        clients = {client["addr"] for client in admin.client_list()}
        if not clients & addresses:
            return
        time.sleep(0.01)
    raise SoakError(f"Redis still lists the connections of killed worker {pid}")


def lead(start: float, end: float) -> float:
    """Normal traffic at the start of each phase before its fault."""
    return min(2.0, 0.2 * (end - start))


@dataclass(frozen=True)
class PhasePlan:
    name: str
    fault: str
    run: Callable[[Soak, float, float], FaultResult]
    kills: bool = False


PLAN = (
    PhasePlan("1 baseline", "none", fault_none),
    PhasePlan("2 redis-restart", "restart, all keys lost", fault_restart),
    PhasePlan("3 client-pause", f"CLIENT PAUSE {PAUSE_MS} ALL", fault_pause),
    PhasePlan("4 debug-sleep", "DEBUG SLEEP 1", fault_debug_sleep),
    PhasePlan("5 maxmemory", "maxmemory tiny, allkeys-lru", fault_maxmemory),
    PhasePlan("6 worker-kill", "SIGKILL a worker", fault_kill, kills=True),
    PhasePlan("7 undelivered", "purge lost with its worker", fault_undelivered, kills=True),
)


# -- the run ------------------------------------------------------------------------------------


def redis_version(binary: str) -> tuple[int, ...]:
    out = subprocess.run([binary, "--version"], capture_output=True, text=True, check=True)
    found = re.search(r"v=(\d+)\.(\d+)", out.stdout)
    return (int(found.group(1)), int(found.group(2))) if found else (0, 0)


def login(server: Gunicorn) -> str:
    body = urllib.parse.urlencode({"username": READER[0], "password": READER[1]}).encode()
    reply = http_request(
        server, "POST", "/login/", body=body,
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )  # fmt: skip
    cookie = reply.headers.get("set-cookie", "")
    found = re.search(r"sessionid=([^;]+)", cookie)
    if reply.status != 200 or found is None:
        raise SoakError(f"login failed: {reply.status} {reply.error} {reply.body[:200]!r}")
    return found.group(1)


def read_purger_events(path: Path) -> list[Purge]:
    purges = []
    with contextlib.suppress(FileNotFoundError), open(path, encoding="utf-8") as lines:
        for line in lines:
            with contextlib.suppress(ValueError, KeyError):
                data = json.loads(line)
                if "pk" in data:
                    purges.append(
                        Purge(int(data["pk"]), int(data["version"]), bool(data["soft"]),
                              float(data["t_done"]), bool(data["delivered"]), "purger",
                              int(data["pid"]))
                    )  # fmt: skip
    return purges


def wait_for_line(path: Path, child: Child, deadline: float) -> None:
    while True:
        with contextlib.suppress(FileNotFoundError):
            if path.read_text().strip():
                return
        if not child.alive():
            raise SoakError(f"{child.name} exited:\n{child.log_tail()}")
        if now() > deadline:
            raise SoakError(f"{child.name} not ready in time:\n{child.log_tail()}")
        time.sleep(0.05)


def dump(path: Path, phases: list[Phase], purges: list[Purge], responses: list[Response]) -> None:
    """Everything the checker saw, as JSON (times in seconds since the first phase)."""
    from dataclasses import asdict

    t0 = phases[0].t_start
    path.parent.mkdir(parents=True, exist_ok=True)
    data = {
        "t0": t0,
        "phases": [asdict(p) for p in phases],
        "purges": [asdict(p) for p in purges],
        "responses": [asdict(r) for r in responses],
    }
    path.write_text(json.dumps(data))


def _interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m tests.soak.run", description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )  # fmt: skip
    parser.add_argument("--duration", type=float, default=180.0, help="seconds of load in all")
    parser.add_argument("--report", type=Path, help="also write the table as Markdown here")
    parser.add_argument("--readers", type=int, default=8)
    parser.add_argument("--logged-in", type=int, default=2, help="readers with a session")
    parser.add_argument("--write-interval", type=float, default=0.1)
    parser.add_argument("--purge-interval", type=float, default=0.05)
    parser.add_argument("--seed", type=int, default=int(time.time()) % 100_000)
    parser.add_argument("--examples", type=int, default=3, help="examples shown per kind")
    parser.add_argument("--log-dir", type=Path, help="keep server logs here")
    parser.add_argument("--dump", type=Path, help="write every response and purge as JSON")
    args = parser.parse_args(argv)
    # Also when started in the background (where SIGINT is ignored): cleanup runs either way.
    signal.signal(signal.SIGTERM, _interrupt)
    signal.signal(signal.SIGINT, _interrupt)
    log_dir = args.log_dir or Path(tempfile.mkdtemp(prefix="pagecache-soak-"))
    try:
        code = run(args, log_dir)
    except SoakError as exc:
        print(f"soak: {exc}\nsoak: logs are in {log_dir}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"soak: interrupted; logs are in {log_dir}", file=sys.stderr)
        return 130
    if args.log_dir is None:
        shutil.rmtree(log_dir, ignore_errors=True)
    return code


def run(args: argparse.Namespace, log_dir: Path) -> int:
    def log(message: str) -> None:
        print(f"[soak {now() - began:6.1f}s] {message}", flush=True)

    began = now()
    log_dir.mkdir(parents=True, exist_ok=True)
    binary = find_redis_server_binary()
    extra = ["--enable-debug-command", "local"] if redis_version(binary) >= (7, 0) else []
    server = RedisServer(extra_args=extra)
    database = Database(f"pagecache_soak_{os.getpid()}")
    servers: list[Gunicorn] = []
    purger: Child | None = None
    load: Load | None = None
    try:
        server.start()
        if server.port == 6379:  # never the shared default Redis
            raise SoakError("refusing to run against port 6379")
        database.create()
        env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "tests.soak.site.settings",
            "SOAK_REDIS_URL": server.url,
            "SOAK_DB_NAME": database.name,
            "PYTHONPATH": os.pathsep.join(
                p for p in (str(ROOT), os.environ.get("PYTHONPATH", "")) if p
            ),
        }
        log(f"redis-server {server.port} ({binary}), database {database.name}; migrating")
        run_django(["migrate", "--noinput", "-v", "0"], env)
        servers = [
            Gunicorn("sync", env, log_dir, workers=3),
            Gunicorn("gthread", env, log_dir, workers=2, worker_class="gthread", threads=4),
        ]
        events = log_dir / "purger.jsonl"
        events.unlink(missing_ok=True)
        purger = Child(
            "purger",
            [sys.executable, "-m", "tests.soak.purger", "--out", str(events),
             "--interval", str(args.purge_interval), "--duration", str(args.duration + 120),
             "--pks", f"{OTHERS[0]}-{OTHERS[-1]}", "--seed", str(args.seed)],
            env, log_dir / "purger.log",
        )  # fmt: skip
        locations = start_servers(servers)
        log(f"servers up: {', '.join(s.label for s in servers)}; pagecache from "
            f"{', '.join(sorted(locations))}")  # fmt: skip
        session = login(servers[0])
        for s in servers:  # warm up: templates loaded, pages and fragments cached
            for path in ("/", "/fast/", "/j/", *(f"/a/{pk}/" for pk in range(1, ARTICLES + 1))):
                http_request(s, "GET", path)
        purger.spawn()
        wait_for_line(events, purger, now() + 60)

        load = Load(
            servers, session, readers=args.readers, logged_in=args.logged_in,
            write_interval=args.write_interval, seed=args.seed,
        )  # fmt: skip
        soak = Soak(server, servers, load, random.Random(args.seed), log)
        length = args.duration / len(PLAN)
        phases: list[Phase] = []
        problems: list[str] = []
        log(f"load: {args.readers} readers ({args.logged_in} logged in), a write every "
            f"{args.write_interval}s, a purge every {args.purge_interval}s; seed {args.seed}; "
            f"{len(PLAN)} phases of {length:.1f}s")  # fmt: skip
        load.start()
        for plan in PLAN:
            start = now()
            outcome = plan.run(soak, start, start + length)
            end = max(start + length, outcome.not_before)
            sleep_until(end)
            phases.append(
                Phase(plan.name, start, end, plan.fault, plan.kills,
                      tuple(outcome.outages), tuple(outcome.notes))
            )  # fmt: skip
            log(f"{plan.name}: {'; '.join(outcome.notes) or 'done'}")
            if outcome.problem:
                problems.append(f"{plan.name}: fault not injected: {outcome.problem}")
                log(f"WARNING {problems[-1]}")
        load.finish()
        if load.failure:
            raise SoakError(f"the writer failed: {load.failure}")
        purger.stop()
        purges = sorted(load.purges + read_purger_events(events), key=lambda p: p.t_done)
        responses = list(load.responses)
    finally:
        if load is not None:
            load.stop.set()
        if purger is not None:
            purger.stop()
        for s in servers:
            s.stop()
        server.stop()
        with contextlib.suppress(Exception):
            database.drop()

    result = checker.classify(responses, purges, phases)
    t0 = phases[0].t_start
    table = checker.markdown_table(checker.rows(result))
    notes = "\n".join(f"- {p.name}: {'; '.join(p.notes)}" for p in phases if p.notes)
    verdict = (
        "PASS: no violations" if result.ok
        else f"FAIL: {len(result.violations)} violations ({dict(result.counts())})"
    )  # fmt: skip
    print()
    print(table)
    print()
    print(notes)
    print()
    print(checker.summary(result, t0, args.examples))
    print()
    print(verdict)
    for problem in problems:
        print(f"HARNESS: {problem}")
    if args.report:
        args.report.parent.mkdir(parents=True, exist_ok=True)
        args.report.write_text(
            f"# pagecache soak ({args.duration:.0f} s, seed {args.seed})\n\n{table}\n\n"
            f"{notes}\n\n```\n{checker.summary(result, t0, args.examples)}\n```\n\n{verdict}\n"
        )
    if args.dump:
        dump(args.dump, phases, purges, responses)
    if not result.ok:
        return 1
    return 2 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
