"""The soak site's views. Every page view reads its rows *first*, then renders templates
whose ``{% cachetag %}`` blocks show ``(pk, version)`` pairs as
``<span data-pk=".." data-v=".." data-r="..">`` (``data-r``: when the rendering request read
its rows, on the host's monotonic clock, for the soak's violation reports)."""

from __future__ import annotations

import os
import time

from django.conf import settings
from django.contrib.auth import authenticate, login
from django.db import transaction
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, render
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

import pagecache
from pagecache.purging.purge import pending_tags

from .models import Article


def _page_context(page: str, read_at: float) -> dict[str, object]:
    return {"page": page, "pid": os.getpid(), "read_at": f"{read_at:.6f}"}


def home(request: HttpRequest) -> HttpResponse:
    """All articles in nested fragments, after some other work between read and render."""
    read_at = time.monotonic()
    articles = list(Article.objects.order_by("pk"))
    if settings.VIEW_DELAY:
        time.sleep(settings.VIEW_DELAY)  # the view's other work (another query, an API call)
    return render(
        request, "soak/home.html", {"articles": articles, **_page_context("home", read_at)}
    )


def fast(request: HttpRequest) -> HttpResponse:
    """The home page without the delay between reading and rendering."""
    read_at = time.monotonic()
    articles = list(Article.objects.order_by("pk"))
    return render(
        request, "soak/home.html", {"articles": articles, **_page_context("fast", read_at)}
    )


def jinja(request: HttpRequest) -> HttpResponse:
    """The home page rendered by Jinja2 (the extension's ``{% cachetag %}``)."""
    read_at = time.monotonic()
    articles = list(Article.objects.order_by("pk"))
    if settings.VIEW_DELAY:
        time.sleep(settings.VIEW_DELAY)
    return render(
        request,
        "soak/home.jinja",
        {"articles": articles, **_page_context("jinja", read_at)},
        using="jinja2",
    )


def article(request: HttpRequest, pk: int) -> HttpResponse:
    read_at = time.monotonic()
    row = get_object_or_404(Article, pk=pk)
    return render(
        request, "soak/article.html", {"article": row, **_page_context("article", read_at)}
    )


@csrf_exempt
@require_POST
def write(request: HttpRequest, pk: int) -> JsonResponse:
    """Bump an article's version; the MODELS hook purges its tags (now and at commit)."""
    with transaction.atomic():
        row = Article.objects.select_for_update().get(pk=pk)
        row.version += 1
        row.save()
    delivered = not pending_tags()
    return JsonResponse(
        {"pk": pk, "version": row.version, "pid": os.getpid(), "delivered": delivered}
    )


@csrf_exempt
@require_POST
def login_view(request: HttpRequest) -> HttpResponse:
    user = authenticate(
        request, username=request.POST.get("username"), password=request.POST.get("password")
    )
    if user is None:
        return HttpResponse("bad credentials", status=403)
    login(request, user)
    return HttpResponse("ok")


@pagecache.exempt
def ready(request: HttpRequest) -> JsonResponse:
    """Readiness probe: this worker's pid and where it imported pagecache from."""
    Article.objects.exists()
    return JsonResponse({"pid": os.getpid(), "pagecache": os.path.dirname(pagecache.__file__)})
