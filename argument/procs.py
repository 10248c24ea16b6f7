"""The run's services: throwaway PostgreSQL databases and gunicorn servers.

Processes are :class:`tests.soak.procs.Child` (own session, ``die_with_parent``, stopped
by process group at exit). Databases are created on the local PostgreSQL (127.0.0.1:5432,
user ``postgres``), one seeded *template* and a copy of it per configuration, and are all
dropped when the run ends, however it ends.
"""

from __future__ import annotations

import atexit
import contextlib
import http.client
import os
import sys
import time
from pathlib import Path
from typing import Any

from tests.redis_harness import free_port
from tests.soak.procs import PG_DSN, Child, SoakError

#: gunicorn's shape for every configuration.
WORKERS = 3
THREADS = 4


class ArgumentError(SoakError):
    """A service of the run could not be started or prepared."""


def _admin() -> Any:
    import psycopg

    try:
        return psycopg.connect(PG_DSN, autocommit=True)
    except psycopg.OperationalError as exc:
        raise ArgumentError(
            f"PostgreSQL is needed on 127.0.0.1:5432 (user postgres, trust auth): {exc}"
        ) from exc


class Database:
    """A database of this run, created empty or as a copy of ``template``."""

    def __init__(self, name: str, template: str | None = None) -> None:
        self.name = name
        self.template = template
        self.created = False

    def create(self) -> Database:
        with _admin() as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{self.name}"')
            if self.template:
                conn.execute(f'CREATE DATABASE "{self.name}" TEMPLATE "{self.template}"')
            else:
                conn.execute(f'CREATE DATABASE "{self.name}"')
        self.created = True
        _databases.append(self)
        return self

    def connect(self) -> Any:
        import psycopg

        dsn = PG_DSN.replace("dbname=postgres", f"dbname={self.name}")
        return psycopg.connect(dsn, autocommit=True)

    def drop(self) -> None:
        if not self.created:
            return
        self.created = False
        with contextlib.suppress(ValueError):
            _databases.remove(self)
        with _admin() as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')


_databases: list[Database] = []


@atexit.register
def drop_all() -> None:
    """Drop every database of this run still there (copies before their template)."""
    for database in reversed(list(_databases)):
        with contextlib.suppress(Exception):
            database.drop()


def server_version() -> str:
    with _admin() as conn:
        return str(conn.execute("SHOW server_version").fetchone()[0]).split()[0]


class Gunicorn(Child):
    """gunicorn serving ``argument.wsgi:application`` for one configuration."""

    host = "127.0.0.1"

    def __init__(self, config: str, env: dict[str, str], log_dir: Path) -> None:
        self.port = free_port()
        args = [
            sys.executable, "-m", "gunicorn",
            "--bind", f"{self.host}:{self.port}",
            "--workers", str(WORKERS),
            "--worker-class", "gthread",
            "--threads", str(THREADS),
            "--keep-alive", "30",
            "--timeout", "60",
            "--graceful-timeout", "3",
            "--log-level", "warning",
            "argument.wsgi:application",
        ]  # fmt: skip
        super().__init__(f"gunicorn-{config}", args, env, log_dir / f"gunicorn-{config}.log")

    def wait_ready(self, timeout: float = 60.0) -> None:
        """Return once the home page answers 200."""
        deadline = time.monotonic() + timeout
        while True:
            if not self.alive():
                raise ArgumentError(f"{self.name} exited:\n{self.log_tail()}")
            try:
                conn = http.client.HTTPConnection(self.host, self.port, timeout=5)
                conn.request("GET", "/")
                response = conn.getresponse()
                response.read()
                conn.close()
                if response.status == 200:
                    return
            except (OSError, http.client.HTTPException):
                pass
            if time.monotonic() > deadline:
                raise ArgumentError(f"{self.name} not ready in time:\n{self.log_tail()}")
            time.sleep(0.1)


# -- what else ran on the machine -------------------------------------------------------------


def _stat_fields(pid: str) -> list[str] | None:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return stat.rsplit(")", 1)[-1].split()  # after "pid (comm)": state ppid ...


def _our_pids(db_prefix: str) -> set[str]:
    """This process, its descendants, and PostgreSQL backends serving our databases."""
    parents: dict[str, str] = {}
    ours = {str(os.getpid())}
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        fields = _stat_fields(pid)
        if fields is not None:
            parents[pid] = fields[1]
        with contextlib.suppress(OSError):
            if db_prefix.encode() in Path(f"/proc/{pid}/cmdline").read_bytes():
                ours.add(pid)
    grew = True
    while grew:
        grew = False
        for pid, parent in parents.items():
            if parent in ours and pid not in ours:
                ours.add(pid)
                grew = True
    return ours


class CpuMeter:
    """How much of the machine's CPU went to processes that are not this run's, between
    :meth:`start` and :meth:`stop` (Linux /proc): the machine's busy time, less what this
    run's processes used (steal time, the hypervisor's, counts as other)."""

    def __init__(self, db_prefix: str) -> None:
        self.db_prefix = db_prefix
        self.begin: tuple[int, int, dict[str, int]] | None = None

    def _snapshot(self) -> tuple[int, int, dict[str, int]]:
        values = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
        total = sum(values[:8])
        busy = total - values[3] - values[4]  # minus idle and iowait
        jiffies = {}
        for pid in _our_pids(self.db_prefix):
            fields = _stat_fields(pid)
            if fields is not None:
                jiffies[pid] = int(fields[11]) + int(fields[12])  # utime + stime
        return total, busy, jiffies

    def start(self) -> None:
        self.begin = self._snapshot()

    def stop(self) -> float:
        """Percent of all CPU time used by other processes since :meth:`start`."""
        assert self.begin is not None
        total0, busy0, ours0 = self.begin
        total1, busy1, ours1 = self._snapshot()
        ours = sum(j - ours0.get(pid, 0) for pid, j in ours1.items())
        other = max(0, (busy1 - busy0) - ours)
        return 100.0 * other / (total1 - total0) if total1 > total0 else 0.0


def wait_until_quiet(db_prefix: str, limit: float, most: float, log: Any) -> float:
    """Wait (at most ``most`` seconds) until other processes use under ``limit`` % of the
    CPU over two seconds; return the last measure."""
    deadline = time.monotonic() + most
    while True:
        meter = CpuMeter(db_prefix)
        meter.start()
        time.sleep(2.0)
        other = meter.stop()
        if other < limit or time.monotonic() > deadline:
            return other
        log(f"other processes use {other:.0f} % of the CPU; waiting for a quieter machine")
