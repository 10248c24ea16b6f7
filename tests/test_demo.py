"""`python -m demo_site.run` seeds and serves the demo, and cleans up its private redis-server.

(The site itself, in a browser: tests/test_demo_browser.py.)
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from tests.redis_harness import free_port, port_is_open

ROOT = Path(__file__).resolve().parent.parent

pytestmark = pytest.mark.slow


def _get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode(errors="replace")


def _redis_processes_on(port: int) -> list[int]:
    """PIDs of redis-server processes whose command line mentions ``port`` (Linux /proc)."""
    pids = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            text = cmdline.read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if "redis-server" in text and re.search(rf"\b{port}\b", text):
            pids.append(int(cmdline.parent.name))
    return pids


def test_demo_serves_home_page_and_stops_its_redis(tmp_path):
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k not in ("REDIS_URL", "DJANGO_SETTINGS_MODULE")}
    env["PAGECACHE_DEMO_DATA"] = str(tmp_path)  # own SQLite file: parallel runs don't collide
    log_path = tmp_path / "demo.log"
    with log_path.open("wb") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "demo_site.run", "--port", str(port)],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    redis_port = None
    try:
        deadline = time.monotonic() + 60
        status, body = 0, ""
        while time.monotonic() < deadline:
            assert proc.poll() is None, f"demo exited early:\n{log_path.read_text()}"
            try:
                status, body = _get(f"http://127.0.0.1:{port}/")
            except OSError:
                time.sleep(0.1)
                continue
            if status == 200:
                break
        output = log_path.read_text()
        assert status == 200, f"/ answered {status}:\n{body[:2000]}\n{output}"
        assert "<title>The Daily Cache</title>" in body
        assert body.count('class="teaser"') == 20, "the home page lists the latest 20 articles"

        # The first run seeded the database and created the admin, whose login it prints.
        login = re.search(r"^admin login: admin / (\S+)$", output, re.MULTILINE)
        assert login, output
        assert (tmp_path / "admin-password.txt").read_text().strip() == login.group(1)

        match = re.search(r"Redis: private redis-server on 127\.0\.0\.1:(\d+)", output)
        assert match, output
        redis_port = int(match.group(1))
        assert port_is_open("127.0.0.1", redis_port)
        assert f"127.0.0.1:{redis_port}" in body  # the page says which Redis it uses
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
            pytest.fail(f"demo did not stop on SIGTERM:\n{log_path.read_text()}")

    assert redis_port is not None
    assert not port_is_open("127.0.0.1", redis_port), "the demo's redis-server still listens"
    assert not port_is_open("127.0.0.1", port), "runserver still listens"
    if Path("/proc/self").exists():
        assert _redis_processes_on(redis_port) == []
