"""Stampede protection, serve-stale and soft purge (SPEC §3, §6, §10), with threads and
real gunicorn workers. Overlaps are built with barriers and events, never sleeps."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
import urllib.request
from collections import Counter

import pytest
from django.http import HttpResponse
from django.template import engines
from django.test import Client, override_settings
from django.urls import path

import pagecache
from pagecache import driver
from pagecache.core import keys
from tests.pages_urls import MIDDLEWARE
from tests.redis_harness import free_port

pytestmark = pytest.mark.django_db

RENDERS: Counter[str] = Counter()
CONTROL: dict[str, object] = {}
_lock = threading.Lock()


def _count(name):
    with _lock:
        RENDERS[name] += 1
        return RENDERS[name]


def slow(request):
    """Takes 0.3 s, like a real render that hits the database."""
    n = _count("slow")
    pagecache.add_tags(request, "slow")
    time.sleep(0.3)  # the workload being protected, not a synchronisation device
    return HttpResponse(f"slow render {n}")


def gated(request):
    """Renders, then waits on CONTROL['proceed'] (set by the test) before returning."""
    n = _count("gated")
    pagecache.add_tags(request, "gated")
    started = CONTROL.get("started")
    if isinstance(started, threading.Event):
        started.set()
        CONTROL["proceed"].wait(10)  # type: ignore[attr-defined]
    if CONTROL.get("fail_first") and n == 1:
        raise RuntimeError("the lock holder crashed")
    return HttpResponse(f"gated render {n}")


def uncacheable(request):
    """Never storable (sets a cookie). Renders after the first meet at a barrier."""
    n = _count("uncacheable")
    barrier = CONTROL.get("barrier")
    if n > 1 and isinstance(barrier, threading.Barrier):
        barrier.wait(timeout=5)  # breaks if the renders were queued one behind another
    response = HttpResponse(f"uncacheable {n}")
    response.set_cookie("visitor", str(n))
    return response


urlpatterns = [path("slow/", slow), path("gated/", gated), path("uncacheable/", uncacheable)]


@pytest.fixture(autouse=True)
def site():
    RENDERS.clear()
    CONTROL.clear()
    with override_settings(ROOT_URLCONF=__name__, MIDDLEWARE=MIDDLEWARE):
        yield


@pytest.fixture
def waiters(monkeypatch):
    """Counts requests waiting for another request's render; `.reached(n)` is an event."""

    class Waiters:
        def __init__(self):
            self.threads = set()
            self.changed = threading.Condition()

        def reached(self, n, timeout=10):
            with self.changed:
                return self.changed.wait_for(lambda: len(self.threads) >= n, timeout)

    state = Waiters()
    original = driver._pause

    def pause(seconds):
        with state.changed:
            state.threads.add(threading.get_ident())
            state.changed.notify_all()
        original(seconds)

    monkeypatch.setattr(driver, "_pause", pause)
    return state


