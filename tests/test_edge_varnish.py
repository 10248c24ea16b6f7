"""pagecache behind a real Varnish with vmod xkey (SPEC §11): docs/varnish.vcl as shipped,
a gunicorn serving tests/edge_site.py, the purger sending PURGEs from this process.

Varnish keeps a page no longer than pagecache (its TTL from ``CACHE_CONTROL``), a purge
reaches it through ``VarnishXkeyPurger`` (hard and soft), analytics cookies do not split or
bypass it, a page with 500 tags fits its header limit (rolled up) and is still purged.
"""

from __future__ import annotations

import http.client
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from django.test import override_settings

import pagecache
from pagecache.purging import edge
from tests.conftest import _in_ci
from tests.redis_harness import die_with_parent, free_port, port_is_open

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

ROOT = Path(__file__).resolve().parent.parent
VCL = ROOT / "docs" / "varnish.vcl"
#: Appended to the shipped VCL for the tests only: what Varnish did with the object.
DEBUG_VCL = """
sub vcl_deliver {
    set resp.http.X-Edge-Hits = obj.hits;
    set resp.http.X-Edge-TTL = obj.ttl;
}
"""


@dataclass
class Reply:
    status: int
    headers: dict[str, str]
    body: str

    @property
    def edge_hit(self) -> bool:
        return int(self.headers.get("x-edge-hits", "0")) > 0


def _wait_for_port(port: int, process: subprocess.Popen, what: str) -> None:
    deadline = time.monotonic() + 30
    while not port_is_open("127.0.0.1", port):
        assert process.poll() is None, f"{what} exited"
        assert time.monotonic() < deadline, f"{what} did not start"
        time.sleep(0.05)  # polling for a server to start, not ordering a test


@pytest.fixture(scope="module")
def varnish(redis_server) -> Iterator[str]:
    """varnishd on docs/varnish.vcl in front of gunicorn serving tests/edge_site.py; its URL."""
    varnishd = shutil.which("varnishd") or "/usr/sbin/varnishd"
    if not Path(varnishd).exists():
        reason = "needs varnishd and vmod xkey (apt-get install varnish varnish-modules)"
        if _in_ci():
            pytest.fail(f"CI=true: {reason}", pytrace=False)
        pytest.skip(reason)
    # varnishd reads the VCL and compiles it as its own unprivileged user: a directory it
    # can enter (pytest's temporary directories are private to root).
    work = Path(tempfile.mkdtemp(prefix="pagecache-varnish-"))
    work.chmod(0o755)
    backend_port, varnish_port = free_port(), free_port()
    vcl = VCL.read_text().replace('.port = "8000";', f'.port = "{backend_port}";')
    (work / "test.vcl").write_text(vcl + DEBUG_VCL)
    url = f"http://127.0.0.1:{varnish_port}"
    env = dict(os.environ, REDIS_URL=redis_server.url, VARNISH_URL=url,
               DJANGO_SETTINGS_MODULE="tests.edge_site")  # fmt: skip
    backend = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "--bind", f"127.0.0.1:{backend_port}",
         "--workers", "1", "--threads", "4", "--log-level", "warning",
         "tests.edge_site:application_factory()"],
        cwd=ROOT, env=env, preexec_fn=die_with_parent,
    )  # fmt: skip
    cache = subprocess.Popen(
        [varnishd, "-F", "-n", str(work / "n"), "-a", f"127.0.0.1:{varnish_port}",
         "-f", str(work / "test.vcl"), "-s", "malloc,32m", "-p", "default_grace=0"],
        stdout=subprocess.DEVNULL, preexec_fn=die_with_parent,
    )  # fmt: skip
    try:
        _wait_for_port(backend_port, backend, "gunicorn")
        _wait_for_port(varnish_port, cache, "varnishd")
        yield url
    finally:
        for process in (cache, backend):
            process.terminate()
            process.wait(10)
        shutil.rmtree(work, ignore_errors=True)


@pytest.fixture
def purging_to(varnish):
    """This process purges Varnish too (as the site's other processes would)."""
    options = {"SERVERS": [varnish], "TIMEOUT": 2.0, "RETRIES": 0}
    with override_settings(
        PAGECACHE={
            "PURGERS": [{"BACKEND": "pagecache.purgers.VarnishXkeyPurger", "OPTIONS": options}]
        }
    ):
        yield varnish


def fetch(url: str, path: str, headers: dict[str, str] | None = None, method: str = "GET",
          source: str | None = None) -> Reply:  # fmt: skip
    host, port = url.removeprefix("http://").split(":")
    conn = http.client.HTTPConnection(
        host, int(port), timeout=10, source_address=(source, 0) if source else None
    )
    try:
        conn.request(method, path, headers={"Host": "edge.test", **(headers or {})})
        response = conn.getresponse()
        body = response.read().decode()
        return Reply(response.status, {k.lower(): v for k, v in response.getheaders()}, body)
    finally:
        conn.close()


