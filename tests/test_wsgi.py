"""PageCacheWSGI applies the middleware's rules exactly: the same scenarios run through the
Django test client (middleware only) and through a real WSGI environ (fast path first),
and their transcripts must be identical. Hits on the fast path never reach Django."""

from __future__ import annotations

import io
import sys
from http.cookies import SimpleCookie
from urllib.parse import urlsplit

import pytest
from django.core.handlers.wsgi import WSGIHandler
from django.test import Client, override_settings

import pagecache
from pagecache import serve
from pagecache.core import keys
from pagecache.wsgi import PageCacheWSGI
from tests.pages_urls import MIDDLEWARE, RENDERS
from tests.test_purge import count_round_trips

pytestmark = pytest.mark.django_db

#: Requests that reached Django's middleware stack (below pagecache).
REACHED_DJANGO = []


def counting_middleware(get_response):
    def middleware(request):
        REACHED_DJANGO.append(request.path)
        return get_response(request)

    return middleware


STACK = [MIDDLEWARE[0], "tests.test_wsgi.counting_middleware", *MIDDLEWARE[1:]]


class WSGIResponse:
    def __init__(self, status, headers, body):
        self.status_code = int(status.split(" ", 1)[0])
        self.reason_phrase = status.split(" ", 1)[1]
        self._headers = {name.lower(): value for name, value in headers}
        self.content = body

    def __getitem__(self, name):
        return self._headers[name.lower()]

    def get(self, name, default=None):
        return self._headers.get(name.lower(), default)

    def __contains__(self, name):
        return name.lower() in self._headers


def make_environ(method: str, url: str, body: bytes = b"") -> dict:
    """The environ a WSGI server builds for ``method url`` (host ``testserver``)."""
    parts = urlsplit(url)
    return {
        "REQUEST_METHOD": method,
        "PATH_INFO": parts.path,
        "QUERY_STRING": parts.query,
        "SCRIPT_NAME": "",
        "SERVER_NAME": "testserver",
        "SERVER_PORT": "80",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "127.0.0.1",
        "wsgi.version": (1, 0),
        "wsgi.url_scheme": "http",
        "wsgi.input": io.BytesIO(body),
        "wsgi.errors": sys.stderr,
        "wsgi.multithread": False,
        "wsgi.multiprocess": False,
        "wsgi.run_once": False,
    }


class WSGIClient:
    """Calls a WSGI app with a real environ, as a server would."""

    def __init__(self, app):
        self.app = app
        self.cookies = SimpleCookie()

    def request(self, method, url, **extra):
        environ = make_environ(method, url)
        if self.cookies:
            environ["HTTP_COOKIE"] = "; ".join(f"{k}={v.value}" for k, v in self.cookies.items())
        environ.update(extra)
        captured = {}

        def start_response(status, headers, exc_info=None):
            captured.update(status=status, headers=headers)

        chunks = self.app(environ, start_response)
        try:
            body = b"".join(chunks)
        finally:
            if hasattr(chunks, "close"):
                chunks.close()
        if method == "HEAD":
            body = b""  # a server sends no body for HEAD
        return WSGIResponse(captured["status"], captured["headers"], body)

    def get(self, url, **extra):
        return self.request("GET", url, **extra)

    def generic(self, method, url, data=b"", content_type="application/octet-stream", **extra):
        body = {"wsgi.input": io.BytesIO(data), "CONTENT_LENGTH": str(len(data))}
        return self.request(method, url, CONTENT_TYPE=content_type, **body, **extra)

    def head(self, url, **extra):
        return self.request("HEAD", url, **extra)

    def post(self, url, **extra):
        return self.request("POST", url, **extra)


class LazyWSGIHandler:
    """Django's WSGI handler, built at the first request: it loads MIDDLEWARE once, as the
    test client does, so a scenario's own settings apply to both drivers."""

    def __init__(self):
        self.handler = None

    def __call__(self, environ, start_response):
        if self.handler is None:
            self.handler = WSGIHandler()
        return self.handler(environ, start_response)


def run_scenario(kind, scenario, redis_server):
    """Run a scenario on a clean cache through one driver; return its transcript."""
    from tests.conftest import reset_pagecache_state

    redis_server.flush()
    reset_pagecache_state()
    RENDERS.clear()
    REACHED_DJANGO.clear()
    with override_settings(ROOT_URLCONF="tests.pages_urls", MIDDLEWARE=STACK):
        if kind == "middleware":
            # CSRF enforced as a real WSGI server would (the test client skips it by default).
            client = Client(enforce_csrf_checks=True)
        else:
            client = WSGIClient(PageCacheWSGI(LazyWSGIHandler()))
        transcript = scenario(client)
    return transcript, list(REACHED_DJANGO)


def line(response):
    return (
        response.status_code,
        response.get("X-Cache"),
        response.content[:40],
        response.get("ETag"),
        response.get("Vary"),
        "Age" in response,
    )


def scenario_hit(c):
    return [line(c.get("/page/")), line(c.get("/page/")), line(c.get("/page/"))]


