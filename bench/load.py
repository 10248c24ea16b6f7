"""Load generation and measurement helpers: wrk, plain HTTP requests, Redis command counts."""

from __future__ import annotations

import http.client
import re
import shutil
import socket
import subprocess
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import redis

# -- wrk --------------------------------------------------------------------------------------


def ensure_wrk() -> str:
    """The path of wrk, installing the Debian package when it is missing."""
    found = shutil.which("wrk")
    if found:
        return found
    print("wrk is not installed: apt-get install -y wrk", flush=True)
    subprocess.run(["apt-get", "update", "-qq"], check=True)
    subprocess.run(["apt-get", "install", "-y", "-qq", "wrk"], check=True)
    found = shutil.which("wrk")
    if not found:
        raise RuntimeError("wrk could not be installed")
    return found


def wrk_version(wrk: str) -> str:
    out = subprocess.run([wrk, "-v"], capture_output=True, text=True)
    match = re.search(r"wrk\s+(\S+)", out.stdout + out.stderr)
    return match.group(1) if match else "?"


@dataclass
class WrkResult:
    rps: float
    p50_ms: float
    p99_ms: float
    requests: int
    errors: str = ""
    raw: str = field(default="", repr=False)


_UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0}


def _ms(text: str) -> float:
    match = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text.strip())
    if not match:
        raise ValueError(f"unreadable wrk latency {text!r}")
    return float(match.group(1)) * _UNITS[match.group(2)]


def parse_wrk(output: str) -> WrkResult:
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))  # type: ignore[union-attr]
    p50 = _ms(re.search(r"^\s+50%\s+(\S+)", output, re.M).group(1))  # type: ignore[union-attr]
    p99 = _ms(re.search(r"^\s+99%\s+(\S+)", output, re.M).group(1))  # type: ignore[union-attr]
    requests = int(re.search(r"(\d+) requests in", output).group(1))  # type: ignore[union-attr]
    errors = []
    socket_errors = re.search(r"Socket errors: (.*)", output)
    if socket_errors:
        errors.append(f"socket errors: {socket_errors.group(1).strip()}")
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    if non2xx:
        errors.append(f"{non2xx.group(1)} non-2xx/3xx responses")
    return WrkResult(rps, p50, p99, requests, "; ".join(errors), output)


def run_wrk(wrk: str, url: str, seconds: float, connections: int = 8) -> WrkResult:
    args = [wrk, "-t1", f"-c{connections}", f"-d{seconds:g}s", "--latency", url]
    out = subprocess.run(args, capture_output=True, text=True, timeout=seconds + 60)
    if out.returncode != 0:
        raise RuntimeError(f"wrk failed ({out.returncode}): {out.stderr or out.stdout}")
    return parse_wrk(out.stdout)


# -- single requests ---------------------------------------------------------------------------


@dataclass
class Reply:
    status: int
    headers: dict[str, str]
    body: bytes
    seconds: float


def get(host: str, port: int, path: str, headers: dict[str, str] | None = None) -> Reply:
    conn = http.client.HTTPConnection(host, port, timeout=30)
    try:
        started = time.perf_counter()
        conn.request("GET", path, headers=headers or {})
        response = conn.getresponse()
        body = response.read()
        elapsed = time.perf_counter() - started
        headers_seen = {k.lower(): v for k, v in response.getheaders()}
        return Reply(response.status, headers_seen, body, elapsed)
    finally:
        conn.close()


# -- Redis command counting --------------------------------------------------------------------

_SENTINEL = "bench-monitor-end"
#: Commands the benchmark itself sends around a measurement; never counted.
_OWN = {"config", "info", "echo", "monitor"}
_MONITOR_LINE = re.compile(rb'^\+[\d.]+ \[(\d+) ([^\]]+)\] "([^"]*)"')
#: pagecache's background deliverer: one ``SET <prefix>:deliverer NX`` per process every
#: half second, whatever the load — not part of any request (counted apart).
_BACKGROUND = re.compile(rb'"(?i:set)" "[^"]*:deliverer"')


@dataclass
class CommandCount:
    #: Top-level commands (what clients sent; one per round trip unless pipelined), by name.
    top_level: dict[str, int]
    #: Every call INFO commandstats counted, including commands run inside Lua scripts.
    all_calls: dict[str, int]

    @property
    def top_level_total(self) -> int:
        return sum(self.top_level.values())

    @property
    def all_calls_total(self) -> int:
        return sum(self.all_calls.values())

    def per(self, n: int) -> dict[str, Any]:
        return {
            "top_level_per_op": self.top_level_total / n,
            "all_calls_per_op": self.all_calls_total / n,
            "top_level": {k: v / n for k, v in sorted(self.top_level.items())},
            "all_calls": {k: v / n for k, v in sorted(self.all_calls.items())},
        }


class CountCommands:
    """``with CountCommands(host, port) as counted: ...`` then ``counted.result``.

    Top-level commands come from MONITOR (script-internal calls are shown as ``lua`` and
    left out); all calls from ``CONFIG RESETSTAT`` / ``INFO commandstats`` deltas, which on
    Redis 7 include the calls a script makes.
    """

    def __init__(self, host: str, port: int) -> None:
        self.host = host
        self.port = port
        self.result: CommandCount | None = None

    def __enter__(self) -> CountCommands:
        self.admin = redis.Redis(host=self.host, port=self.port)
        self.admin.ping()  # connect first: its handshake is not part of the measurement
        self.sock = socket.create_connection((self.host, self.port), timeout=30)
        self.sock.sendall(b"MONITOR\r\n")
        buf = b""
        while b"\r\n" not in buf:
            buf += self.sock.recv(4096)
        if not buf.startswith(b"+OK"):
            raise RuntimeError(f"MONITOR refused: {buf[:100]!r}")
        self._buf = bytearray(buf.split(b"\r\n", 1)[1])
        self._done = threading.Event()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        self.admin.config_resetstat()
        return self

    def _read(self) -> None:
        marker = _SENTINEL.encode()
        while True:
            try:
                chunk = self.sock.recv(1 << 20)
            except OSError:
                break
            if not chunk:
                break
            self._buf += chunk
            if marker in self._buf[-(len(chunk) + len(marker)) :]:
                break
        self._done.set()

    def __exit__(self, *exc: object) -> None:
        stats = self.admin.info("commandstats")
        self.admin.echo(_SENTINEL)
        self._done.wait(30)
        self.sock.close()
        self.admin.close()
        top: dict[str, int] = {}
        background = 0
        for line in bytes(self._buf).split(b"\r\n"):
            match = _MONITOR_LINE.match(line)
            if not match or match.group(2) == b"lua":
                continue
            name = match.group(3).decode(errors="replace").lower()
            if name in _OWN:
                continue
            if _BACKGROUND.search(line):
                background += 1
                continue
            top[name] = top.get(name, 0) + 1
        calls: dict[str, int] = {}
        for key, value in stats.items():
            name = key.removeprefix("cmdstat_").lower()
            if name.split("|")[0] in _OWN:
                continue
            calls[name] = int(value["calls"])
        if background and calls.get("set"):
            calls["set"] -= background
            if not calls["set"]:
                del calls["set"]
        self.result = CommandCount(top, calls)