def purge(*tags: str, soft: bool = False) -> None:
    pagecache.purge_tags(*tags, soft=soft)
    assert edge.flush(10), "the purger did not finish"


def until(check, timeout: float = 10.0):  # type: ignore[no-untyped-def]
    """Poll ``check`` until it returns a truthy value (Varnish refreshes in the background)."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(0.05)  # waiting for Varnish's background fetch, bounded


def test_varnish_keeps_a_page_no_longer_than_pagecache_and_never_shows_its_tags(purging_to):
    first = fetch(purging_to, "/article/1/")
    assert (first.status, first.headers["x-cache"]) == (200, "MISS")
    assert first.headers["cache-control"] == "max-age=0, s-maxage=30, must-revalidate"
    again = fetch(purging_to, "/article/1/")
    assert again.edge_hit and again.body == first.body
    assert again.headers["x-cache"] == "HIT"  # not the MISS Varnish fetched it with
    # Varnish's own default would be 120 s: the page's TTL (30 s, less its Age) wins.
    assert 0 < float(again.headers["x-edge-ttl"]) <= 30
    assert "xkey" not in again.headers  # tags are for Varnish only


def test_a_hard_purge_reaches_varnish_and_pagecache_at_once(purging_to):
    old = fetch(purging_to, "/article/2/")
    assert fetch(purging_to, "/article/2/").edge_hit
    other = fetch(purging_to, "/article/3/")
    purge("blog.article:2")
    new = fetch(purging_to, "/article/2/")
    assert not new.edge_hit and new.headers["x-cache"] == "MISS"
    assert new.body != old.body and new.body.endswith("render 2")
    # Another article's page stays in Varnish.
    kept = fetch(purging_to, "/article/3/")
    assert kept.edge_hit and kept.body == other.body


def test_a_soft_purge_serves_the_old_copy_only_while_one_fetch_refreshes_it(purging_to):
    old = fetch(purging_to, "/article/4/")
    assert fetch(purging_to, "/article/4/").edge_hit
    purge("blog.article:4", soft=True)
    # Within grace Varnish may answer with the old copy once more, while it refetches;
    # pagecache re-renders that fetch (it was soft-purged there too), and the new page
    # replaces the old one in Varnish.
    refreshed = until(lambda: (r := fetch(purging_to, "/article/4/")).body != old.body and r)
    assert refreshed, "Varnish kept serving the soft-purged copy"
    assert refreshed.body.endswith("render 2")
    assert fetch(purging_to, "/article/4/").body == refreshed.body


def test_analytics_cookies_share_the_cached_page_and_a_session_passes(purging_to):
    plain = fetch(purging_to, "/cookies/")
    tracked = fetch(purging_to, "/cookies/", {"Cookie": "_ga=GA1.2.3.4; _gid=GA1.5"})
    assert tracked.edge_hit and tracked.body == plain.body
    logged_in = fetch(purging_to, "/cookies/", {"Cookie": "_ga=GA1.2.3.4; sessionid=abc"})
    assert not logged_in.edge_hit and "sessionid" in logged_in.body


def test_a_page_with_500_tags_fits_varnish_and_is_still_purged(purging_to):
    first = fetch(purging_to, "/many/")
    assert first.status == 200  # the 500 tags (over 10 KB) would make Varnish answer 503
    assert fetch(purging_to, "/many/").edge_hit
    purge("blog.article:100250")  # one of the 500 articles it lists
    again = fetch(purging_to, "/many/")
    assert not again.edge_hit and again.body.endswith("render 2")


def test_purge_requests_are_refused_from_elsewhere_and_tags_from_browsers_ignored(purging_to):
    fetch(purging_to, "/article/5/")
    refused = fetch(purging_to, "/", {"xkey-purge": "blog.article:5"}, "PURGE", "127.0.0.2")
    assert refused.status == 403
    assert fetch(purging_to, "/article/5/").edge_hit


def test_a_dead_varnish_never_delays_the_purging_request(redis_server):
    """The purge goes to Redis at once; the PURGE to a Varnish that accepts and never
    answers waits in the background worker."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)  # accepts connections, never answers
    dead = f"http://127.0.0.1:{listener.getsockname()[1]}"
    options = {"SERVERS": [dead], "TIMEOUT": 1.0, "RETRIES": 0}
    try:
        with override_settings(
            PAGECACHE={
                "PURGERS": [{"BACKEND": "pagecache.purgers.VarnishXkeyPurger", "OPTIONS": options}]
            }
        ):
            pagecache.purge_tags("blog.article:9")
            # Returned while the worker still waits on the dead server.
            assert not edge.flush(0)
            assert edge.flush(10)  # gives up after its timeout, logged
    finally:
        listener.close()
