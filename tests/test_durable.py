"""SPEC §6.5 and the lock after a fault: purges survive the process that made them, and a
failed store never leaves its render lock behind.

"A process dies" is played by forgetting the in-memory pending purges (all that dies with
a process); the durable record in the database is then the only trace, and the background
deliverer of this process — another process, as far as the record is concerned — has to
deliver it. ``tests/outbox_check.py`` runs the record itself on SQLite, PostgreSQL and
MariaDB in processes of their own.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.core.management import call_command
from django.db import connection, transaction
from django.test import Client, override_settings
from django.test.utils import CaptureQueriesContext
from redis.backoff import NoBackoff
from redis.retry import Retry

import pagecache
from pagecache import outage
from pagecache.core import keys
from pagecache.models import PurgeRecord
from pagecache.purging import deliverer, purge
from pagecache.signals import tags_purged
from tests.conftest import redis_caches
from tests.freshness_site import GATE, MIDDLEWARE
from tests.test_concurrency import waiters  # noqa: F401  (a fixture)
from tests.test_freshness import HOOKED, titles
from tests.testapp.models import Article

pytestmark = pytest.mark.django_db(transaction=True)

ROOT = Path(__file__).resolve().parent.parent


class Announced:
    """Every ``tags_purged``, and an event for a tag's first announcement."""

    def __init__(self) -> None:
        self.calls: list[tuple[tuple[str, ...], bool]] = []
        self.changed = threading.Condition()

    def __call__(self, sender: object, tags: tuple[str, ...], soft: bool, **kw: object) -> None:
        with self.changed:
            self.calls.append((tags, soft))
            self.changed.notify_all()

    def wait_for(self, tag: str, timeout: float) -> bool:
        with self.changed:
            return self.changed.wait_for(
                lambda: any(tag in tags for tags, _ in self.calls), timeout
            )


@pytest.fixture
def announced() -> Iterator[Announced]:
    receiver = Announced()
    tags_purged.connect(receiver)
    yield receiver
    tags_purged.disconnect(receiver)


def test_tags_purged_is_sent_once_per_purge_inside_a_transaction(rows_site, announced):
    article = Article.objects.create(title="x")
    announced.calls.clear()
    with transaction.atomic():
        article.title = "y"
        article.save()
        assert announced.calls == []  # nothing is announced before the data is committed
    tag = f"testapp.article:{article.pk}"
    assert [tags for tags, _ in announced.calls] == [("testapp.article", tag)]
    assert PurgeRecord.objects.count() == 0  # delivered at commit: its record is gone


def test_a_rolled_back_transaction_leaves_no_record_and_no_announcement(rows_site, announced):
    with pytest.raises(ZeroDivisionError), transaction.atomic():
        pagecache.purge_tags("never")
        assert PurgeRecord.objects.count() == 1  # written in the transaction
        1 / 0  # noqa: B018
    assert PurgeRecord.objects.count() == 0
    assert announced.calls == []


def test_a_process_dying_between_commit_and_purge_loses_nothing(rows_site, announced):
    """The writer commits and dies before its on-commit purge; meanwhile a reader cached
    the old rows after the first purge. The record, committed with the data, is delivered
    by another process's deliverer and the reader's page is purged."""
    article = Article.objects.create(title="old")
    client = Client()
    assert titles(client.get("/articles/").content.decode()) == {"old"}
    announced.calls.clear()
    with transaction.atomic():
        article.title = "new"
        article.save()  # purges now (page gone) and records the purge in this transaction
        reader = threading.Thread(target=lambda: client.get("/articles/"))
        reader.start()  # renders from the committed (old) rows and stores: fresh until...
        reader.join(10)
        connection.run_on_commit.clear()  # ...the writer dies right after COMMIT
    purge.forget_pending()
    assert titles(client.get("/articles/").content.decode()) == {"old"}  # cached, stale
    assert PurgeRecord.objects.count() == 1
    assert announced.wait_for(f"testapp.article:{article.pk}", timeout=5)
    assert titles(client.get("/articles/").content.decode()) == {"new"}
    assert PurgeRecord.objects.count() == 0
    assert len(announced.calls) == 1


@pytest.fixture
def paused_redis(private_cache):
    server = private_cache()
    with override_settings(
        CACHES=redis_caches(server.url, timeout=0.3),
        ROOT_URLCONF="tests.freshness_site",
        MIDDLEWARE=MIDDLEWARE,
        PAGECACHE=HOOKED,
    ):
        yield server


def test_a_purge_that_cannot_reach_redis_is_delivered_within_a_second_of_its_return(
    paused_redis, announced, caplog
):
    """Redis keeps its data but does not answer (a pause, a partition); the purging process
    dies. Once Redis answers, no process serves the purged page for more than a second."""
    article = Article.objects.create(title="old")
    client = Client()
    client.get("/articles/")
    assert client.get("/articles/")["X-Cache"] == "HIT"
    announced.calls.clear()
    Article.objects.filter(pk=article.pk).update(title="new")
    paused_redis.pause(2.0)
    pagecache.purge_tags(article)  # retried, then logged, kept and recorded
    assert "not delivered" in caplog.text
    assert [r.tags for r in PurgeRecord.objects.all()] == [f"testapp.article:{article.pk}"]
    purge.forget_pending()  # the process that purged dies
    paused_redis.client().ping()  # blocks until Redis answers again
    back = time.monotonic()
    assert announced.wait_for(f"testapp.article:{article.pk}", timeout=5)
    assert time.monotonic() - back <= 1.0
    outage.reset()  # a process whose breaker never opened
    assert titles(client.get("/articles/").content.decode()) == {"new"}


