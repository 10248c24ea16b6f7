from __future__ import annotations

from django.apps import AppConfig


class SoakSiteConfig(AppConfig):
    name = "tests.soak.site"
    label = "soaksite"
    default_auto_field = "django.db.models.BigAutoField"
