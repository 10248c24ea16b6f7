"""A site shaped like real ones, for the freshness tests: views read their rows first, then
render templates that wrap each row in nested ``{% cachetag %}`` blocks.

A view pauses between reading its rows and rendering when the test arms ``GATE`` — that is
where a writer's commit and purge land in real use.
"""

from __future__ import annotations

import threading

from asgiref.sync import sync_to_async
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


async def _arows() -> list[Article]:
    return [a async for a in Article.objects.order_by("pk")]


async def _apassing() -> None:
    # The gate blocks its caller: in a thread, so the event loop stays free.
    await sync_to_async(GATE.passing, thread_sensitive=False)()


async def async_articles(request: HttpRequest) -> HttpResponse:
    """An async view: rows read with the async ORM, then the template rendered in the loop,
    as Django's render() does in async views (the fragments' sync driver runs there)."""
    rows = await _arows()
    await _apassing()
    engine = engines[request.GET.get("engine", "django")]
    html = engine.from_string(TEMPLATES[engine.name]).render({"rows": rows}, request)
    return HttpResponse(html)


async def async_direct(request: HttpRequest) -> HttpResponse:
    """``acached_fragment`` from an async view: an outer block with an async render, an
    inner one per row with a plain one."""
    rows = await _arows()
    await _apassing()

    async def outer() -> str:
        items = [
            await pagecache.acached_fragment(
                "arow",
                lambda a=a: f'<li data-title="{a.title}"></li>',
                vary_on=[a],
                tags=[pagecache.model_tag(a)],
            )
            for a in rows
        ]
        return "".join(items)

    html = await pagecache.acached_fragment("alist", outer, request=request)
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
    path("async/articles/", async_articles),
    path("async/direct/", async_direct),
    path("decorated/", decorated_from_middleware_rows),
    path("short/", short),
    path("own/", own_tag),
    path("slow/", slow),
]