def test_a_hit_makes_no_database_query(rows_site):
    Article.objects.create(title="x")
    client = Client()
    client.get("/articles/")
    with CaptureQueriesContext(connection) as queries:
        response = client.get("/articles/")
    assert response["X-Cache"] == "HIT"
    assert queries.captured_queries == []


def test_the_deliver_command_delivers_recorded_purges(rows_site, announced):
    client = Client()
    tag = f"testapp.article:{Article.objects.create(title='x').pk}"
    client.get("/articles/")
    announced.calls.clear()
    deliverer.stop()  # the command, not the background thread, delivers here
    try:
        PurgeRecord.objects.create(tags=f"{tag} other", soft=False)
        out = _call("deliver")
        assert out == "Delivered 1 recorded purge(s).\n"
        assert [tags for tags, _ in announced.calls] == [(tag, "other")]
        assert _call("deliver") == "No recorded purges.\n"
    finally:
        deliverer.ensure_started()
    assert client.get("/articles/")["X-Cache"] == "MISS"


def _call(*args: str) -> str:
    from io import StringIO

    out = StringIO()
    call_command("pagecache", *args, stdout=out)
    return out.getvalue()


# -- the lock after a fault ----------------------------------------------------------------


def assert_released_within_the_socket_timeout(redis, lock: str, waiters) -> None:  # noqa: F811
    """Once Redis answers again, ``lock`` is gone within the socket timeout (0.3 s here),
    and the next request for the page renders without waiting for anyone."""
    deadline = time.monotonic() + 0.3
    while redis.exists(lock) and time.monotonic() < deadline:
        time.sleep(0.01)
    assert not redis.exists(lock)
    outage.reset()  # the next request stands for one in a process whose breaker never opened
    assert Client().get("/slow/")["X-Cache"] == "MISS"
    assert not waiters.threads  # nobody waited for a render


def test_a_failed_store_releases_its_lock_once_redis_answers(paused_redis, waiters):  # noqa: F811
    """The request holding the page's lock cannot store (Redis paused past the socket
    timeout). Once Redis answers again, the lock is gone within the socket timeout, so the
    next request renders without waiting for it."""
    GATE.arm()
    holder = threading.Thread(target=lambda: Client().get("/slow/"))
    holder.start()
    assert GATE.read.wait(10)  # rendering, holding the lock
    lock = keys.lock_key(keys.page_key("pc", "http", "testserver", "/slow/", ""))
    redis = paused_redis.client()
    assert redis.exists(lock)
    paused_redis.pause(1.0)
    GATE.proceed.set()
    holder.join(10)  # its store timed out
    redis.ping()  # Redis answers again
    assert_released_within_the_socket_timeout(redis, lock, waiters)


# -- the record on each database engine ----------------------------------------------------


def _mariadb_is_up() -> bool:
    try:
        with socket.create_connection(("127.0.0.1", 3306), timeout=0.3):
            return True
    except OSError:
        return False


