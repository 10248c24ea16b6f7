"""The distribution as an index would get it: ``python -m build`` and ``twine check
--strict`` clean, the files a user needs inside, a long description whose links work on
the index (absolute), and nothing private or generated in the sdist."""

from __future__ import annotations

import email
import importlib.util
import re
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest

from tests.conftest import _in_ci

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def dists(tmp_path_factory) -> dict[str, Path]:
    missing = [
        m
        for m in ("build", "twine", "hatchling", "hatch_fancy_pypi_readme")
        if importlib.util.find_spec(m) is None
    ]
    if missing:
        reason = f"needs {', '.join(missing)} (pip install -e '.[dev]')"
        if _in_ci():
            pytest.fail(f"CI=true: {reason}", pytrace=False)
        pytest.skip(reason)
    out = tmp_path_factory.mktemp("dist")
    # --no-isolation: the build backend from the dev extra, no download at test time.
    subprocess.run(
        [sys.executable, "-m", "build", "--no-isolation", "--outdir", str(out), str(ROOT)],
        check=True,
        capture_output=True,
        timeout=300,
    )
    found = {p.suffix if p.suffix == ".whl" else ".tar.gz": p for p in out.iterdir()}
    assert set(found) == {".whl", ".tar.gz"}, sorted(out.iterdir())
    return found


def test_twine_check_strict_passes(dists):
    result = subprocess.run(
        [sys.executable, "-m", "twine", "check", "--strict", *map(str, dists.values())],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def _metadata(wheel: Path) -> email.message.Message:
    with zipfile.ZipFile(wheel) as archive:
        name = next(n for n in archive.namelist() if n.endswith(".dist-info/METADATA"))
        return email.message_from_bytes(archive.read(name))


def test_the_long_description_links_only_to_absolute_urls(dists):
    body = _metadata(dists[".whl"]).get_payload()
    assert isinstance(body, str) and body.startswith("# pagecache")
    relative = re.findall(r"\]\((?!https?://|#|mailto:)[^)]*\)", body)
    assert relative == [], relative
    images = re.findall(r"!\[[^\]]*\]\(([^)]*)\)", body)
    assert images and all(i.startswith("https://raw.githubusercontent.com/") for i in images)


def test_the_metadata_names_urls_license_versions_and_extras(dists):
    meta = _metadata(dists[".whl"])
    classifiers = meta.get_all("Classifier") or []
    assert {"Framework :: Django :: 5.2", "Programming Language :: Python :: 3.11"} <= set(
        classifiers
    )
    assert any(c.startswith("Development Status ::") for c in classifiers)
    from trove_classifiers import classifiers as known  # what PyPI accepts

    assert set(classifiers) <= known, set(classifiers) - known
    assert meta["License-Expression"] == "BSD-3-Clause"
    urls = dict(u.split(", ", 1) for u in meta.get_all("Project-URL") or [])
    assert {"Homepage", "Source", "Issues"} <= set(urls)
    assert "jinja2" in (meta.get_all("Provides-Extra") or [])


def test_the_wheel_holds_the_scripts_migrations_templates_and_typing_marker(dists):
    with zipfile.ZipFile(dists[".whl"]) as archive:
        names = set(archive.namelist())
    for needed in (
        "pagecache/stores/lua/lookup.lua",
        "pagecache/stores/lua/prelude.lua",
        "pagecache/migrations/0001_initial.py",
        "pagecache/management/commands/pagecache.py",
        "pagecache/py.typed",
        "pagecache/templates/pagecache/debug_toolbar/panel.html",
        "templatetags_ext/templatetags/cachetag.py",
        "templatetags_ext/jinja2.py",
    ):
        assert needed in names, needed
    assert any(n.endswith(".dist-info/licenses/LICENSE") for n in names)
    assert not any(n.startswith(("tests/", "bench/", "demo_site/")) for n in names)


def test_the_sdist_holds_no_local_data(dists):
    with tarfile.open(dists[".tar.gz"]) as archive:
        names = archive.getnames()
    assert any(n.endswith("/LICENSE") for n in names)
    forbidden = ("/demo_site/data/", "/bench/data/", "/.venv", "__pycache__", ".sqlite3")
    assert not [n for n in names if any(f in n for f in forbidden)]
