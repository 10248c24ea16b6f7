"""Pages with forms, as sites have them: a newsletter form in the base template, a search
form, a comment form posting back; and the ways a token can be used that pagecache must
refuse to store. Each view counts its renders in RENDERS.
"""

from __future__ import annotations

import gzip
from collections import Counter

from django.http import HttpRequest, HttpResponse
from django.middleware.csrf import get_token, rotate_token
from django.template import engines
from django.urls import path
from django.views.decorators.csrf import ensure_csrf_cookie

import pagecache
from tests.pages_urls import MIDDLEWARE

__all__ = ["MIDDLEWARE", "RENDERS", "urlpatterns"]

RENDERS: Counter[str] = Counter()

#: A base template's newsletter form and a comment form: two tokens in one page.
DJANGO_PAGE = (
    "<h1>Article {{ n }}</h1>"
    '<form method="post" action="/comment/">{% csrf_token %}<input name="text"></form>'
    '<footer><form method="post" action="/newsletter/">{% csrf_token %}'
    '<input name="email"></form></footer>'
)
JINJA2_PAGE = (
    "<h1>Article {{ n }}</h1>"
    '<form method="post" action="/comment/">{{ csrf_input }}<input name="text"></form>'
    '<script>const token = "{{ csrf_token }}";</script>'
)


def article(request: HttpRequest) -> HttpResponse:
    RENDERS["article"] += 1
    pagecache.add_tags(request, "article")
    engine = engines[request.GET.get("engine", "django")]
    source = JINJA2_PAGE if engine.name == "jinja2" else DJANGO_PAGE
    html = engine.from_string(source).render({"n": RENDERS["article"]}, request)
    response = HttpResponse(html)
    response["ETag"] = '"article"'
    return response


def plain(request: HttpRequest) -> HttpResponse:
    """No form at all."""
    RENDERS["plain"] += 1
    return HttpResponse("plain")


def comment(request: HttpRequest) -> HttpResponse:
    """Where the forms post to (CsrfViewMiddleware checks the token first)."""
    return HttpResponse(f"thanks: {request.POST.get('text', request.POST.get('email', ''))}")


@ensure_csrf_cookie
def app_shell(request: HttpRequest) -> HttpResponse:
    """A JavaScript app's shell: no token in the page, the cookie for its scripts to read."""
    RENDERS["shell"] += 1
    return HttpResponse("<div id=app></div>")


def token_in_header(request: HttpRequest) -> HttpResponse:
    RENDERS["header"] += 1
    response = HttpResponse("see header")
    response["X-CSRFToken"] = get_token(request)
    return response


def secret_in_page(request: HttpRequest) -> HttpResponse:
    RENDERS["secret"] += 1
    get_token(request)
    return HttpResponse(f"secret {request.META['CSRF_COOKIE']}")


def rotated(request: HttpRequest) -> HttpResponse:
    RENDERS["rotated"] += 1
    before = get_token(request)
    rotate_token(request)
    return HttpResponse(f"<input value={before}><input value={get_token(request)}>")


def compressed(request: HttpRequest) -> HttpResponse:
    RENDERS["gzip"] += 1
    response = HttpResponse(gzip.compress(f"<input value={get_token(request)}>".encode()))
    response["Content-Encoding"] = "gzip"
    return response


def search(request: HttpRequest) -> HttpResponse:
    """Shows the visitor's query (keyed input) above a form: a query may look like a token."""
    RENDERS["search"] += 1
    html = engines["django"].from_string(
        "<p>Results for {{ q }}</p><form method=post>{% csrf_token %}</form>"
    )
    return HttpResponse(html.render({"q": request.GET.get("q", "")}, request))


def js_config(request: HttpRequest) -> HttpResponse:
    """The token in escaped JSON, as ``JSON.parse("{{ config|escapejs }}")`` writes it."""
    import json

    from django.utils.html import escapejs

    RENDERS["js"] += 1
    config = json.dumps({"csrfToken": get_token(request)})
    return HttpResponse(f'<script>const c = JSON.parse("{escapejs(config)}");</script>')


urlpatterns = [
    path("search/", search),
    path("js-config/", js_config),
    path("article/", article),
    path("plain/", plain),
    path("comment/", comment),
    path("newsletter/", comment),
    path("shell/", app_shell),
    path("header/", token_in_header),
    path("secret/", secret_in_page),
    path("rotated/", rotated),
    path("gzip/", compressed),
]


@pagecache.cache_page(ttl=60)
def decorated(request: HttpRequest) -> HttpResponse:
    """``@cache_page`` on its own: it runs below CsrfViewMiddleware."""
    return article(request)


urlpatterns.append(path("decorated/", decorated))
