"""The rows the synthetic page is rendered from."""

from __future__ import annotations

from django.db import models


class Row(models.Model):
    position = models.IntegerField(db_index=True)
    title = models.CharField(max_length=200)
    author = models.CharField(max_length=100)
    published = models.DateTimeField()
    body = models.TextField()
    score = models.IntegerField()

    class Meta:
        ordering = ["position"]

    def __str__(self) -> str:
        return self.title