def scenario_ineligible(c):
    out = [line(c.get("/other/")), line(c.post("/other/"))]
    out.append(line(c.get("/other/", HTTP_AUTHORIZATION="Bearer x")))
    c.cookies["sessionid"] = "abc"
    out.append(line(c.get("/other/")))
    return out


def scenario_query(c):
    return [
        line(c.get("/page/?b=2&a=1&utm_source=x")),
        line(c.get("/page/?a=1&b=2&fbclid=y")),
        line(c.get("/page/?a=1&b=3")),
    ]


def scenario_vary(c):
    out = [line(c.get("/lang/", HTTP_ACCEPT_LANGUAGE=lang)) for lang in ("de", "fr", "de", "fr")]
    serve._vary_names.clear()  # a process that never saw the page
    out.append(line(c.get("/lang/", HTTP_ACCEPT_LANGUAGE="fr")))
    return out


def scenario_hosts(c):
    return [
        line(c.get("/host/", HTTP_HOST="example.com")),
        line(c.get("/host/", HTTP_HOST="other.example.com")),
        line(c.get("/host/", HTTP_HOST="example.com")),
        line(c.get("/host/", HTTP_HOST="evil.invalid")),
        line(c.get("/host/", HTTP_HOST="evil.invalid")),
    ]


def scenario_head(c):
    return [line(c.head("/page/")), line(c.get("/page/")), line(c.head("/page/"))]


def scenario_conditional(c):
    return [
        line(c.get("/page/")),
        line(c.get("/page/", HTTP_IF_NONE_MATCH='"page-etag"')),
        line(c.get("/page/", HTTP_IF_NONE_MATCH='"other"')),
        line(c.get("/page/", HTTP_IF_MODIFIED_SINCE="Tue, 03 Nov 2026 10:00:00 GMT")),
        line(c.get("/page/", HTTP_IF_MODIFIED_SINCE="Sun, 01 Nov 2026 10:00:00 GMT")),
        line(c.get("/page/", HTTP_IF_MATCH='"other"')),
        line(c.head("/page/", HTTP_IF_NONE_MATCH='"page-etag"')),
    ]


def scenario_purge(c):
    out = [line(c.get("/page/")), line(c.get("/other/"))]
    pagecache.purge_tags("page")
    out += [line(c.get("/page/")), line(c.get("/other/")), line(c.get("/page/"))]
    return out


def scenario_unstorable(c):
    return [line(c.get(url)) for url in ("/cookie/", "/cookie/", "/never/")]


def scenario_form(c):
    """A page with a CSRF token is stored without it (tests/test_forms.py has the rest)."""
    return [line(c.get("/csrf/")), line(c.get("/csrf/"))]


def scenario_body(c):
    """A GET with a body is not served from or stored to the cache (the body is unkeyed)."""
    return [
        line(c.generic("GET", "/body/", data=b"evil")),
        line(c.get("/body/")),
        line(c.generic("GET", "/body/", data=b"evil")),
        line(c.get("/body/")),
    ]


def scenario_script_name(c):
    """Two splits of one URL (an app mounted at /app, and none) never share an entry."""
    return [
        line(c.get("/page/", SCRIPT_NAME="/app")),
        line(c.get("/app/page/")),
        line(c.get("/page/", SCRIPT_NAME="/app")),
        line(c.get("/app/page/")),
    ]


def scenario_vary_missing_or_empty(c):
    return [
        line(c.get("/lang/")),
        line(c.get("/lang/", HTTP_ACCEPT_LANGUAGE="")),
        line(c.get("/lang/")),
        line(c.get("/lang/", HTTP_ACCEPT_LANGUAGE="")),
    ]


def scenario_vary_not_a_header(c):
    return [line(c.get("/bad-vary/")), line(c.get("/bad-vary/"))]


LOCALE_STACK = [*STACK[:3], "django.middleware.locale.LocaleMiddleware", *STACK[3:]]


@override_settings(
    MIDDLEWARE=LOCALE_STACK, USE_I18N=True, LANGUAGES=[("en", "English"), ("de", "German")]
)
def scenario_language(c):
    """Django's set_language sets the django_language cookie: a German page is never
    served to an English visitor (and Accept-Language alone still chooses)."""
    out = [line(c.get("/language/", HTTP_ACCEPT_LANGUAGE="en"))]
    c.cookies["django_language"] = "de"
    out += [line(c.get("/language/", HTTP_ACCEPT_LANGUAGE="en"))] * 1
    out.append(line(c.get("/language/", HTTP_ACCEPT_LANGUAGE="en")))
    del c.cookies["django_language"]
    out.append(line(c.get("/language/", HTTP_ACCEPT_LANGUAGE="en")))
    out.append(line(c.get("/language/", HTTP_ACCEPT_LANGUAGE="de")))
    return out


def scenario_unkeyed_query(c):
    return [
        line(c.get("/reflect/?utm_source=%3Cscript%3E&page=2")),
        line(c.get("/reflect/?page=2")),
        line(c.get("/reflect/?page=2&gclid=abc")),
    ]


