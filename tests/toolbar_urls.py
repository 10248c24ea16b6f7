"""The page-cache test site with django-debug-toolbar's URLs (tests/test_debug_toolbar.py)."""

from __future__ import annotations

from debug_toolbar.toolbar import debug_toolbar_urls
from django.http import HttpResponse
from django.urls import path

from tests.pages_urls import counted


def html_page(request):
    n = counted("html")
    return HttpResponse(f"<html><body><p>html render {n}</p></body></html>")


urlpatterns = [path("html/", html_page), *debug_toolbar_urls()]
