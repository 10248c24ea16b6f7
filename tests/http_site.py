"""A small Django site behind pagecache, served by real gunicorn for tests/test_http.py.

Self-contained settings (module globals), as a deployed site has them: pagecache first,
then Django's usual middleware with ``LocaleMiddleware``; sessions and auth on a SQLite file
(``HTTP_SITE_DB``, migrated by the test before gunicorn starts); the cache in the test's
own redis-server (``REDIS_URL``). Every view counts its renders with a Redis ``INCR``
(across worker processes and threads) and prints the count, so a response shows whether it
was rendered for this request or replayed from the cache.
"""

from __future__ import annotations

import os

import redis
from django.http import HttpRequest, HttpResponse
from django.template import engines
from django.urls import path
from django.utils import translation
from django.utils.cache import patch_vary_headers

SECRET_KEY = "http-site-not-secret"
DEBUG = False
ALLOWED_HOSTS = ["127.0.0.1", "localhost", "a.test", "b.test"]
ROOT_URLCONF = __name__
INSTALLED_APPS = [
    "django.contrib.contenttypes",
    "django.contrib.auth",
    "django.contrib.sessions",
    "django.contrib.messages",
    "pagecache",
]
MIDDLEWARE = [
    "pagecache.middleware.PageCacheMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
]
TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    }
]
DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": os.environ.get("HTTP_SITE_DB", ":memory:"),
    }
}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
USE_TZ = True
USE_I18N = True
LANGUAGE_CODE = "en"
LANGUAGES = [("en", "English"), ("de", "German")]
REDIS_URL = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")
CACHES = {
    "default": {
        "BACKEND": "django_redis.cache.RedisCache",
        "LOCATION": REDIS_URL,
        "OPTIONS": {"SOCKET_CONNECT_TIMEOUT": 1, "SOCKET_TIMEOUT": 2},
    }
}
PAGECACHE = {"TTL": 60}
# The requests the tests send on purpose (a forged Host, a refused CSRF token) are not news.
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"null": {"class": "logging.NullHandler"}},
    "loggers": {
        "django.security": {"handlers": ["null"], "propagate": False},
        "django.request": {"handlers": ["null"], "propagate": False},
    },
}

#: Render counters live under the test suite's prefix (flushed before every test).
RENDERS_PREFIX = "pctest:http:renders:"

_redis: redis.Redis | None = None


def rendered(name: str) -> int:
    """Count a render of view ``name`` (in Redis: shared by every worker); returns its number."""
    global _redis
    if _redis is None:
        _redis = redis.Redis.from_url(REDIS_URL)
    return int(_redis.incr(RENDERS_PREFIX + name))


def host(request: HttpRequest) -> HttpResponse:
    n = rendered("host")
    return HttpResponse(f"host={request.get_host()} render={n}")


def where(request: HttpRequest) -> HttpResponse:
    """How the server split the URL (routed at /where/ and /app/where/)."""
    n = rendered("where")
    return HttpResponse(
        f"path={request.path} script_name={request.META.get('SCRIPT_NAME', '')} "
        f"path_info={request.path_info} render={n}"
    )


def cookies(request: HttpRequest) -> HttpResponse:
    """Prints the cookies the view was given; varies on Cookie (a theme switcher)."""
    n = rendered("cookies")
    names = ",".join(sorted(request.COOKIES))
    response = HttpResponse(f"cookies={names} theme={request.COOKIES.get('theme', '-')} render={n}")
    patch_vary_headers(response, ["Cookie"])
    return response


def body(request: HttpRequest) -> HttpResponse:
    n = rendered("body")
    return HttpResponse(f"body={request.body!r} render={n}")


def reflect(request: HttpRequest) -> HttpResponse:
    """Writes what a canonical link would: the full path, and the query the view saw."""
    n = rendered("reflect")
    return HttpResponse(
        f'<link rel="canonical" href="{request.get_full_path()}">'
        f"<p>GET={sorted(request.GET.lists())} render={n}</p>"
    )


def language(request: HttpRequest) -> HttpResponse:
    n = rendered("language")
    return HttpResponse(f"language={translation.get_language()} render={n}")


FORM_PAGE = (
    "<h1>Article {{ n }}</h1>"
    '<form method="post" action="/comment/">{% csrf_token %}<input name="text"></form>'
)


def form(request: HttpRequest) -> HttpResponse:
    """A page with a form: the CSRF token is its only per-visitor content."""
    n = rendered("form")
    return HttpResponse(engines["django"].from_string(FORM_PAGE).render({"n": n}, request))


def comment(request: HttpRequest) -> HttpResponse:
    """Where the form posts to (CsrfViewMiddleware checks the token first)."""
    return HttpResponse(f"thanks: {request.POST.get('text', '')}")


def raw_set_cookie(request: HttpRequest) -> HttpResponse:
    """Writes Set-Cookie itself, bypassing response.cookies; the value names the render."""
    n = rendered("set_cookie")
    response = HttpResponse(f"set-cookie render={n}")
    response["Set-Cookie"] = f"x={n}"
    return response


def csrf_cookie_meta(request: HttpRequest) -> HttpResponse:
    """Puts the CSRF cookie in a meta tag for scripts (instead of ``{{ csrf_token }}``)."""
    n = rendered("csrf_meta")
    value = request.COOKIES.get("csrftoken", "")
    response = HttpResponse(f'<meta name="csrf-token" content="{value}"><p>render={n}</p>')
    patch_vary_headers(response, ["Cookie"])  # it shows a cookie: one page per cookie
    return response


def etag(request: HttpRequest) -> HttpResponse:
    n = rendered("etag")
    response = HttpResponse(f"etag page render={n} " + "x" * 2000)
    response["ETag"] = '"v1"'
    return response


urlpatterns = [
    path("host/", host),
    path("where/", where),
    path("app/where/", where),
    path("cookies/", cookies),
    path("body/", body),
    path("reflect/", reflect),
    path("language/", language),
    path("form/", form),
    path("comment/", comment),
    path("set-cookie/", raw_set_cookie),
    path("csrf-meta/", csrf_cookie_meta),
    path("etag/", etag),
]


def wsgi():
    """Django's WSGI app, as a factory: ``gunicorn 'tests.http_site:wsgi()'``. Every
    request that reaches it is counted (``rendered("django")``)."""
    from django.core.wsgi import get_wsgi_application

    application = get_wsgi_application()

    def counted(environ, start_response):
        rendered("django")
        return application(environ, start_response)

    return counted


def fast_wsgi():
    """The same app behind pagecache's WSGI fast path:
    ``gunicorn 'tests.http_site:fast_wsgi()'``."""
    from pagecache.wsgi import PageCacheWSGI

    return PageCacheWSGI(wsgi())


def asgi():
    """Django's ASGI app (pagecache's middleware runs natively async in it), as a factory:
    ``uvicorn --factory tests.http_site:asgi``. Requests that reach it are counted too."""
    from django.core.asgi import get_asgi_application

    application = get_asgi_application()

    async def counted(scope, receive, send):
        if scope["type"] == "http":
            rendered("django")
        await application(scope, receive, send)

    return counted


def fast_asgi():
    """The same ASGI app behind pagecache's ASGI fast path:
    ``uvicorn --factory tests.http_site:fast_asgi``."""
    from pagecache.asgi import PageCacheASGI

    return PageCacheASGI(asgi())
