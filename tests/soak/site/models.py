from __future__ import annotations

from django.db import models


class Article(models.Model):
    """One row readers see as ``(pk, version)``; every change bumps ``version``."""

    title = models.CharField(max_length=200)
    version = models.IntegerField(default=1)

    class Meta:
        app_label = "soaksite"

    def __str__(self) -> str:
        return f"{self.title} v{self.version}"
