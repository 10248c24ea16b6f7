"""The admin: edit articles here and watch their pages change at once (and nothing else)."""

from __future__ import annotations

from django.contrib import admin

from pagecache.admin import PurgeCacheMixin

from .models import Article, Author, Category, Comment, Tag

admin.site.site_header = "The Daily Cache admin"
admin.site.site_title = "The Daily Cache admin"


@admin.register(Article)
class ArticleAdmin(PurgeCacheMixin, admin.ModelAdmin):
    list_display = ["title", "category", "author", "published_at", "views"]
    list_filter = ["category"]
    search_fields = ["title", "slug"]
    date_hierarchy = "published_at"
    prepopulated_fields = {"slug": ["title"]}
    filter_horizontal = ["tags"]
    list_select_related = ["category", "author"]


@admin.register(Comment)
class CommentAdmin(PurgeCacheMixin, admin.ModelAdmin):
    list_display = ["name", "article", "created_at"]
    search_fields = ["name", "text"]
    raw_id_fields = ["article"]
    list_select_related = ["article"]


@admin.register(Author, Category, Tag)
class NamedAdmin(PurgeCacheMixin, admin.ModelAdmin):
    list_display = ["name", "slug"]
    search_fields = ["name"]
    prepopulated_fields = {"slug": ["name"]}
