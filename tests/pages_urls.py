"""Views for the page-cache tests. Each counts its renders in RENDERS."""

from __future__ import annotations

import threading
from collections import Counter

from django.http import HttpResponse, StreamingHttpResponse
from django.middleware.csrf import get_token
from django.urls import path
from django.utils.cache import patch_vary_headers
from django.utils.decorators import method_decorator
from django.views import View
from django.views.decorators.cache import cache_control, never_cache

import pagecache

#: The stack every page-cache test runs behind: pagecache first, then Django's usual ones.
MIDDLEWARE = [
    "pagecache.middleware.PageCacheMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
]

RENDERS: Counter[str] = Counter()
#: Hooks for race tests: a view sets `started` then waits for `proceed`.
HOOKS: dict[str, threading.Event] = {}


def counted(name):
    RENDERS[name] += 1
    return RENDERS[name]


def page(request):
    n = counted("page")
    pagecache.add_tags(request, "page", request.GET.get("tag", "page:default"))
    pagecache.add_tags(request, *HOOKS.get("extra_tags", ()))
    response = HttpResponse(f"<p>page render {n}</p>" + "x" * 3000)
    response["ETag"] = '"page-etag"'
    response["Last-Modified"] = "Mon, 02 Nov 2026 10:00:00 GMT"
    response["X-Custom"] = "kept"
    return response


def other(request):
    n = counted("other")
    pagecache.add_tags(request, "other")
    return HttpResponse(f"other render {n}")


def by_language(request):
    counted("lang")
    response = HttpResponse(f"lang={request.headers.get('Accept-Language', '')}")
    patch_vary_headers(response, ["Accept-Language"])
    return response


def bad_vary(request):
    counted("bad_vary")
    response = HttpResponse("bad vary")
    response["Vary"] = "Accept-Language, X-Ünicode"
    return response


def language(request):
    from django.utils import translation

    counted("language")
    return HttpResponse(f"language={translation.get_language()}")


def reflect(request):
    """Writes what a canonical link or an analytics snippet would: the full path, the
    query and the cookie names it saw."""
    counted("reflect")
    cookies = ",".join(sorted(request.COOKIES))
    return HttpResponse(f"{request.get_full_path()} {dict(request.GET)} cookies={cookies}")


def vary_cookie(request):
    counted("vary_cookie")
    response = HttpResponse(f"cookies={','.join(sorted(request.COOKIES))}")
    patch_vary_headers(response, ["Cookie"])
    return response


def time_zone_of(request):
    """A VARY_ON_REQUEST callable: the visitor's time zone from a cookie of the site's."""
    return request.COOKIES.get("tz", "UTC")


def in_time_zone(request):
    counted("tz")
    return HttpResponse(f"tz={time_zone_of(request)}")


@pagecache.cache_page(ttl=60, tags=["async"])
async def async_cached(request):
    n = counted("async_cached")
    return HttpResponse(f"async render {n}")


async def async_fragment(request):
    """An async view whose body comes from the async function a test puts in HOOKS."""
    n = counted("async_fragment")
    body = await HOOKS["fragment"]()  # type: ignore[operator]
    return HttpResponse(f"page with {body} {n}")


@pagecache.exempt
async def async_exempt(request):
    n = counted("async_exempt")
    return HttpResponse(f"async exempt {n}")


class UndecoratedMethod(View):
    """A decorator put on a method without method_decorator: a mistake to name."""

    @pagecache.exempt
    def get(self, request):
        return HttpResponse("never")


class DecoratedMethod(View):
    @method_decorator(pagecache.cache_page(ttl=60))
    def get(self, request):
        n = counted("method")
        return HttpResponse(f"method render {n}")


@pagecache.cache_page()
def not_a_response(request):
    return "<p>a string</p>"


def by_host(request):
    counted("host")
    return HttpResponse(f"host={request.get_host()}")


def status(request, code):
    counted(f"status{code}")
    return HttpResponse(f"status {code}", status=code)


def streaming(request):
    counted("streaming")
    return StreamingHttpResponse(iter([b"a", b"b"]))


def raw_set_cookie(request):
    """Writes the header itself, bypassing response.cookies."""
    counted("raw_cookie")
    response = HttpResponse("raw cookie")
    response["Set-Cookie"] = "tracking=abc; Path=/"
    return response


def echo_body(request):
    counted("body")
    return HttpResponse(b"body=" + request.body)