def run_concurrently(n, url, **headers):
    """n clients start together (barrier); returns their responses."""
    barrier = threading.Barrier(n)
    responses = [None] * n

    def client(i):
        barrier.wait()
        responses[i] = Client(raise_request_exception=False).get(url, **headers)

    threads = [threading.Thread(target=client, args=(i,)) for i in range(n)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    return responses


def test_cold_page_under_16_threads_renders_once():
    responses = run_concurrently(16, "/slow/")
    assert RENDERS["slow"] == 1
    assert {r.status_code for r in responses} == {200}
    assert {r.content for r in responses} == {b"slow render 1"}
    assert sorted(r["X-Cache"] for r in responses) == ["HIT"] * 15 + ["MISS"]


def test_expired_page_renders_once_and_serves_15_stale_at_once(redis_server):
    client = Client()
    client.get("/gated/")
    key = keys.page_key("pc", "http", "testserver", "/gated/", "")
    redis_server.client().pexpire(key, 20_000)  # TTL over, 20 s of the stale window left
    started, proceed = threading.Event(), threading.Event()
    CONTROL.update(started=started, proceed=proceed)
    render = threading.Thread(target=lambda: CONTROL.update(fresh=Client().get("/gated/")))
    render.start()
    assert started.wait(10)  # one request took the lock and is re-rendering...
    stale = run_concurrently(15, "/gated/")  # ...while 15 others arrive
    # The re-render is still blocked: every one of the 15 was answered without waiting.
    assert not proceed.is_set()
    assert [r["X-Cache"] for r in stale] == ["STALE"] * 15
    assert {r.content for r in stale} == {b"gated render 1"}
    proceed.set()
    render.join(10)
    assert CONTROL["fresh"]["X-Cache"] == "MISS"
    assert RENDERS["gated"] == 2
    after = client.get("/gated/")
    assert (after["X-Cache"], after.content) == ("HIT", b"gated render 2")


def test_lock_holder_failing_releases_the_waiters(waiters):
    started, proceed = threading.Event(), threading.Event()
    CONTROL.update(started=started, proceed=proceed, fail_first=True)
    first = threading.Thread(
        target=lambda: CONTROL.update(first=Client(raise_request_exception=False).get("/gated/"))
    )
    first.start()
    assert started.wait(10)
    CONTROL.pop("started")  # later renders don't block
    results = []
    others = [
        # raise_request_exception=False: the test client re-raises any request's exception
        # (a global signal) in every client running at that moment.
        threading.Thread(
            target=lambda: results.append(Client(raise_request_exception=False).get("/gated/"))
        )
        for _ in range(5)
    ]
    begun = time.monotonic()
    for thread in others:
        thread.start()
    assert waiters.reached(5)  # all five are waiting for the lock holder
    proceed.set()  # the holder now raises
    first.join(10)
    for thread in others:
        thread.join(10)
    assert CONTROL["first"].status_code == 500
    assert [r.status_code for r in results] == [200] * 5
    assert time.monotonic() - begun < 5  # released at once, not after LOCK_TIMEOUT (10 s)
    # Someone rendered after the failure, and its result serves everyone from now on.
    assert Client().get("/gated/")["X-Cache"] == "HIT"


def test_failing_fragment_render_releases_its_waiters(waiters):
    started, proceed = threading.Event(), threading.Event()
    calls = Counter()

    class Body:
        def __str__(self):
            calls["n"] += 1
            if calls["n"] == 1:
                started.set()
                proceed.wait(10)
                raise RuntimeError("block failed")
            return "block ok"

    template = engines["django"].from_string(
        '{% load cachetag %}{% cachetag "fails" %}{{ body }}{% endcachetag %}'
    )
    errors, results = [], []

    def holder():
        try:
            template.render({"body": Body()})
        except RuntimeError as exc:
            errors.append(exc)

    first = threading.Thread(target=holder)
    first.start()
    assert started.wait(10)
    others = [
        threading.Thread(target=lambda: results.append(template.render({"body": Body()})))
        for _ in range(3)
    ]
    for thread in others:
        thread.start()
    assert waiters.reached(3)
    proceed.set()
    first.join(10)
    for thread in others:
        thread.join(10)
    assert len(errors) == 1
    assert results == ["block ok"] * 3


def test_uncacheable_page_does_not_queue_requests_behind_its_lock():
    CONTROL["barrier"] = threading.Barrier(15)
    responses = run_concurrently(16, "/uncacheable/")
    # The 15 renders after the first met at one barrier: none waited for another's render.
    assert not CONTROL["barrier"].broken
    assert RENDERS["uncacheable"] == 16
    assert {r.status_code for r in responses} == {200}
    assert {r["X-Cache"] for r in responses} == {"MISS"}


def test_soft_purge_serves_stale_while_one_request_rerenders():
    client = Client()
    client.get("/gated/")
    pagecache.purge_tags("gated", soft=True)
    started, proceed = threading.Event(), threading.Event()
    CONTROL.update(started=started, proceed=proceed)
    render = threading.Thread(target=lambda: CONTROL.update(fresh=Client().get("/gated/")))
    render.start()
    assert started.wait(10)
    during = client.get("/gated/")
    assert (during["X-Cache"], during.content) == ("STALE", b"gated render 1")
    proceed.set()
    render.join(10)
    after = client.get("/gated/")
    assert (after["X-Cache"], after.content) == ("HIT", b"gated render 2")


def test_hard_purge_is_never_served_even_while_rerendering(waiters):
    client = Client()
    client.get("/gated/")
    pagecache.purge_tags("gated")
    started, proceed = threading.Event(), threading.Event()
    CONTROL.update(started=started, proceed=proceed)
    render = threading.Thread(target=lambda: CONTROL.update(fresh=Client().get("/gated/")))
    render.start()
    assert started.wait(10)
    results = []
    waiter = threading.Thread(target=lambda: results.append(Client().get("/gated/")))
    waiter.start()
    assert waiters.reached(1)  # it waits for the render instead of taking the purged copy
    assert results == []
    proceed.set()
    render.join(10)
    waiter.join(10)
    assert results[0].content == b"gated render 2"
    assert results[0]["X-Cache"] == "HIT"


@override_settings(PAGECACHE={"STALE_TTL": 0})
def test_soft_purge_without_stale_window_is_a_miss():
    client = Client()
    client.get("/gated/")
    pagecache.purge_tags("gated", soft=True)
    assert client.get("/gated/").content == b"gated render 2"


def test_redis_down_means_no_lock_and_the_request_renders(private_cache):
    server = private_cache()
    server.stop()
    responses = run_concurrently(4, "/slow/")
    assert RENDERS["slow"] == 4
    assert {r.status_code for r in responses} == {200}


@pytest.mark.slow
@pytest.mark.parametrize(
    "workers",
    [
        ["--workers", "3", "--worker-class", "sync"],
        # Threads of one process share its store, caches and codecs.
        ["--workers", "2", "--worker-class", "gthread", "--threads", "8"],
    ],
    ids=["3-sync-workers", "2-workers-8-threads"],
)
def test_gunicorn_workers_render_a_cold_page_once(redis_server, workers):
    port = free_port()
    env = dict(os.environ, REDIS_URL=redis_server.url, DJANGO_SETTINGS_MODULE="tests.stampede_site")
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gunicorn",
            *workers,
            "--bind",
            f"127.0.0.1:{port}",
            "--log-level",
            "warning",
            "tests.stampede_site:wsgi()",
        ],
        env=env,
        cwd=os.path.dirname(os.path.dirname(__file__)),
    )
    try:
        wait_for_http(f"http://127.0.0.1:{port}/health-probe", server)
        redis_server.client().delete("stampede:renders")
        barrier = threading.Barrier(16)
        bodies = []

        def fetch():
            barrier.wait()
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=20) as response:
                bodies.append((response.status, response.read()))

        threads = [threading.Thread(target=fetch) for _ in range(16)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(30)
        assert len(bodies) == 16
        assert {status for status, _ in bodies} == {200}
        assert len({body for _, body in bodies}) == 1
        assert int(redis_server.client().get("stampede:renders")) == 1
    finally:
        server.terminate()
        server.wait(10)


def wait_for_http(url, process, timeout=20):
    """Poll until the server answers (any status), failing fast if it exits."""
    import urllib.error

    deadline = time.monotonic() + timeout
    while True:
        assert process.poll() is None, "gunicorn exited"
        try:
            urllib.request.urlopen(url, timeout=1)
            return
        except urllib.error.HTTPError:
            return
        except OSError:
            assert time.monotonic() < deadline, "gunicorn did not start"
            time.sleep(0.05)
