"""A site shaped like real ones, for the freshness tests: views read their rows first, then
render templates that wrap each row in nested ``{% cachetag %}`` blocks.

A view pauses between reading its rows and rendering when the test arms ``GATE`` — that is
where a writer's commit and purge land in real use.
"""

from __future__ import annotations

import threading

from django.http import HttpRequest, HttpResponse
from django.template import engines
from django.urls import path

import pagecache
from tests.pages_urls import MIDDLEWARE
from tests.testapp.models import Article

__all__ = ["GATE", "MIDDLEWARE", "Gate", "urlpatterns"]

#: The nested fragments of the README's example: an item block, a title block inside it.
ITEM_LIST = (
    '{% for a in rows %}{% cachetag "item" a.pk tags=a %}<li data-title="{{ a.title }}">'
    '{% cachetag "title" a.pk tags=a %}<b>{{ a.title }}</b>{% endcachetag %}'
    "</li>{% endcachetag %}{% endfor %}"
)
TEMPLATES = {"django": "{% load cachetag %}" + ITEM_LIST, "jinja2": ITEM_LIST}

#: A page whose fragment lives shorter than the page (the page must not outlive it).
SHORT = '{% load cachetag %}page {% cachetag "short" ttl=5 tags="short" %}frag{% endcachetag %}'


class Gate:
    """Armed by a test: the next view to pass it sets ``read`` and waits for ``proceed``."""

    def __init__(self) -> None:
        self.read = threading.Event()
        self.proceed = threading.Event()
        self._armed = False
        self._lock = threading.Lock()

    def arm(self) -> Gate:
        self.read.clear()
        self.proceed.clear()
        self._armed = True
        return self

    def disarm(self) -> None:
        self._armed = False
        self.proceed.set()

    def passing(self) -> None:
        with self._lock:
            armed, self._armed = self._armed, False
        if armed:
            self.read.set()
            assert self.proceed.wait(10), "the test never let the view proceed"


GATE = Gate()


def _rows() -> list[Article]:
    return list(Article.objects.order_by("pk"))


def articles(request: HttpRequest) -> HttpResponse:
    rows = _rows()  # the view reads its rows first...
    GATE.passing()  # ...and only then does the template reach {% cachetag %}
    engine = engines[request.GET.get("engine", "django")]
    html = engine.from_string(TEMPLATES[engine.name]).render({"rows": rows}, request)
    return HttpResponse(html)


def direct(request: HttpRequest) -> HttpResponse:
    """``cached_fragment`` called from a view, with no ``request=``."""
    rows = _rows()
    GATE.passing()
    html = pagecache.cached_fragment(
        "direct", lambda: ",".join(a.title for a in rows), tags=[pagecache.model_tag(Article)]
    )
    return HttpResponse(html)


def rows_middleware(get_response):  # type: ignore[no-untyped-def]
    """A site's middleware that reads rows before the view (a menu, a banner)."""

    def middleware(request):  # type: ignore[no-untyped-def]
        request.rows = _rows()
        GATE.passing()
        return get_response(request)

    return middleware


@pagecache.cache_page(tags=[])
def decorated_from_middleware_rows(request: HttpRequest) -> HttpResponse:
    pagecache.add_tags(request, *request.rows)  # type: ignore[attr-defined]
    return HttpResponse(",".join(a.title for a in request.rows))  # type: ignore[attr-defined]


SHARED = '{% load cachetag %}{% cachetag "shared" tags="shared" %}shared{% endcachetag %}'


def own_tag(request: HttpRequest) -> HttpResponse:
    """A page with a tag of its own ("own") around a fragment other pages share."""
    pagecache.add_tags(request, "own")
    return HttpResponse(engines["django"].from_string(SHARED).render({}, request))


def short(request: HttpRequest) -> HttpResponse:
    return HttpResponse(engines["django"].from_string(SHORT).render({}, request))


def slow(request: HttpRequest) -> HttpResponse:
    pagecache.add_tags(request, "slow")
    GATE.passing()
    return HttpResponse("slow page")


urlpatterns = [
    path("articles/", articles),
    path("direct/", direct),
    path("decorated/", decorated_from_middleware_rows),
    path("short/", short),
    path("own/", own_tag),
    path("slow/", slow),
]