@pytest.mark.slow
@pytest.mark.parametrize("engine", ["sqlite", "postgres", "mariadb"])
def test_durable_records_on_each_database_engine(engine, redis_server):
    if engine == "mariadb" and not _mariadb_is_up():
        if os.environ.get("CI", "").lower() in ("true", "1", "yes"):
            pytest.fail("CI=true: MariaDB is not reachable on 127.0.0.1:3306")
        pytest.skip("needs MariaDB on 127.0.0.1:3306")
    if engine == "postgres" and connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL")
    env = {**os.environ, "PAGECACHE_TEST_DATABASE": engine, "REDIS_URL": redis_server.url}
    if engine == "sqlite":
        env.pop("PAGECACHE_TEST_DB_NAME", None)  # in memory: nothing to name
    else:  # beside, not over, this suite's own test database
        env["PAGECACHE_TEST_DB_NAME"] = f"test_outbox_{os.getpid()}"
    done = subprocess.run(
        [sys.executable, "-m", "tests.outbox_check"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result == {
        "vendor": {"sqlite": "sqlite", "postgres": "postgresql", "mariadb": "mysql"}[engine],
        "in_transaction": 1,
        "after_rollback": 0,
        "survived_crash": [["crashed"]],
        "stale_before_delivery": "fresh",  # what the record exists to fix
        "delivered": 1,
        "after_delivery": ["purged", "purged"],
        "left": 0,
        "committed_left": 0,
        "announced": [["committed"]],
        "recorded_when_unreachable": [["unreachable"]],
    }


# -- the read path never waits, queries or announces for pending purges --------------------


def test_a_read_never_waits_for_another_threads_flush(rows_site):
    purge._pending.append(purge.Purge(("queued",), False))
    assert purge._flush_lock.acquire()  # another thread is flushing (Redis slow, say)
    try:
        outcome: list[str] = []
        reader = threading.Thread(target=lambda: outcome.append(Client().get("/slow/")["X-Cache"]))
        reader.start()
        reader.join(5)
        assert outcome == ["MISS"]  # rendered uncached at once, not queued behind the flush
    finally:
        purge._flush_lock.release()
        purge.forget_pending()


def test_a_read_sends_pending_purges_but_leaves_records_and_receivers_to_the_deliverer(
    rows_site, announced, monkeypatch
):
    # Stopped before the record exists: a running deliverer could otherwise find it in its
    # poll and announce it before the request below even starts.
    deliverer.stop()  # only this thread runs until the deliverer is started again below
    with monkeypatch.context() as held:
        held.setattr(deliverer, "_start", lambda: None)
        record = purge.outbox.record("default", ["late"], False)
        assert record is not None
        purge._pending.append(purge.Purge(("late",), False, [record]))
        with CaptureQueriesContext(connection) as queries:
            assert Client().get("/slow/")["X-Cache"] == "MISS"
    assert purge.pending_tags() == {}  # sent before anything was read from the cache
    assert queries.captured_queries == []  # no DELETE inside the request
    assert announced.calls == []  # no receiver in the middle of serving a page
    assert PurgeRecord.objects.count() == 1
    deliverer.wake()
    assert announced.wait_for("late", timeout=5)  # the deliverer settles it
    assert PurgeRecord.objects.count() == 0
    assert announced.calls == [(("late",), False)]


def test_the_deliver_command_says_so_when_the_cache_is_unreachable(rows_site):
    from django.core.management.base import CommandError

    PurgeRecord.objects.create(tags="x", soft=False)
    dead = redis_caches("redis://127.0.0.1:1/0", timeout=0.2)
    with override_settings(CACHES=dead):
        with pytest.raises(CommandError, match="unreachable"):
            _call("deliver")
        assert PurgeRecord.objects.count() == 1


def test_a_lookup_redis_ran_after_it_timed_out_leaves_no_lock_behind(
    private_cache,
    waiters,  # noqa: F811
):
    """A stalled Redis (DEBUG SLEEP) runs a lookup after the client gave up on it, taking
    the render lock in that request's name; the request must release it once Redis wakes."""
    server = private_cache("--enable-debug-command", "yes")
    with override_settings(
        CACHES=redis_caches(server.url, timeout=0.3),
        ROOT_URLCONF="tests.freshness_site",
        MIDDLEWARE=MIDDLEWARE,
    ):
        redis = server.client()
        Client().get("/short/")  # this thread's lookup connection is open and accepted
        sleeper = threading.Thread(
            target=lambda: server.client().execute_command("DEBUG", "SLEEP", 1.5)
        )
        sleeper.start()
        probe = server.client(socket_timeout=0.05, retry=Retry(NoBackoff(), 0))
        deadline = time.monotonic() + 1.0
        while time.monotonic() < deadline:  # until Redis is asleep (a PING goes unanswered)
            try:
                probe.ping()
            except Exception:
                break
        else:
            pytest.fail("Redis never went to sleep")
        assert Client().get("/slow/")["X-Cache"] == "MISS"  # its lookup timed out
        sleeper.join(5)
        redis.ping()  # awake: the lookup ran now, and took the lock
        lock = keys.lock_key(keys.page_key("pc", "http", "testserver", "/slow/", ""))
        assert_released_within_the_socket_timeout(redis, lock, waiters)


def test_a_purge_while_the_cache_is_known_down_does_not_wait_for_it(paused_redis, monkeypatch):
    """After a failure, a write's purge is kept and recorded at once instead of paying the
    socket timeout three times more; the deliverer sends it when Redis answers."""
    attempts: list[tuple[str, ...]] = []
    send = purge._send
    caller = threading.current_thread()

    def counted(batch):
        if threading.current_thread() is caller:  # the caller's attempts, not a stray thread's
            attempts.append(batch[0].tags)
        return send(batch)

    monkeypatch.setattr(purge, "_send", counted)
    deliverer.stop()
    monkeypatch.setattr(deliverer, "_start", lambda: None)
    # The back-off outlasts the test however slow the machine (its default is 1 s).
    monkeypatch.setattr(outage.breaker, "backoff", 60.0)
    # Paused longer than the three attempts take (3 x the 0.3 s socket timeout, and the
    # pauses between): on a loaded machine a 1 s pause could end before the third attempt.
    paused_redis.pause(3.0)
    pagecache.purge_tags("first")  # tried (three times), failed: the breaker opens
    assert attempts == [("first",)] * 3
    pagecache.purge_tags("second")  # not tried: kept and recorded straight away
    assert attempts == [("first",)] * 3
    assert purge.pending_tags() == {"first": False, "second": False}
    assert sorted(r.tags for r in PurgeRecord.objects.all()) == ["first", "second"]
