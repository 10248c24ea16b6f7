"""The soak's services: a throwaway PostgreSQL database, gunicorn servers, the purger.

Every process is started in its own session with ``die_with_parent`` (the kernel sends it
SIGTERM if the orchestrator dies, even by SIGKILL), is registered for ``atexit`` and is
stopped by its process group, so nothing outlives a run that fails or is interrupted.
The readiness of each is polled, never assumed after a fixed sleep.
"""

from __future__ import annotations

import atexit
import contextlib
import http.client
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tests.redis_harness import die_with_parent, free_port

if TYPE_CHECKING:
    import psycopg

ROOT = Path(__file__).resolve().parents[2]
STOP_TIMEOUT = 10.0
PG_DSN = "host=127.0.0.1 port=5432 user=postgres dbname=postgres connect_timeout=5"

_running: set[Child] = set()


class SoakError(RuntimeError):
    """A service of the soak could not be started or prepared."""


def _exited_unreaped(pid: int) -> bool:
    """True once ``pid`` has exited; it is left a zombie (not reaped), so neither its pid
    nor its process group id can be reused by an unrelated process meanwhile."""
    try:
        return os.waitid(os.P_PID, pid, os.WEXITED | os.WNOHANG | os.WNOWAIT) is not None
    except ChildProcessError:
        return True


def _stop_group(proc: subprocess.Popen[bytes], timeout: float = STOP_TIMEOUT) -> None:
    """SIGTERM the process, SIGKILL it if it lingers, then SIGKILL whatever is left in its
    process group (its own session: only processes it started), and reap it."""
    if proc.returncode is not None:
        return  # already reaped: its group id may belong to someone else by now
    with contextlib.suppress(ProcessLookupError):
        proc.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + timeout
    killed = False
    while not _exited_unreaped(proc.pid):
        if time.monotonic() > deadline:
            if killed:
                break
            with contextlib.suppress(ProcessLookupError):
                proc.kill()
            killed, deadline = True, time.monotonic() + timeout
        time.sleep(0.02)
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)  # e.g. workers of a master that died first
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(timeout)


class Child:
    """A subprocess of the soak, in its own session, stopped at exit whatever happens."""

    def __init__(self, name: str, args: Sequence[str], env: dict[str, str], log_path: Path):
        self.name = name
        self.args = list(args)
        self.env = env
        self.log_path = log_path
        self.proc: subprocess.Popen[bytes] | None = None

    def spawn(self) -> None:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(
                self.args,
                cwd=ROOT,
                env=self.env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                preexec_fn=die_with_parent,
            )
        _running.add(self)

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc is not None else None

    def alive(self) -> bool:
        # Never reaps it (poll() would): _stop_group still owns its process group.
        return self.proc is not None and not _exited_unreaped(self.proc.pid)

    def log_tail(self, chars: int = 3000) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-chars:]
        except OSError:
            return "<no log>"

    def stop(self, timeout: float = STOP_TIMEOUT) -> None:
        proc, self.proc = self.proc, None
        _running.discard(self)
        if proc is not None:
            _stop_group(proc, timeout)


def child_pids(parent: int) -> list[int]:
    """Pids whose parent is ``parent`` (Linux /proc), e.g. a gunicorn master's workers."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        # "pid (comm) state ppid ...": comm may contain spaces, so split after the last ')'.
        fields = stat.rsplit(")", 1)[-1].split()
        if len(fields) > 1 and int(fields[1]) == parent:
            found.append(int(entry))
    return sorted(found)


def tcp_ports_to(pid: int, remote_port: int) -> set[int]:
    """Local ports of ``pid``'s TCP connections to ``remote_port`` on loopback (Linux /proc),
    e.g. a worker's connections to Redis, to find them in ``CLIENT LIST``."""
    inodes = set()
    with contextlib.suppress(OSError):
        for fd in os.listdir(f"/proc/{pid}/fd"):
            with contextlib.suppress(OSError):
                target = os.readlink(f"/proc/{pid}/fd/{fd}")
                if target.startswith("socket:["):
                    inodes.add(target[8:-1])
    ports = set()
    with contextlib.suppress(OSError), open(f"/proc/{pid}/net/tcp") as table:
        next(table)
        for line in table:
            fields = line.split()
            local, remote, inode = fields[1], fields[2], fields[9]
            if inode in inodes and int(remote.split(":")[1], 16) == remote_port:
                ports.add(int(local.split(":")[1], 16))
    return ports


