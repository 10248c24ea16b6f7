"""The page-cache test site with django-debug-toolbar's URLs (tests/test_debug_toolbar.py)."""

from __future__ import annotations

import time

from debug_toolbar.toolbar import debug_toolbar_urls
from django.http import HttpResponse
from django.template import engines
from django.urls import path

import pagecache
from pagecache import observe
from tests.pages_urls import counted

#: What the last request to report/ saw as its pagecache report.
SEEN: dict[str, object] = {}

#: Nested fragments: "outer" holds "inner"; "sidebar" stands alone. Both inner blocks wait
#: 20 ms (``slow``), so a cached copy saves at least that.
NESTED = (
    "{% load cachetag %}<html><body><h1>nested {{ n }}</h1>"
    '{% cachetag "outer" tags="section:1" %}<div>{{ slow }}'
    '{% cachetag "inner" tags="article:7" %}<p>inner {{ slow }}</p>{% endcachetag %}'
    "</div>{% endcachetag %}"
    '{% cachetag "sidebar" tags="sidebar" %}<aside>{{ slow }}</aside>{% endcachetag %}'
    "</body></html>"
)


def _slow() -> str:
    time.sleep(0.02)
    return "slow"


def html_page(request):
    n = counted("html")
    return HttpResponse(f"<html><body><p>html render {n}</p></body></html>")


def nested_page(request):
    n = counted("nested")
    pagecache.add_tags(request, "page:nested")
    template = engines["django"].from_string(NESTED)
    return HttpResponse(template.render({"n": n, "slow": _slow}, request))


def report_page(request):
    SEEN["report"] = observe.current.get()
    return HttpResponse("<html><body>report</body></html>")


urlpatterns = [
    path("html/", html_page),
    path("nested/", nested_page, name="nested"),
    path("report/", report_page),
    *debug_toolbar_urls(),
]
