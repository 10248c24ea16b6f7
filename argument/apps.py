"""The demo's app without pagecache: its models, views and templates, none of its purges.

:class:`demo_site.apps.DemoSiteConfig` registers pagecache purge hooks; the peer
configurations install this config instead, so only their own cache's hooks run.
"""

from __future__ import annotations

from django.apps import AppConfig


class PlainDemoConfig(AppConfig):
    name = "demo_site"
    label = "demo_site"
    verbose_name = "The Daily Cache (no pagecache hooks)"
    default_auto_field = "django.db.models.BigAutoField"
