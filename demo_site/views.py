"""Views of the demo news site.

Anonymous pages are cached whole by ``PageCacheMiddleware``; their parts are
``{% cachetag %}`` fragments whose tags bubble up to the page. A view adds the tags a
page needs beyond its fragments' ones: the home page lists the latest articles, so any
article saved purges it (``demo_site.article``); a section or topic page carries its own
tag (``demo_site.category:3``), which saving one of its articles purges (see
:mod:`demo_site.apps`), so other sections stay cached.
"""

from __future__ import annotations

import os
from typing import Any

from django.core.paginator import Page, Paginator
from django.db.models import Model, QuerySet
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods, require_POST

import pagecache

from . import purge_log
from .forms import CommentForm
from .models import Article, Category, Tag, comments_tag

PER_PAGE = 20


def redis_in_use() -> str:
    """Describe the Redis the demo talks to, as ``demo_site.run`` announced it."""
    return os.environ.get("PAGECACHE_DEMO_REDIS") or f"REDIS_URL={os.environ.get('REDIS_URL', '')}"


def site(request: HttpRequest) -> dict[str, Any]:
    """Context processor: what the base template shows on every page (lazy: a cached
    navigation fragment never runs its query)."""
    return {"categories": Category.objects.all(), "redis": redis_in_use()}


def _get_or_404(request: HttpRequest, queryset: QuerySet[Any], **lookup: Any) -> Any:
    try:
        return queryset.get(**lookup)
    except queryset.model.DoesNotExist:
        # A 404 is cached too: creating the object (a model tag purge) must end it.
        pagecache.add_tags(request, queryset.model)
        raise Http404(f"No {queryset.model._meta.verbose_name} {lookup}") from None


def _page_of(request: HttpRequest, articles: QuerySet[Article]) -> Page:
    listed = articles.select_related("author", "category")
    return Paginator(listed, PER_PAGE).get_page(request.GET.get("page"))


def home(request: HttpRequest) -> HttpResponse:
    # Any article added, changed or deleted changes "the latest 20": purge with the model.
    pagecache.add_tags(request, Article)
    latest = Article.objects.select_related("author", "category")[:PER_PAGE]
    return render(
        request,
        "demo_site/home.html",
        {
            "articles": latest,
            "popular": Article.objects.order_by("-views", "-pk")[:6],  # lazy: read in a fragment
            "topics": Tag.objects.all(),
        },
    )


def article(request: HttpRequest, slug: str) -> HttpResponse:
    story = _get_or_404(request, Article.objects.select_related("author", "category"), slug=slug)
    return _article_page(request, story, CommentForm())


@require_POST
def post_comment(request: HttpRequest, slug: str) -> HttpResponse:
    story = _get_or_404(request, Article.objects.select_related("author", "category"), slug=slug)
    form = CommentForm(request.POST)
    if not form.is_valid():
        return _article_page(request, story, form, status=400)
    comment = form.save(commit=False)
    comment.article = story
    # Its post_save purges demo_site.article-comments:<pk> (registered in apps.py): the
    # comments fragment and every page embedding it, so the redirect shows the comment.
    comment.save()
    return redirect(f"{story.get_absolute_url()}#comment-{comment.pk}")


def _article_page(
    request: HttpRequest, story: Article, form: CommentForm, status: int = 200
) -> HttpResponse:
    topics = list(story.tags.all())
    story_tags: list[Model | str] = [*story.cache_tags(), *topics]
    return render(
        request,
        "demo_site/article.html",
        {
            "article": story,
            "topics": topics,
            "story_tags": story_tags,
            "comments": story.comments.all(),  # lazy: read in the comments fragment
            "comments_tag": comments_tag(story.pk),
            "section_latest": Article.objects.filter(category=story.category_id)[:5],
            "active_category": story.category,
            "form": form,
        },
        status=status,
    )


def category(request: HttpRequest, slug: str) -> HttpResponse:
    section = _get_or_404(request, Category.objects.all(), slug=slug)
    pagecache.add_tags(request, section)
    return render(
        request,
        "demo_site/list.html",
        {
            "heading": section.name,
            "kind": "Section",
            "page_tag": pagecache.model_tag(section),
            "page_obj": _page_of(request, section.articles.all()),
            "active_category": section,
        },
    )


def tag(request: HttpRequest, slug: str) -> HttpResponse:
    topic = _get_or_404(request, Tag.objects.all(), slug=slug)
    pagecache.add_tags(request, topic)
    return render(
        request,
        "demo_site/list.html",
        {
            "heading": topic.name,
            "kind": "Topic",
            "page_tag": pagecache.model_tag(topic),
            "page_obj": _page_of(request, topic.articles.all()),
        },
    )


def _counters() -> list[object]:
    """The STATS counters of every process (what `manage.py pagecache stats` prints)."""
    from pagecache import stats
    from pagecache.core.stats import table
    from pagecache.exceptions import StoreUnavailable
    from pagecache.stores.select import get_store

    try:
        stats.flush()
        return [row for row in table(get_store().read_counts()) if row.scope != "all"]
    except StoreUnavailable:
        return []


@pagecache.exempt  # always live: it lists purges as they happen
@require_http_methods(["GET", "HEAD", "POST"])
def cache_status(request: HttpRequest) -> HttpResponse:
    error = ""
    entered = ""
    if request.method == "POST":
        entered = request.POST.get("tags", "")
        soft = request.POST.get("soft") == "on"
        try:
            if not entered.split():
                raise pagecache.InvalidTag("Enter at least one tag.")
            pagecache.purge_tags(*entered.split(), soft=soft)
        except pagecache.InvalidTag as exc:
            error = str(exc)
        else:
            return redirect(reverse("cache"), permanent=False)
    return render(
        request,
        "demo_site/cache.html",
        {
            "purges": purge_log.recent(),
            "error": error,
            "entered": entered,
            "model_tags": [pagecache.model_tag(m) for m in (Article, Category, Tag)],
            "counters": _counters(),
        },
        status=400 if error else 200,
    )