def sets_cookie(request):
    counted("cookie")
    response = HttpResponse("cookie")
    response.set_cookie("theme", "dark")
    return response


@cache_control(max_age=600)
def own_cache_control(request):
    """A view that says how long downstream caches may keep it (pagecache stores it)."""
    counted("own_cache_control")
    return HttpResponse("mine")


@cache_control(private=True)
def private(request):
    counted("private")
    return HttpResponse("private")


@cache_control(no_store=True)
def no_store(request):
    counted("no_store")
    return HttpResponse("no-store")


@never_cache
def never(request):
    counted("never")
    return HttpResponse("never")


def vary_star(request):
    counted("vary_star")
    response = HttpResponse("vary star")
    response["Vary"] = "*"
    return response


def csrf(request):
    counted("csrf")
    return HttpResponse(f'<input name="csrfmiddlewaretoken" value="{get_token(request)}">')


def big(request):
    counted("big")
    return HttpResponse(b"x" * 5000)


@pagecache.exempt
def exempt(request):
    counted("exempt")
    return HttpResponse("exempt")


@pagecache.cache_page(ttl=120, stale_ttl=5, tags=["decorated"])
def decorated(request):
    n = counted("decorated")
    return HttpResponse(f"decorated {n}")


def slow(request):
    """Blocks between reading its data and returning, so a purge can land mid-render."""
    n = counted("slow")
    pagecache.add_tags(request, "slow")
    started, proceed = HOOKS.get("started"), HOOKS.get("proceed")
    if started is not None and proceed is not None:
        started.set()
        proceed.wait(10)
    return HttpResponse(f"slow render {n}")


def article(request, pk):
    from tests.testapp.models import Article

    obj = Article.objects.get(pk=pk)
    counted("article")
    pagecache.add_tags(request, obj)
    return HttpResponse(f"title={obj.title}")


urlpatterns = [
    path("page/", page),
    path("other/", other),
    path("lang/", by_language),
    path("host/", by_host),
    path("async-cached/", async_cached),
    path("async-exempt/", async_exempt),
    path("async-fragment/", async_fragment),
    path("undecorated-method/", UndecoratedMethod.as_view()),
    path("decorated-method/", DecoratedMethod.as_view()),
    path("not-a-response/", not_a_response),
    path("language/", language),
    path("reflect/", reflect),
    path("vary-cookie/", vary_cookie),
    path("tz/", in_time_zone),
    path("bad-vary/", bad_vary),
    path("status/<int:code>/", status),
    path("streaming/", streaming),
    path("cookie/", sets_cookie),
    path("raw-cookie/", raw_set_cookie),
    path("body/", echo_body),
    path("private/", private),
    path("own-cache-control/", own_cache_control),
    path("no-store/", no_store),
    path("never/", never),
    path("vary-star/", vary_star),
    path("csrf/", csrf),
    path("big/", big),
    path("exempt/", exempt),
    path("decorated/", decorated),
    path("slow/", slow),
    path("article/<int:pk>/", article),
]


# -- fragments inside cached pages ----------------------------------------------------------

FRAGMENT_PAGE = {
    "django": "{% load cachetag %}<h1>page {{ n }}</h1>"
    '{% cachetag "box" tags="frag" %}box {{ counter }}{% endcachetag %}',
    "jinja2": "<h1>page {{ n }}</h1>"
    '{% cachetag "box", tags="frag" %}box {{ counter }}{% endcachetag %}',
}


class Counter:
    """Renders as how many times it has been rendered: shows whether a block ran."""

    def __init__(self):
        self.n = 0

    def __str__(self):
        self.n += 1
        return str(self.n)


BOX = Counter()


def fragment_page(request):
    from django.template import engines

    engine = request.GET.get("engine", "django")
    n = counted(f"fragment_page_{engine}")
    template = engines[engine].from_string(FRAGMENT_PAGE[engine])
    return HttpResponse(template.render({"n": n, "counter": BOX}, request))


urlpatterns.append(path("fragment-page/", fragment_page))


@pagecache.cache_page(ttl=60)
def decorated_template(request):
    from django.template import engines
    from django.template.response import TemplateResponse

    n = counted("decorated_template")
    template = engines["django"].from_string(
        '{% load cachetag %}<p>{{ n }}</p>{% cachetag "inner" tags="frag2" %}x{% endcachetag %}'
    )
    return TemplateResponse(request, template, {"n": n})


urlpatterns.append(path("decorated-template/", decorated_template))
