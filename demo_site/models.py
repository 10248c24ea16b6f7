"""The news site's data: authors, sections (categories), topics (tags), articles, comments.

What a change of each purges is set in ``settings.PAGECACHE["MODELS"]`` and in
:mod:`demo_site.apps` (``pagecache.register``); templates tag their fragments with
:meth:`Article.cache_tags` and :func:`comments_tag`, so both sides use the same names.
"""

from __future__ import annotations

from django.db import models
from django.urls import reverse
from django.utils import timezone


def comments_tag(article_id: int) -> str:
    """The tag of an article's comments fragment (a comment saved or deleted purges it)."""
    return f"demo_site.article-comments:{article_id}"


class Author(models.Model):
    name = models.CharField(max_length=100)
    slug = models.SlugField(unique=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Category(models.Model):
    name = models.CharField(max_length=60)
    slug = models.SlugField(unique=True)

    class Meta:
        ordering = ["name"]
        verbose_name_plural = "categories"

    def __str__(self) -> str:
        return self.name

    def get_absolute_url(self) -> str:
        return reverse("category", args=[self.slug])


class Tag(models.Model):
    name = models.CharField(max_length=60)
    slug = models.SlugField(unique=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    def get_absolute_url(self) -> str:
        return reverse("tag", args=[self.slug])


class Article(models.Model):
    title = models.CharField(max_length=200)
    slug = models.SlugField(max_length=220, unique=True)
    author = models.ForeignKey(Author, on_delete=models.PROTECT, related_name="articles")
    category = models.ForeignKey(Category, on_delete=models.PROTECT, related_name="articles")
    tags = models.ManyToManyField(Tag, blank=True, related_name="articles")
    body = models.TextField()
    published_at = models.DateTimeField(default=timezone.now, db_index=True)
    views = models.PositiveIntegerField(default=0, help_text="Reads, for the 'Most read' box.")

    class Meta:
        ordering = ["-published_at", "-pk"]

    def __str__(self) -> str:
        return self.title

    def get_absolute_url(self) -> str:
        return reverse("article", args=[self.slug])

    def cache_tags(self) -> list[str]:
        """Tags of a fragment showing this article with its author and section (a teaser).

        Strings built from the foreign keys, so naming them costs no query.
        """
        return [
            f"demo_site.article:{self.pk}",
            f"demo_site.author:{self.author_id}",
            f"demo_site.category:{self.category_id}",
        ]


class Comment(models.Model):
    article = models.ForeignKey(Article, on_delete=models.CASCADE, related_name="comments")
    name = models.CharField(max_length=80)
    text = models.TextField(max_length=2000)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["created_at", "pk"]

    def __str__(self) -> str:
        return f"{self.name} on {self.article_id}"
