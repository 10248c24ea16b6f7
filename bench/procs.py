"""Child processes of the benchmark (gunicorn servers), always terminated on exit."""

from __future__ import annotations

import atexit
import contextlib
import http.client
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from tests.redis_harness import die_with_parent, free_port

ROOT = Path(__file__).resolve().parent.parent
STOP_TIMEOUT = 10.0

_running: set[Gunicorn] = set()


class ServerError(RuntimeError):
    """A server could not be started."""


class Gunicorn:
    """One gunicorn serving ``bench.site.wsgi:application`` for one configuration."""

    host = "127.0.0.1"

    def __init__(
        self,
        config: str,
        env: dict[str, str],
        log_dir: Path,
        *,
        workers: int = 1,
        worker_class: str = "sync",
        threads: int = 1,
        name: str | None = None,
    ) -> None:
        self.config = config
        self.name = name or config
        self.env = {**env, "BENCH_CONFIG": config}
        self.workers = workers
        self.worker_class = worker_class
        self.threads = threads
        self.log_path = log_dir / f"gunicorn-{self.name}.log"
        self.port = 0
        self.proc: subprocess.Popen[bytes] | None = None

    def url(self, path: str = "/page/") -> str:
        return f"http://{self.host}:{self.port}{path}"

    def spawn(self) -> None:
        self.port = free_port()
        if self.config.startswith("asgi-"):
            self._spawn_uvicorn()
            return
        args = [
            sys.executable, "-m", "gunicorn",
            "--bind", f"{self.host}:{self.port}",
            "--workers", str(self.workers),
            "--worker-class", self.worker_class,
            "--threads", str(self.threads),
            "--timeout", "120",
            "--log-level", "warning",
            "--error-logfile", str(self.log_path),
            "--chdir", str(ROOT),
            "bench.site.wsgi:application",
        ]  # fmt: skip
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        self.log_path.write_text("")
        self.proc = subprocess.Popen(
            args,
            cwd=ROOT,
            env=self.env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
            preexec_fn=die_with_parent,
        )
        _running.add(self)

    def _spawn_uvicorn(self) -> None:
        """An ``asgi-*`` configuration: uvicorn, one worker (one event loop)."""
        args = [
            sys.executable, "-m", "uvicorn",
            "--host", self.host,
            "--port", str(self.port),
            "--workers", "1",
            "--log-level", "warning",
            "--no-access-log",
            "bench.site.asgi:application",
        ]  # fmt: skip
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.log_path, "wb") as log:
            self.proc = subprocess.Popen(
                args,
                cwd=ROOT,
                env=self.env,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=log,
                start_new_session=True,
                preexec_fn=die_with_parent,
            )
        _running.add(self)

    def wait_ready(self, deadline: float) -> None:
        """Return once ``/ready/`` answers 200 (every worker then has the app loaded)."""
        assert self.proc is not None
        while True:
            if self.proc.poll() is not None:
                raise ServerError(
                    f"gunicorn for {self.name} exited with {self.proc.returncode}:\n"
                    f"{self.log_tail()}"
                )
            try:
                conn = http.client.HTTPConnection(self.host, self.port, timeout=5)
                # The demo site has no /ready/: its home page answers once the app is loaded.
                conn.request("GET", "/" if self.config.startswith("demo-") else "/ready/")
                response = conn.getresponse()
                response.read()
                conn.close()
                if response.status == 200:
                    return
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise ServerError(f"gunicorn for {self.name} not ready in time:\n{self.log_tail()}")
            time.sleep(0.05)

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def log_tail(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-3000:]
        except OSError:
            return "<no log>"

    def stop(self) -> None:
        proc, self.proc = self.proc, None
        _running.discard(self)
        if proc is None:
            return
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                # The group is the one this gunicorn was started in (its own session).
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(STOP_TIMEOUT)


def start_all(servers: list[Gunicorn], timeout: float = 90.0) -> dict[str, str]:
    """Start ``servers`` in parallel; return {name: error} for those that failed (stopped)."""
    for server in servers:
        server.spawn()
    deadline = time.monotonic() + timeout
    failed: dict[str, str] = {}
    for server in servers:
        try:
            server.wait_ready(deadline)
        except ServerError as exc:
            server.stop()
            failed[server.name] = str(exc)
    return failed


@atexit.register
def stop_all() -> None:
    for server in list(_running):
        with contextlib.suppress(Exception):
            server.stop()
