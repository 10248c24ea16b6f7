"""Models the purge-hook and fragment tests tag and change."""

from __future__ import annotations

from django.db import models

from pagecache.purging.model_hooks import PurgingManager


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


class Reader(models.Model):
    """Linked to articles through an explicit model (Subscription)."""

    name = models.CharField(max_length=100)
    articles = models.ManyToManyField(Article, through="Subscription", related_name="readers")


class Subscription(models.Model):
    reader = models.ForeignKey(Reader, on_delete=models.CASCADE)
    article = models.ForeignKey(Article, on_delete=models.CASCADE)
    since = models.DateField(auto_now_add=True)


class Comment(models.Model):
    """Registered with a callable: a comment purges its article."""

    article = models.ForeignKey(Article, on_delete=models.CASCADE, related_name="comments")
    text = models.TextField()


class Note(models.Model):
    """Has a PurgingManager: its bulk writes purge."""

    text = models.CharField(max_length=100)

    objects = PurgingManager()