class Gunicorn(Child):
    """One gunicorn serving the soak site on a free loopback port."""

    host = "127.0.0.1"

    def __init__(
        self,
        name: str,
        env: dict[str, str],
        log_dir: Path,
        *,
        workers: int,
        worker_class: str = "sync",
        threads: int = 1,
    ) -> None:
        self.port = free_port()
        self.workers = workers
        self.worker_class = worker_class
        self.threads = threads
        args = [
            sys.executable, "-m", "gunicorn",
            "--bind", f"{self.host}:{self.port}",
            "--workers", str(workers),
            "--worker-class", worker_class,
            "--threads", str(threads),
            "--timeout", "30",
            "--graceful-timeout", "3",
            "--log-level", "warning",
            "--chdir", str(ROOT),
            "tests.soak.site.wsgi:application",
        ]  # fmt: skip
        super().__init__(name, args, env, log_dir / f"gunicorn-{name}.log")

    @property
    def label(self) -> str:
        if self.worker_class == "gthread":
            return f"{self.name} ({self.workers} gthread workers x {self.threads} threads)"
        return f"{self.name} ({self.workers} {self.worker_class} workers)"

    def worker_pids(self) -> list[int]:
        return child_pids(self.pid) if self.alive() and self.pid is not None else []

    def get(self, path: str, timeout: float = 5.0) -> tuple[int, bytes]:
        conn = http.client.HTTPConnection(self.host, self.port, timeout=timeout)
        try:
            conn.request("GET", path)
            response = conn.getresponse()
            return response.status, response.read()
        finally:
            conn.close()

    def wait_ready(self, deadline: float) -> str:
        """Wait until every worker is up and ``/ready/`` answers; return where the site
        imported pagecache from."""
        while True:
            if not self.alive():
                raise SoakError(f"gunicorn {self.name} exited:\n{self.log_tail()}")
            try:
                if len(self.worker_pids()) >= self.workers:
                    status, body = self.get("/ready/")
                    if status == 200:
                        return str(json.loads(body)["pagecache"])
            except (OSError, http.client.HTTPException, ValueError, KeyError):
                pass
            if time.monotonic() > deadline:
                raise SoakError(f"gunicorn {self.name} not ready in time:\n{self.log_tail()}")
            time.sleep(0.05)


def start_servers(servers: Sequence[Gunicorn], timeout: float = 60.0) -> set[str]:
    """Start ``servers`` in parallel; return the pagecache locations they imported."""
    for server in servers:
        server.spawn()
    deadline = time.monotonic() + timeout
    return {server.wait_ready(deadline) for server in servers}


def run_django(args: Sequence[str], env: dict[str, str], timeout: float = 120.0) -> None:
    """Run ``python -m django ARGS`` with the soak's settings (e.g. ``migrate``)."""
    done = subprocess.run(
        [sys.executable, "-m", "django", *args],
        cwd=ROOT,
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        timeout=timeout,
        preexec_fn=die_with_parent,
    )
    if done.returncode != 0:
        output = (done.stdout + done.stderr).decode(errors="replace")[-4000:]
        raise SoakError(f"django-admin {' '.join(args)} failed:\n{output}")


class Database:
    """A database of its own on the local PostgreSQL, dropped when the run ends."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.created = False

    def _admin(self) -> psycopg.Connection[Any]:
        import psycopg

        try:
            return psycopg.connect(PG_DSN, autocommit=True)
        except psycopg.OperationalError as exc:
            raise SoakError(
                f"PostgreSQL is needed on 127.0.0.1:5432 (user postgres, trust auth): {exc}"
            ) from exc

    def create(self) -> None:
        with self._admin() as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{self.name}"')
            conn.execute(f'CREATE DATABASE "{self.name}"')
        self.created = True
        _databases.add(self)

    def drop(self) -> None:
        if not self.created:
            return
        self.created = False
        _databases.discard(self)
        with self._admin() as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')


_databases: set[Database] = set()


@atexit.register
def stop_all() -> None:
    """Stop every child still running and drop every database still there."""
    for child in list(_running):
        with contextlib.suppress(Exception):
            child.stop()
    for database in list(_databases):
        with contextlib.suppress(Exception):
            database.drop()
