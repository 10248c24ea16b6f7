"""``manage.py pagecache purge|clear|inspect|deliver|stats``: operate the cache from the
command line.

Parsing and printing only; the work is done by ``purge_tags`` and the store.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import unquote, urlsplit

from django.apps import apps
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.test import RequestFactory

from pagecache import dictionary, serve
from pagecache.conf import settings
from pagecache.core import entry as entries
from pagecache.core import request_facts
from pagecache.core.freshness import State
from pagecache.exceptions import InvalidTag, PurgeError, StoreUnavailable
from pagecache.purging.purge import purge_tags
from pagecache.stores.select import get_store

#: "app_label.Model" or "app_label.Model:pk", as typed by people (any case).
MODEL_TAG = re.compile(r"^(?P<app>\w+)\.(?P<model>\w+)(?P<rest>:.+)?$")


def normalize_cli_tag(tag: str) -> str:
    """Accept ``blog.Article:42`` for ``blog.article:42`` when it names an installed model."""
    match = MODEL_TAG.match(tag)
    if match:
        try:
            model = apps.get_model(match["app"], match["model"])
        except LookupError:
            return tag
        return str(model._meta.label_lower) + (match["rest"] or "")
    return tag


class Command(BaseCommand):
    help = "Purge tags, clear pagecache's keys, inspect a cached URL, or show STATS counters."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(
            dest="action", required=True, metavar="{purge,clear,inspect,deliver,stats}"
        )
        stats_parser = sub.add_parser(
            "stats",
            help="Hits, stale hits, misses, bypasses, stores and render time saved, per URL "
            "name and fragment name (PAGECACHE['STATS'] = True), with hit ratios.",
            description="Print the STATS counters of every process, summed, busiest first. "
            "Counts reach Redis with each process's next lookup, or within 5 seconds.",
        )
        stats_parser.add_argument("--json", action="store_true", help="Print JSON.")
        stats_parser.add_argument(
            "--reset", action="store_true", help="Set every counter back to zero."
        )
        purge = sub.add_parser(
            "purge",
            help="Purge every page and fragment carrying any of the tags.",
            description="Purge every page and fragment carrying any of the TAGs. A tag may be "
            "written app_label.Model or app_label.Model:pk (e.g. blog.Article:42).",
        )
        purge.add_argument("tags", nargs="+", metavar="TAG")
        purge.add_argument(
            "--soft", action="store_true", help="Mark stale (served while re-rendering)."
        )
        sub.add_parser(
            "clear",
            help="Remove all of pagecache's keys (SCAN + UNLINK of KEY_PREFIX; never FLUSHDB).",
            description="Remove every key under PAGECACHE['KEY_PREFIX'] from the pagecache "
            "cache. Other keys in the same Redis are never touched. On a cache backend that "
            "cannot list keys, every entry is made stale instead.",
        )
        sub.add_parser(
            "deliver",
            help="Deliver the purges recorded in the database (that could not reach the cache).",
            description="Send every purge recorded in the database to the cache now, and "
            "delete the records. Each process's background deliverer does this within a "
            "second once the cache answers; this is the same, by hand.",
        )
        inspect = sub.add_parser(
            "inspect",
            help="Show what is cached for a URL: key, state, tags, age, TTL left, size.",
            description="Show the cache entry for URL (absolute, e.g. https://example.com/blog/).",
        )
        inspect.add_argument("url", metavar="URL")
        inspect.add_argument(
            "-H",
            "--header",
            action="append",
            default=[],
            metavar="'Name: value'",
            help="A request header, to pick the variant of a page that varies on it.",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            getattr(self, f"handle_{options['action']}")(**options)
        except StoreUnavailable as exc:
            raise CommandError(f"The pagecache cache is unreachable: {exc}") from exc

    def handle_stats(self, *, json: bool, reset: bool, **options: Any) -> None:
        import json as json_module

        from pagecache import stats as process_stats
        from pagecache.core import stats as core_stats

        store = get_store()
        if reset:
            store.reset_counts()
            self.stdout.write("Reset every pagecache counter.")
            return
        process_stats.flush()  # this process's own counts (a shell that served requests)
        rows = core_stats.table(store.read_counts())
        if json:
            self.stdout.write(json_module.dumps(core_stats.as_json(rows), indent=2))
            return
        if not settings.STATS:
            self.stderr.write("PAGECACHE['STATS'] is off: nothing new is being counted.")
        if not rows:
            self.stdout.write("No counters yet.")
            return
        self.stdout.write(core_stats.render_table(rows))

    def handle_deliver(self, **options: Any) -> None:
        from pagecache.purging.deliverer import deliver_recorded

        count = deliver_recorded()
        message = f"Delivered {count} recorded purge(s)." if count else "No recorded purges."
        self.stdout.write(message)

    def handle_purge(self, *, tags: list[str], soft: bool, **options: Any) -> None:
        names = [normalize_cli_tag(tag) for tag in tags]
        try:
            purge_tags(*names, soft=soft, raise_errors=True)
        except InvalidTag as exc:
            raise CommandError(str(exc)) from exc
        except PurgeError as exc:
            raise CommandError(f"Not purged, the cache is unreachable: {exc}") from exc
        kind = "Soft-purged" if soft else "Purged"
        self.stdout.write(f"{kind} {len(names)} tag(s): {' '.join(names)}")

    def handle_clear(self, **options: Any) -> None:
        removed = get_store().clear()
        if removed is None:
            self.stdout.write("Made every pagecache entry stale (this cache cannot list keys).")
        else:
            prefix = settings.KEY_PREFIX
            self.stdout.write(f"Removed {removed} key(s) under {prefix}:")

    def handle_inspect(self, *, url: str, header: list[str], **options: Any) -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise CommandError(f"URL must be absolute, like https://example.com/path/: {url!r}")
        headers = {}
        for line in header:
            name, sep, value = line.partition(":")
            if not sep or not name.strip():
                raise CommandError(f"A header must look like 'Name: value', not {line!r}")
            headers[request_facts.environ_key(name.strip())] = value.strip()
        # The request a browser would send, keyed exactly as the middleware keys it
        # (language, VARY_ON_REQUEST and ignored cookies included).
        path = unquote(parts.path or "/")
        environ: dict[str, Any] = {"HTTP_HOST": parts.netloc.lower(), **headers}
        factory = RequestFactory(**environ)
        request = factory.get(
            path + (f"?{parts.query}" if parts.query else ""), secure=parts.scheme == "https"
        )
        page = request_facts.page_request(request.META, "", path, request)
        if isinstance(page, str):
            raise CommandError(f"This request does not use the page cache: {page}")
        store = get_store()
        found = store.lookup(page.base_key)
        key = page.base_key
        if found.state is State.VARY and found.value is not None:
            names = entries.loads_vary(found.value) or ()
            self.stdout.write(f"vary:     {', '.join(names)} (choose a variant with -H)")
            key = serve.variant_key(page, names)
            found = store.lookup(key)
        self.stdout.write(f"key:      {key}")
        stored = None
        if found.value is not None:
            stored = entries.loads(found.value, dictionary.needed_by(found.value))
        if stored is None:
            state = "not cached" if found.state is State.MISS else found.state.value
            self.stdout.write(f"state:    {state}")
            return
        window_ms = (stored.ttl + stored.stale_ttl) * 1000
        fresh_left = max(0, found.ttl_left_ms - stored.stale_ttl * 1000) // 1000
        self.stdout.write(f"state:    {found.state.value}")
        self.stdout.write(f"status:   {stored.status} {stored.reason}")
        self.stdout.write(f"tags:     {' '.join(stored.all_tags) or '(none)'}")
        self.stdout.write(f"age:      {max(0, window_ms - found.ttl_left_ms) // 1000} s")
        self.stdout.write(
            f"ttl left: {fresh_left} s fresh, then up to {stored.stale_ttl} s stale "
            f"(expires in {max(0, found.ttl_left_ms) // 1000} s)"
        )
        self.stdout.write(
            f"size:     {len(found.value or b'')} bytes stored, {len(stored.body)} bytes of body"
        )