def scenario_analytics_cookies(c):
    out = []
    for n in range(3):
        c.cookies["_ga"] = f"GA1.2.{n}"
        c.cookies["_gid"] = f"x{n}"
        out.append(line(c.get("/vary-cookie/")))
        out.append(line(c.get("/reflect/")))
    c.cookies["theme"] = "dark"
    out.append(line(c.get("/vary-cookie/")))
    return out


@override_settings(PAGECACHE={"VARY_ON_REQUEST": ["tests.pages_urls.time_zone_of"]})
def scenario_vary_on_request(c):
    out = [line(c.get("/tz/"))]
    c.cookies["tz"] = "Europe/Berlin"
    out += [line(c.get("/tz/")), line(c.get("/tz/"))]
    del c.cookies["tz"]
    out.append(line(c.get("/tz/")))
    return out


def scenario_raw_cookie(c):
    return [line(c.get("/raw-cookie/")), line(c.get("/raw-cookie/"))]


def scenario_exempt(c):
    return [line(c.get("/exempt/")), line(c.get("/exempt/"))]


@override_settings(SECURE_PROXY_SSL_HEADER=("HTTP_X_FORWARDED_PROTO", "https"))
def scenario_scheme(c):
    return [
        line(c.get("/page/", HTTP_X_FORWARDED_PROTO="https")),
        line(c.get("/page/")),
        line(c.get("/page/", HTTP_X_FORWARDED_PROTO="https")),
    ]


SCENARIOS = {
    name[len("scenario_") :]: fn for name, fn in globals().items() if name.startswith("scenario_")
}


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_same_rules_through_middleware_and_wsgi(name, redis_server):
    through_middleware, _ = run_scenario("middleware", SCENARIOS[name], redis_server)
    through_wsgi, reached = run_scenario("wsgi", SCENARIOS[name], redis_server)
    assert through_wsgi == through_middleware
    # Every hit was answered before Django: only the other requests reached it.
    hits = sum(1 for entry in through_wsgi if entry[1] in ("HIT", "STALE"))
    assert len(reached) == len(through_wsgi) - hits


def test_pinned_transcripts(redis_server):
    # Pin transcripts so "both equally wrong" cannot pass.
    conditional, _ = run_scenario("wsgi", scenario_conditional, redis_server)
    assert [t[:2] for t in conditional] == [
        (200, "MISS"),
        (304, "HIT"),
        (200, "HIT"),
        (304, "HIT"),
        (200, "HIT"),
        (412, "HIT"),
        (304, "HIT"),
    ]
    ineligible, _ = run_scenario("wsgi", scenario_ineligible, redis_server)
    assert [t[:2] for t in ineligible] == [
        (200, "MISS"),
        (403, "BYPASS"),
        (200, "BYPASS"),
        (200, "BYPASS"),
    ]
    vary, _ = run_scenario("wsgi", scenario_vary, redis_server)
    assert [t[1:3] for t in vary] == [
        ("MISS", b"lang=de"),
        ("MISS", b"lang=fr"),
        ("HIT", b"lang=de"),
        ("HIT", b"lang=fr"),
        ("HIT", b"lang=fr"),
    ]


def test_a_wsgi_hit_is_one_round_trip(redis_server):
    with override_settings(ROOT_URLCONF="tests.pages_urls", MIDDLEWARE=STACK):
        client = WSGIClient(PageCacheWSGI(WSGIHandler()))
        client.get("/page/")
        client.get("/page/")
        with count_round_trips() as trips:
            assert client.get("/page/")["X-Cache"] == "HIT"
    assert trips.count == 1


def test_a_miss_hands_its_lookup_to_the_middleware(redis_server):
    """The render lock the fast path took is used and released by the middleware."""
    with override_settings(ROOT_URLCONF="tests.pages_urls", MIDDLEWARE=STACK):
        client = WSGIClient(PageCacheWSGI(WSGIHandler()))
        client.get("/page/")  # connections open and scripts loaded (a one-time cost)
        with count_round_trips() as trips:
            assert client.get("/other/")["X-Cache"] == "MISS"
        assert trips.count == 2  # one lookup (with the lock), one store + release
    key = keys.page_key("pc", "http", "testserver", "/other/", "")
    assert not redis_server.client().exists(keys.lock_key(key))


def test_without_the_middleware_the_fast_path_takes_no_lock(redis_server):
    without = [m for m in STACK if "pagecache" not in m]
    with override_settings(ROOT_URLCONF="tests.pages_urls", MIDDLEWARE=without):
        client = WSGIClient(PageCacheWSGI(WSGIHandler()))
        assert client.get("/other/").status_code == 200
    key = keys.page_key("pc", "http", "testserver", "/other/", "")
    assert not redis_server.client().exists(keys.lock_key(key))


def test_a_failing_cache_falls_through(private_cache):
    private_cache().stop()
    with override_settings(ROOT_URLCONF="tests.pages_urls", MIDDLEWARE=STACK):
        response = WSGIClient(PageCacheWSGI(WSGIHandler())).get("/other/")
    assert response.status_code == 200
    assert response.content.startswith(b"other render")
