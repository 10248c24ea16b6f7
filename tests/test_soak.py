"""The soak (``make soak``) shortened to about 30 seconds: every phase, every fault, and no
response older than a completed purge. See tests/soak/run.py."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

pytestmark = [pytest.mark.slow, pytest.mark.postgres, pytest.mark.soak]


def test_soak_shows_nothing_older_than_a_completed_purge(tmp_path: Path) -> None:
    report = tmp_path / "soak.md"
    done = subprocess.run(
        [sys.executable, "-m", "tests.soak.run", "--duration", "28", "--report", str(report)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=150,
    )
    output = done.stdout + done.stderr
    assert done.returncode != 2, f"the soak harness failed:\n{output}"
    assert done.returncode == 0, f"the soak found violations:\n{output}"
    assert "PASS: no violations" in report.read_text()
