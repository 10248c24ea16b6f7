"""Durable purge records on one database engine, in a process of their own.

Run by ``tests/test_durable.py`` once per engine (SQLite, PostgreSQL, MariaDB) with
``PAGECACHE_TEST_DATABASE`` choosing the engine and ``REDIS_URL`` the cache. It creates a
test database, migrates it, runs each case, prints one JSON object of results and drops
the database again.
"""

from __future__ import annotations

import json
import os
import sys

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.settings")


def main() -> int:
    import django

    django.setup()
    from django.conf import settings
    from django.db import connection, transaction
    from django.test.utils import override_settings, setup_databases, teardown_databases

    from pagecache.core.entry import Entry, dumps
    from pagecache.models import PurgeRecord
    from pagecache.purging import deliverer, outbox, purge
    from pagecache.signals import tags_purged
    from pagecache.stores.select import get_store

    url = os.environ["REDIS_URL"]
    caches = {
        "default": {
            "BACKEND": "django_redis.cache.RedisCache",
            "LOCATION": url,
            "OPTIONS": {"SOCKET_CONNECT_TIMEOUT": 0.3, "SOCKET_TIMEOUT": 0.3},
        }
    }
    # A test run in another process may share the server: keep to a prefix of our own.
    prefix = f"pcoutbox{os.getpid()}"
    results: dict[str, object] = {"vendor": connection.vendor}
    announced: list[tuple[str, ...]] = []
    tags_purged.connect(lambda sender, tags, soft, **kw: announced.append(tags), weak=False)
    deliverer.stop()  # this script is the only deliverer here
    deliverer._start = lambda: None  # type: ignore[assignment]
    old_config = setup_databases(verbosity=0, interactive=False)
    try:
        with override_settings(CACHES=caches, PAGECACHE={"KEY_PREFIX": prefix}):
            store = get_store()

            def cached_entry(tag: str) -> str:
                key = f"{prefix}:case:{tag}"
                start = store.clock()
                store.save(key, dumps(Entry(200, "OK", (), b"x", (tag,), start, 60, 0)), 60)
                return key

            # 1. Inside atomic(): recorded in the transaction; a rollback takes it back.
            try:
                with transaction.atomic():
                    purge.purge_tags("rolled-back")
                    results["in_transaction"] = PurgeRecord.objects.count()
                    raise RuntimeError("roll back")
            except RuntimeError:
                pass
            results["after_rollback"] = PurgeRecord.objects.count()

            # 2. Committed, then the process "dies" before its on-commit purge runs.
            key = cached_entry("crashed")
            with transaction.atomic():
                purge.purge_tags("crashed")
                cached_after_first_purge = cached_entry("crashed")  # a render before commit
                connection.run_on_commit.clear()  # the process dies right after COMMIT
            purge.forget_pending()
            results["survived_crash"] = [r.tags for r in outbox.recorded("default")]
            results["stale_before_delivery"] = store.lookup(cached_after_first_purge).state.value
            results["delivered"] = deliverer.deliver_recorded()
            results["after_delivery"] = [
                store.lookup(key).state.value,
                store.lookup(cached_after_first_purge).state.value,
            ]
            results["left"] = PurgeRecord.objects.count()

            # 3. A commit that delivers: the record is deleted and announced once.
            announced.clear()
            with transaction.atomic():
                purge.purge_tags("committed")
            results["committed_left"] = PurgeRecord.objects.count()
            results["announced"] = [list(t) for t in announced]

        # 4. The cache unreachable: the purge is recorded outside any transaction.
        dead = {"default": {**caches["default"], "LOCATION": "redis://127.0.0.1:1/0"}}
        with override_settings(CACHES=dead, PAGECACHE={"KEY_PREFIX": prefix}):
            purge.purge_tags("unreachable")
            results["recorded_when_unreachable"] = [r.tags for r in outbox.recorded("default")]
            purge.forget_pending()
    finally:
        deliverer.stop()
        teardown_databases(old_config, verbosity=0)
        get_store_client_cleanup(prefix)
    print(json.dumps(results))
    del settings
    return 0


def get_store_client_cleanup(prefix: str) -> None:
    import redis

    client = redis.Redis.from_url(os.environ["REDIS_URL"])
    keys = list(client.scan_iter(match=f"{prefix}:*"))
    if keys:
        client.unlink(*keys)
    client.close()


if __name__ == "__main__":
    sys.exit(main())
