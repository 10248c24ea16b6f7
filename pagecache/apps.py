"""The ``pagecache`` Django app: registers the system checks and the purge model_hooks."""

from __future__ import annotations

from django.apps import AppConfig


class PageCacheConfig(AppConfig):
    name = "pagecache"
    verbose_name = "Page cache"

    def ready(self) -> None:
        # Imported for their side effects: check registration and signal receivers.
        from . import checks, clock, conf, signals  # noqa: F401
        from .purging import model_hooks

        model_hooks.connect()
        clock.listen_for_requests()
