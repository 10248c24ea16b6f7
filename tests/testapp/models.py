"""Models the purge-hook and fragment tests tag and change."""

from __future__ import annotations

from django.db import models


class Category(models.Model):
    name = models.CharField(max_length=100)

    def __str__(self) -> str:
        return self.name


class Article(models.Model):
    title = models.CharField(max_length=200)
    body = models.TextField(blank=True)
    updated = models.DateTimeField(auto_now=True)
    categories = models.ManyToManyField(Category, blank=True, related_name="articles")

    def __str__(self) -> str:
        return self.title
