"""AppConfig for ``templatetags_ext``; adding the app makes ``{% load cachetag %}`` available."""

from __future__ import annotations

from django.apps import AppConfig


class TemplateTagsExtConfig(AppConfig):
    name = "templatetags_ext"
    label = "templatetags_ext"
    verbose_name = "pagecache template tags"
