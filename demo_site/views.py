"""Views of the demo site. The home page shows when it was rendered, so a cache hit is visible."""

from __future__ import annotations

import os

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone


def redis_in_use() -> str:
    """Describe the Redis the demo talks to, as ``demo_site.run`` announced it."""
    return os.environ.get("PAGECACHE_DEMO_REDIS") or f"REDIS_URL={os.environ.get('REDIS_URL', '')}"


def home(request: HttpRequest) -> HttpResponse:
    return render(
        request,
        "demo_site/home.html",
        {"rendered_at": timezone.now(), "redis": redis_in_use()},
    )
