"""Django's own cache tests, ported to pagecache: a compatibility suite.

Each test names the Django test it comes from (Django 5.2's ``tests/cache/tests.py``,
``tests/decorators/test_cache.py`` and ``tests/template_tests/syntax_tests/test_cache.py``)
and checks the same behaviour through pagecache's API: ``PageCacheMiddleware`` for
``UpdateCacheMiddleware`` / ``FetchFromCacheMiddleware`` / ``CacheMiddleware``,
``pagecache.cache_page`` for ``cache_page`` and ``{% cachetag %}`` for ``{% cache %}``.
Where pagecache deliberately behaves differently, the test asserts pagecache's documented
behaviour and says why in a ``# DIFFERENCE:`` comment (docs/coming-from-django.md lists
them). Django tests of its cache backends, its key functions' exact output and its
middleware constructors have no counterpart here and are not ported.
"""

from __future__ import annotations

import asyncio
import re
import threading
from collections import Counter

import pytest
from asgiref.sync import iscoroutinefunction
from django.http import HttpRequest, HttpResponse, HttpResponseNotModified, StreamingHttpResponse
from django.middleware.csrf import _unmask_cipher_token  # type: ignore[attr-defined]
from django.template import TemplateSyntaxError, engines
from django.template.context_processors import csrf
from django.test import Client, RequestFactory, override_settings
from django.urls import path
from django.utils import translation
from django.utils.cache import patch_vary_headers
from django.utils.decorators import method_decorator
from django.views.decorators.cache import cache_control, never_cache
from django.views.decorators.http import etag

import pagecache
from pagecache.core import keys
from tests.pages_urls import MIDDLEWARE

pytestmark = pytest.mark.django_db

RENDERS: Counter[str] = Counter()
#: Events for the one test that needs a render to pause: "started" and "proceed".
GATE: dict[str, threading.Event] = {}
_renders_lock = threading.Lock()

factory = RequestFactory()


def _count(name: str) -> int:
    with _renders_lock:
        RENDERS[name] += 1
        return RENDERS[name]


# -- views served through the middleware ---------------------------------------------------


def hello(request):
    return HttpResponse(f"Hello World {_count('hello')}")


def language(request):
    return HttpResponse(f"{translation.get_language()} {_count('language')}")


def pony(request):
    """Varies on a header Django's tests made up (``Pony``)."""
    n = _count("pony")
    response = HttpResponse(f"pony={request.headers.get('Pony')} {n}")
    patch_vary_headers(response, ["Pony"])
    return response


def by_host(request):
    return HttpResponse(f"{request.get_host()} {_count('host')}")


def streaming(request):
    _count("streaming")
    return StreamingHttpResponse(["Check for cache with streaming content."])


def csrf_token(request):
    """Django's ``csrf_view``: the page is the visitor's CSRF token and nothing else."""
    _count("csrf")
    return HttpResponse(str(csrf(request)["csrf_token"]))


def csrf_form(request):
    template = engines["django"].from_string('<form method="post">{% csrf_token %}</form>')
    return HttpResponse(template.render({}, request))


def accept_post(request):
    return HttpResponse("posted")


def refreshes_cookie(request):
    _count("refresh")
    response = HttpResponse("content")
    response.set_cookie("session", "new_value")
    patch_vary_headers(response, ("Cookie",))
    return response


def sets_cookie(request):
    _count("sets_cookie")
    response = HttpResponse("Testing cookie serialization.")
    response.set_cookie("foo", "bar")
    return response


def writes_session(request):
    request.session["seen"] = True
    return HttpResponse(f"session {_count('writes_session')}")


def reads_session(request):
    """Reading the session makes SessionMiddleware add ``Vary: Cookie``."""
    return HttpResponse(f"visits={request.session.get('visits')} {_count('reads_session')}")


def status(request, code):
    return HttpResponse(f"status {code} {_count(f'status{code}')}", status=code)


def with_etag(request):
    response = HttpResponse(f"etag {_count('etag')}")
    response["ETag"] = '"v1"'
    return response


@etag(lambda request: '"v1"')
def conditional(request):
    return HttpResponse(f"conditional {_count('conditional')}")


@cache_control(public=True)
def public(request):
    return HttpResponse(f"public {_count('public')}")


@cache_control(max_age=0)
def max_age_zero(request):
    return HttpResponse(f"max-age=0 {_count('max_age_zero')}")


@never_cache
def never(request):
    return HttpResponse(f"never {_count('never')}")


@never_cache
async def never_async(request):
    return HttpResponse(f"never async {_count('never_async')}")


@pagecache.cache_page(ttl=120)
async def async_cached(request):
    return HttpResponse(f"async {_count('async_cached')}")


def tagged(request):
    pagecache.add_tags(request, "poll:1")
    return HttpResponse(f"poll {_count('tagged')}")


def gated(request):
    """Pauses between starting and returning while GATE is armed."""
    n = _count("gated")
    started, proceed = GATE.get("started"), GATE.get("proceed")
    if started is not None and proceed is not None:
        started.set()
        proceed.wait(10)
    return HttpResponse(f"gated {n}")


def time_zone_of(request):
    """A ``VARY_ON_REQUEST`` callable: the visitor's time zone, from a cookie."""
    return request.COOKIES.get("tz", "UTC")


urlpatterns = [
    path("hello/", hello),
    path("language/", language),
    path("pony/", pony),
    path("host/", by_host),
    path("streaming/", streaming),
    path("csrf/", csrf_token),
    path("csrf-form/", csrf_form),
    path("accept-post/", accept_post),
    path("refreshes-cookie/", refreshes_cookie),
    path("sets-cookie/", sets_cookie),
    path("writes-session/", writes_session),
    path("reads-session/", reads_session),
    path("status/<int:code>/", status),
    path("etag/", with_etag),
    path("conditional/", conditional),
    path("public/", public),
    path("max-age-0/", max_age_zero),
    path("never/", never),
    path("never-async/", never_async),
    path("async-cached/", async_cached),
    path("tagged/", tagged),
    path("gated/", gated),
]

WITHOUT_PAGECACHE = [m for m in MIDDLEWARE if not m.startswith("pagecache.")]
LOCALE = [
    *MIDDLEWARE[:3],  # pagecache, SecurityMiddleware, SessionMiddleware
    "django.middleware.locale.LocaleMiddleware",
    *MIDDLEWARE[3:],
]
TWO_LANGUAGES = [("en", "English"), ("es", "Spanish")]


@pytest.fixture(autouse=True)
def compat_site():
    """This module's views behind pagecache and Django's usual middleware."""
    RENDERS.clear()
    GATE.clear()
    with override_settings(ROOT_URLCONF=__name__, MIDDLEWARE=MIDDLEWARE):
        yield
    GATE.clear()


@pytest.fixture
def redis_client(redis_server):
    client = redis_server.client()
    yield client
    client.close()


def page_key(url_path, query="", host="testserver"):
    return keys.page_key("pc", "http", host, url_path, query)


def stored_page_keys(redis_client):
    return sorted(key.decode() for key in redis_client.scan_iter("pc:p1*"))


def hello_world(request, value):
    """Django's ``hello_world_view``: what it renders depends on an argument, not the URL."""
    _count("hello_world")
    return HttpResponse(f"Hello World {value}")


# == tests/cache/tests.py: CacheMiddlewareTest ==============================================


# Django: tests/cache/tests.py CacheMiddlewareTest.test_middleware
def test_a_repeated_request_is_served_from_the_cache():
    client = Client()
    first, second = client.get("/hello/"), client.get("/hello/")
    assert first.content == second.content == b"Hello World 1"
    assert RENDERS["hello"] == 1
    # DIFFERENCE: pagecache says what happened in X-Cache (MISS, HIT, STALE, BYPASS).
    assert (first["X-Cache"], second["X-Cache"]) == ("MISS", "HIT")


# Django: tests/cache/tests.py CacheMiddlewareTest.test_middleware (prefix_middleware)
def test_another_key_prefix_does_not_see_the_page():
    client = Client()
    client.get("/hello/")
    # DIFFERENCE: the prefix is one setting, PAGECACHE["KEY_PREFIX"], not an argument of
    # each middleware or decorator ("pctest:" so the suite's cleanup removes its keys).
    with override_settings(PAGECACHE={"KEY_PREFIX": "pctest:prefix1"}):
        elsewhere = client.get("/hello/")
        assert (elsewhere["X-Cache"], elsewhere.content) == ("MISS", b"Hello World 2")
        assert client.get("/hello/").content == b"Hello World 2"
    back = client.get("/hello/")
    assert (back["X-Cache"], back.content) == ("HIT", b"Hello World 1")


# Django: tests/cache/tests.py CacheMiddlewareTest.test_view_decorator
def test_cache_page_on_its_own_serves_the_first_render_for_the_url(redis_client):
    # Like Django's cache_page(3): the first positional argument is the TTL in seconds.
    short = pagecache.cache_page(3)(hello_world)
    assert short(factory.get("/view/"), "1").content == b"Hello World 1"
    again = short(factory.get("/view/"), "2")
    assert (again["X-Cache"], again.content) == ("HIT", b"Hello World 1")
    # 3 s fresh, then the default STALE_TTL (30 s) during which it may be served stale.
    assert 32_000 < redis_client.pttl(page_key("/view/")) <= 33_000
    # DIFFERENCE: no key_prefix= or cache= arguments: the key is the URL, so another
    # decoration of the view at the same URL gets the same page...
    other = pagecache.cache_page(ttl=60)(hello_world)
    assert other(factory.get("/view/"), "3").content == b"Hello World 1"
    # ...and another URL its own.
    assert other(factory.get("/view/?page=2"), "4").content == b"Hello World 4"
    assert RENDERS["hello_world"] == 2


# Django: tests/cache/tests.py CacheMiddlewareTest.test_view_decorator (one request object,
# passed to the cached view again and again)
def test_a_request_object_goes_through_the_page_cache_once():
    view = pagecache.cache_page(60)(hello_world)
    request = factory.get("/view/")
    assert view(request, "1")["X-Cache"] == "MISS"
    # DIFFERENCE: pagecache marks a request as handled (so a decorated view under the
    # middleware, or inside another decorated view, does not cache twice); the same
    # object passed again just runs the view. Tests must build a request per call.
    again = view(request, "2")
    assert (again.content, "X-Cache" in again) == (b"Hello World 2", False)
    assert view(factory.get("/view/"), "3").content == b"Hello World 1"


# Django: tests/cache/tests.py CacheMiddlewareTest.test_view_decorator (key_prefix=, cache=)
@pytest.mark.parametrize("argument", [{"key_prefix": "prefix1"}, {"cache": "other"}])
def test_cache_page_takes_no_key_prefix_or_cache_alias(argument):
    # DIFFERENCE: KEY_PREFIX and CACHE are PAGECACHE settings, the same for every page.
    with pytest.raises(TypeError, match="unexpected keyword argument"):
        pagecache.cache_page(3, **argument)


# Django: tests/cache/tests.py CacheMiddlewareTest.test_cache_page_timeout (a timeout of 0)
def test_cache_page_refuses_a_ttl_of_zero():
    # DIFFERENCE: Django's cache_page(0) serves the view uncached; pagecache refuses it
    # (keep a view out of the cache with @pagecache.exempt or never_cache).
    with pytest.raises(ValueError, match=r"ttl=\.\.\.\) must be an int >= 1 or None, not 0"):
        pagecache.cache_page(0)


# Django: tests/cache/tests.py CacheMiddlewareTest.test_cache_page_timeout
@pytest.mark.parametrize(("max_age", "ttl"), [(1, 100), (1000, 5)])
def test_the_page_ttl_wins_over_max_age(redis_client, max_age, ttl):
    view = pagecache.cache_page(ttl=ttl)(cache_control(max_age=max_age)(hello_world))
    assert view(factory.get("/view/"), "1").content == b"Hello World 1"
    # How long the page is kept is the TTL (plus the stale window), whatever max-age says.
    assert (ttl + 29) * 1000 < redis_client.pttl(page_key("/view/")) <= (ttl + 30) * 1000
    assert view(factory.get("/view/"), "2").content == b"Hello World 1"


# Django: tests/cache/tests.py CacheMiddlewareTest.test_cache_page_timeout (max-age=0 under
# the middleware: UpdateCacheMiddleware does not store a page whose max-age is 0)
def test_max_age_zero_does_not_keep_a_page_out_of_the_cache():
    client = Client()
    client.get("/max-age-0/")
    response = client.get("/max-age-0/")
    # DIFFERENCE: Cache-Control: max-age is for browsers; only TTL / cache_page(ttl=...)
    # decide how long pagecache keeps a page. Opt out with private, no-cache, no-store
    # (never_cache) or @pagecache.exempt.
    assert (response["X-Cache"], response.content) == ("HIT", b"max-age=0 1")


# Django: tests/cache/tests.py CacheMiddlewareTest.test_cache_control_not_cached
@pytest.mark.parametrize("directive", ["private", "no-cache", "no-store", "PRIVATE", "NO-store"])
def test_private_no_cache_and_no_store_responses_are_not_cached(directive):
    @pagecache.cache_page(3)
    def view(request, value):
        # Not @cache_control: it lower-cases the directives.
        return HttpResponse(f"Hello World {value}", headers={"Cache-Control": directive})

    assert view(factory.get("/view/"), "1").content == b"Hello World 1"
    second = view(factory.get("/view/"), "2")
    assert (second["X-Cache"], second.content) == ("MISS", b"Hello World 2")


# Django: tests/cache/tests.py CacheMiddlewareTest.test_vary_asterisk_not_cached
@pytest.mark.parametrize("vary", ["*", " * ", "Cookie, * , Pony"])
def test_vary_asterisk_is_not_cached(vary):
    @pagecache.cache_page(3)
    def view(request, value):
        return HttpResponse(f"Hello World {value}", headers={"Vary": vary})

    assert view(factory.get("/view/"), "1").content == b"Hello World 1"
    assert view(factory.get("/view/"), "2").content == b"Hello World 2"


# Django: tests/cache/tests.py CacheMiddlewareTest.test_vary_on_authorization_for_authorization_header,  # noqa: E501
# CacheMiddlewareTest.test_no_vary_on_authorization_for_empty_authorization_header,
# CacheMiddlewareTest.test_authorization_header_exceptions
@pytest.mark.parametrize(
    ("url", "authorization"),
    [("/hello/", "token"), ("/hello/", ""), ("/public/", "token")],
    ids=["authorization", "empty-authorization", "public-with-authorization"],
)
def test_a_request_with_authorization_bypasses_the_cache(url, authorization):
    client = Client()
    stored = client.get(url)  # the anonymous copy
    for _ in range(2):
        response = client.get(url, HTTP_AUTHORIZATION=authorization)
        # DIFFERENCE: Django stores such responses with Vary: Authorization (or, when
        # public, shares them), and treats an empty header as none. pagecache never serves
        # or stores a request that carries an Authorization header at all, empty or public.
        assert response["X-Cache"] == "BYPASS"
        assert response.content != stored.content
        assert "Authorization" not in response.get("Vary", "")
    assert client.get(url).content == stored.content


# Django: tests/cache/tests.py CacheMiddlewareTest.test_sensitive_cookie_not_cached
@pytest.mark.parametrize("cookies", [{}, {"unrelated": "value"}], ids=["no-cookie", "a-cookie"])
def test_a_page_using_the_csrf_token_is_stored_and_each_visitor_gets_their_own(cookies):
    first_visitor, second_visitor = Client(), Client()
    for visitor in (first_visitor, second_visitor):
        visitor.cookies.load(cookies)
    first = first_visitor.get("/csrf/")
    assert first["X-Cache"] == "MISS"
    assert first.cookies["csrftoken"].value  # CsrfViewMiddleware set the cookie
    second = second_visitor.get("/csrf/")
    # DIFFERENCE: Django does not cache a response that sets the CSRF cookie. pagecache
    # stores the page with the token taken out and gives every visitor a valid token of
    # their own, with their own cookie ("forms stay cacheable").
    assert second["X-Cache"] == "HIT"
    assert RENDERS["csrf"] == 1
    token = second.content.decode()
    assert len(token) == 64 and token != first.content.decode()
    # On a hit the new visitor's cookie is set as CsrfViewMiddleware sets it.
    secret = second.cookies["csrftoken"].value
    assert secret != first.cookies["csrftoken"].value
    assert _unmask_cipher_token(token) == secret
    # A visitor who has a CSRF cookie gets a token of that secret, and no new cookie.
    again = first_visitor.get("/csrf/")
    assert again["X-Cache"] == "HIT" and "csrftoken" not in again.cookies
    assert _unmask_cipher_token(again.content.decode()) == first.cookies["csrftoken"].value


# Django: tests/cache/tests.py CacheMiddlewareTest.test_sensitive_cookie_not_cached (there,
# the CSRF cookie always comes from CsrfViewMiddleware, set in response.cookies)
def test_a_visitor_served_a_cached_form_can_post_it_back():
    Client().get("/csrf-form/")  # stored
    visitor = Client(enforce_csrf_checks=True)
    page = visitor.get("/csrf-form/")
    assert page["X-Cache"] == "HIT"
    (token,) = re.findall(r'name="csrfmiddlewaretoken" value="([A-Za-z0-9]{64})"', page.text)
    assert "csrftoken" in page.cookies  # as CsrfViewMiddleware would have set it
    assert visitor.post("/accept-post/", {"csrfmiddlewaretoken": token}).status_code == 200


# Django: tests/cache/tests.py CacheMiddlewareTest.test_sensitive_cookie_not_cached (a new
# cookie not present in the request: here the session cookie of a session just written)
def test_a_response_that_starts_a_session_is_not_cached():
    for n in (1, 2):
        response = Client().get("/writes-session/")
        assert response.cookies["sessionid"].value
        assert (response["X-Cache"], response.content) == ("MISS", f"session {n}".encode())


# Django: tests/cache/tests.py CacheMiddlewareTest.test_refreshed_cookie_not_cached
def test_a_response_refreshing_a_cookie_is_not_cached():
    client = Client()
    client.cookies["session"] = "old_value"
    for _ in range(2):
        response = client.get("/refreshes-cookie/")
        assert response["X-Cache"] == "MISS"
        assert response.cookies["session"].value == "new_value"
        client.cookies["session"] = "old_value"
    assert RENDERS["refresh"] == 2


# Django: tests/cache/tests.py BaseCacheTests.test_cache_write_unpicklable_object
def test_a_response_setting_a_cookie_is_never_stored():
    client = Client()
    for _ in range(2):
        response = client.get("/sets-cookie/")
        assert response.content == b"Testing cookie serialization."
        assert response.cookies["foo"].value == "bar"
        # DIFFERENCE: Django stores it (cookies included) unless it varies on Cookie, and
        # replays the cookie to everyone. pagecache never stores a response that sets one.
        assert response["X-Cache"] == "MISS"
    assert RENDERS["sets_cookie"] == 2


# Django: tests/cache/tests.py CacheMiddlewareTest.test_304_response_has_http_caching_headers_but_not_cached  # noqa: E501
def test_a_304_from_the_view_is_not_stored():
    calls = []

    @pagecache.cache_page(2)
    def view(request):
        calls.append(request)
        return HttpResponseNotModified()

    for _ in range(2):
        response = view(factory.get("/view/"))
        assert response.status_code == 304
        assert response["X-Cache"] == "MISS"
        # DIFFERENCE: pagecache adds no Cache-Control or Expires of its own.
        assert "Cache-Control" not in response and "Expires" not in response
    assert len(calls) == 2


# Django: tests/middleware/tests.py ConditionalGetMiddlewareTest.test_if_none_match_and_same_etag,
# ConditionalGetMiddlewareTest.test_no_head (Django's cache middleware leaves conditional
# requests to ConditionalGetMiddleware, so its cache tests have none)
def test_a_hit_answers_if_none_match_with_a_304():
    client = Client()
    client.get("/etag/")
    response = client.get("/etag/", HTTP_IF_NONE_MATCH='"v1"')
    # DIFFERENCE: Django's cache middleware returns the stored 200 and leaves 304s to
    # ConditionalGetMiddleware; pagecache answers conditional requests on a hit itself.
    assert (response.status_code, response["X-Cache"]) == (304, "HIT")
    assert response["ETag"] == '"v1"' and response.content == b""
    assert client.get("/etag/", HTTP_IF_NONE_MATCH='"v0"').status_code == 200
    # DIFFERENCE: a HEAD gets its 304 too (RFC 9110 §13.1.2; ConditionalGetMiddleware
    # leaves HEAD alone because it cannot compute an ETag without the body).
    assert client.head("/etag/", HTTP_IF_NONE_MATCH='"v1"').status_code == 304
    assert RENDERS["etag"] == 1


# Django: tests/cache/tests.py CacheMiddlewareTest.test_304_response_has_http_caching_headers_but_not_cached  # noqa: E501
# (a view that answers conditional requests itself, on a cold cache)
def test_the_render_that_stores_a_page_gets_the_whole_request_and_the_client_its_304():
    client = Client()
    revalidating = client.get("/conditional/", HTTP_IF_NONE_MATCH='"v1"')
    # DIFFERENCE: under Django the view answers 304 and nothing is stored. pagecache
    # withholds the conditions from the render that will be stored (a 304 cannot be),
    # stores the whole page and answers the client's condition from it.
    assert (revalidating.status_code, revalidating["X-Cache"]) == (304, "MISS")
    page = client.get("/conditional/")
    assert (page.status_code, page["X-Cache"], page.content) == (200, "HIT", b"conditional 1")


# Django: tests/cache/tests.py CacheMiddlewareTest.test_cache_control_max_age
def test_a_hit_carries_its_age(redis_client):
    client = Client()
    first = client.get("/hello/")
    # DIFFERENCE: Django adds Expires and Cache-Control: max-age=<timeout> to the pages it
    # caches, so browsers keep them for the whole timeout, past any invalidation. pagecache
    # sends no Expires; its Cache-Control makes browsers revalidate and lets shared caches
    # keep the page for its TTL less the Age of each hit (CACHE_CONTROL, SPEC §11).
    assert "Age" not in first and "Expires" not in first
    assert first["Cache-Control"] == "max-age=0, s-maxage=30, must-revalidate"
    # Stored 1.5 s ago: 30 s TTL + 30 s stale window, minus 1.5 s.
    redis_client.pexpire(page_key("/hello/"), 60_000 - 1_500)
    second = client.get("/hello/")
    assert (second["X-Cache"], second["Age"]) == ("HIT", "1")
    assert "Expires" not in second
    assert second["Cache-Control"] == "max-age=0, s-maxage=30, must-revalidate"


# == tests/cache/tests.py: CacheHEADTest ===================================================


# Django: tests/cache/tests.py CacheHEADTest.test_head_with_cached_get
def test_head_is_answered_from_the_get_entry():
    client = Client()
    get = client.get("/hello/")
    head = client.head("/hello/")
    assert (head.status_code, head["X-Cache"], head.content) == (200, "HIT", b"")
    assert head["Content-Type"] == get["Content-Type"]
    assert RENDERS["hello"] == 1
    # Called directly, as Django's test calls FetchFromCacheMiddleware (the test client
    # drops a HEAD response's body itself, whatever the cache returned).
    view = pagecache.cache_page(60)(hello_world)
    view(factory.get("/view/"), "1")
    direct = view(factory.head("/view/"), "2")
    assert (direct["X-Cache"], direct.content) == ("HIT", b"")


# Django: tests/cache/tests.py CacheHEADTest.test_head_caches_correctly
def test_a_head_request_is_not_stored():
    client = Client()
    # DIFFERENCE: Django stores the response to a HEAD and answers the next HEAD from it;
    # pagecache stores GET renders only (a HEAD has no body to store).
    assert [client.head("/hello/")["X-Cache"] for _ in range(2)] == ["MISS", "MISS"]
    assert client.get("/hello/")["X-Cache"] == "MISS"
    assert client.get("/hello/")["X-Cache"] == "HIT"  # the HEADs did not keep GET out
    assert RENDERS["hello"] == 3


# == tests/cache/tests.py: CacheI18nTest ===================================================


# Django: tests/cache/tests.py CacheI18nTest.test_middleware (i18n part),
# CacheI18nTest.test_cache_key_i18n_translation
@override_settings(MIDDLEWARE=LOCALE, USE_I18N=True, LANGUAGES=TWO_LANGUAGES, LANGUAGE_CODE="en")
def test_the_active_language_is_part_of_the_key(redis_client):
    client = Client()
    assert client.get("/language/", HTTP_ACCEPT_LANGUAGE="en").content == b"en 1"
    assert client.get("/language/", HTTP_ACCEPT_LANGUAGE="es").content == b"es 2"
    english = client.get("/language/", HTTP_ACCEPT_LANGUAGE="en")
    spanish = client.get("/language/", HTTP_ACCEPT_LANGUAGE="es")
    assert (english["X-Cache"], english.content) == ("HIT", b"en 1")
    assert (spanish["X-Cache"], spanish.content) == ("HIT", b"es 2")
    stored = stored_page_keys(redis_client)
    assert any("|l=en" in key for key in stored) and any("|l=es" in key for key in stored)


# Django: tests/cache/tests.py CacheI18nTest.test_cache_key_i18n_translation_accept_language
@override_settings(MIDDLEWARE=LOCALE, USE_I18N=True, LANGUAGES=TWO_LANGUAGES, LANGUAGE_CODE="en")
def test_each_spelling_of_accept_language_is_its_own_variant():
    client = Client()
    spellings = ["en-us", "en-US,en;q=0.8", "ko;q=1.0,en;q=0.5"]
    for n, accept_language in enumerate(spellings, 1):
        response = client.get("/language/", HTTP_ACCEPT_LANGUAGE=accept_language)
        # DIFFERENCE: with USE_I18N Django ignores Accept-Language in Vary (the language
        # is in the key), so these share one entry. pagecache keys every header the
        # response's Vary names by its value, as HTTP caches do: one variant each.
        assert (response["X-Cache"], response.content) == ("MISS", f"en {n}".encode())
    again = client.get("/language/", HTTP_ACCEPT_LANGUAGE="en-us")
    assert (again["X-Cache"], again.content) == ("HIT", b"en 1")


# Django: tests/cache/tests.py CacheI18nTest.test_cache_key_no_i18n
@pytest.mark.parametrize(
    ("middleware", "use_i18n"),
    [(LOCALE, False), (MIDDLEWARE, True)],
    ids=["i18n-off", "no-locale-middleware"],
)
def test_no_language_in_the_key_when_the_site_does_not_translate(
    redis_client, middleware, use_i18n
):
    # DIFFERENCE (second case): Django keys on the language whenever USE_I18N is on;
    # pagecache only when LocaleMiddleware is installed, the one way it can change.
    with override_settings(MIDDLEWARE=middleware, USE_I18N=use_i18n, LANGUAGES=TWO_LANGUAGES):
        client = Client()
        client.get("/hello/", HTTP_ACCEPT_LANGUAGE="es")
        assert client.get("/hello/", HTTP_ACCEPT_LANGUAGE="es")["X-Cache"] == "HIT"
    stored = stored_page_keys(redis_client)
    assert stored and not any("|l=" in key for key in stored)


# Django: tests/cache/tests.py CacheI18nTest.test_cache_key_i18n_timezone
@override_settings(USE_TZ=True, TIME_ZONE="Europe/Madrid")
def test_the_time_zone_is_not_in_the_key_unless_asked_for(redis_client):
    client = Client()
    client.get("/hello/")
    # DIFFERENCE: Django adds the current time zone's name to every key when USE_TZ is
    # on; pagecache does not (it is the same for every request unless a site's own
    # middleware changes it). A site that renders per visitor's time zone says so:
    assert stored_page_keys(redis_client) == [page_key("/hello/")]
    with override_settings(PAGECACHE={"VARY_ON_REQUEST": [f"{__name__}.time_zone_of"]}):
        client.get("/hello/")
        client.cookies["tz"] = "Asia/Tokyo"
        tokyo = client.get("/hello/")
        assert (tokyo["X-Cache"], tokyo.content) == ("MISS", b"Hello World 3")
        assert client.get("/hello/").content == b"Hello World 3"
        del client.cookies["tz"]
        assert client.get("/hello/").content == b"Hello World 2"


# Django: tests/cache/tests.py CacheI18nTest.test_middleware (QUERY_STRING part),
# CacheUtils.test_get_cache_key_with_query
def test_the_query_string_is_part_of_the_key():
    client = Client()
    assert client.get("/hello/?foo=bar&other=true").content == b"Hello World 1"
    assert client.get("/hello/?foo=bar&other=true")["X-Cache"] == "HIT"
    different = client.get("/hello/?foo=bar&somethingelse=true")
    assert (different["X-Cache"], different.content) == ("MISS", b"Hello World 2")
    assert client.get("/hello/").content == b"Hello World 3"


# Django: tests/cache/tests.py CacheUtils.test_get_cache_key_with_query (order, tracking)
def test_parameter_order_and_tracking_parameters_do_not_split_a_page():
    client = Client()
    client.get("/hello/?foo=bar&other=true")
    # DIFFERENCE: Django keys on the query string as sent; pagecache sorts the parameters
    # and leaves out IGNORED_QUERY_PARAMS (utm_*, gclid, fbclid), which the view never sees.
    for url in (
        "/hello/?other=true&foo=bar",
        "/hello/?foo=bar&utm_source=newsletter&other=true",
        "/hello/?gclid=abc&other=true&foo=bar",
    ):
        response = client.get(url)
        assert (response["X-Cache"], response.content) == ("HIT", b"Hello World 1")


# Django: tests/cache/tests.py CacheI18nTest.test_middleware_doesnt_cache_streaming_response
def test_a_streaming_response_is_not_cached():
    client = Client()
    for _ in range(2):
        response = client.get("/streaming/")
        assert response["X-Cache"] == "MISS"
        assert b"".join(response.streaming_content) == b"Check for cache with streaming content."
    assert RENDERS["streaming"] == 2


# == tests/cache/tests.py: CacheUtils ======================================================


# Django: tests/cache/tests.py CacheUtils.test_cache_key_varies_by_url
def test_each_host_has_its_own_page(redis_client):
    client = Client()
    assert client.get("/host/", HTTP_HOST="example.com").content == b"example.com 1"
    assert client.get("/host/", HTTP_HOST="other.example.com").content == b"other.example.com 2"
    assert client.get("/host/", HTTP_HOST="example.com")["X-Cache"] == "HIT"
    assert redis_client.exists(page_key("/host/", host="example.com"))
    assert redis_client.exists(page_key("/host/", host="other.example.com"))
    secure = client.get("/host/", HTTP_HOST="example.com", secure=True)  # the scheme too
    assert (secure["X-Cache"], secure.content) == ("MISS", b"example.com 3")


# Django: tests/cache/tests.py CacheUtils.test_learn_cache_key
def test_each_value_of_a_varied_header_has_its_own_entry():
    client = Client()
    assert client.get("/pony/", HTTP_PONY="a").content == b"pony=a 1"
    assert client.get("/pony/", HTTP_PONY="b").content == b"pony=b 2"
    hit = client.get("/pony/", HTTP_PONY="a")
    assert (hit["X-Cache"], hit.content, hit["Vary"]) == ("HIT", b"pony=a 1", "Pony")
    assert client.head("/pony/", HTTP_PONY="b")["X-Cache"] == "HIT"


# Django: tests/cache/tests.py CacheUtils.test_cache_key_blank_header
def test_a_missing_varied_header_and_an_empty_one_are_different_entries():
    client = Client()
    assert client.get("/pony/").content == b"pony=None 1"
    empty = client.get("/pony/", HTTP_PONY="")
    assert (empty["X-Cache"], empty.content) == ("MISS", b"pony= 2")
    assert client.get("/pony/").content == b"pony=None 1"
    assert client.get("/pony/", HTTP_PONY="").content == b"pony= 2"


# Django: tests/cache/tests.py CacheUtils.test_learn_cache_key (a Vary: Cookie page is
# keyed on the whole Cookie header)
def test_analytics_cookies_do_not_split_a_page_that_varies_on_cookie():
    plain = Client().get("/reads-session/")
    assert "Cookie" in plain["Vary"]  # SessionMiddleware: the session was read
    tracked = Client()
    tracked.cookies["_ga"] = "GA1.2.345.678"
    # DIFFERENCE: Django's key includes every cookie; pagecache leaves IGNORED_COOKIES
    # (analytics and ad cookies) out of the key and out of the request the view sees.
    response = tracked.get("/reads-session/")
    assert (response["X-Cache"], response.content) == ("HIT", b"visits=None 1")
    themed = Client()
    themed.cookies["theme"] = "dark"  # a cookie the site may read is part of the key
    assert themed.get("/reads-session/")["X-Cache"] == "MISS"


# Django: no test of its own: FetchFromCacheMiddleware serves the cached page to a request
# carrying a session cookie unless the page varies on Cookie (what
# CacheMiddlewareTest.test_sensitive_cookie_not_cached relies on for the response side).
@pytest.mark.parametrize("cookie", ["sessionid", "messages"])
def test_a_session_or_messages_cookie_bypasses_the_cache(cookie):
    client = Client()
    client.get("/hello/")
    client.cookies[cookie] = "abc"
    response = client.get("/hello/")
    # DIFFERENCE: with ANONYMOUS_ONLY (the default) a request carrying a BYPASS_COOKIES
    # cookie (the session cookie, the messages cookie) is never served from the cache.
    assert (response["X-Cache"], response.content) == ("BYPASS", b"Hello World 2")


# Django: no test of its own: UpdateCacheMiddleware.process_response stores 200 responses only.
@pytest.mark.parametrize(
    ("code", "stored"),
    [(200, True), (301, True), (404, True), (410, True), (302, False), (500, False)],
)
def test_which_statuses_are_stored(code, stored):
    client = Client()
    first = client.get(f"/status/{code}/")
    second = client.get(f"/status/{code}/")
    assert first.status_code == second.status_code == code
    # DIFFERENCE: pagecache also stores 203, 300, 301, 308, 404 and 410 (STATUS_CODES).
    assert second["X-Cache"] == ("HIT" if stored else "MISS")
    assert RENDERS[f"status{code}"] == (1 if stored else 2)


# == tests/decorators/test_cache.py ========================================================


# Django: tests/decorators/test_cache.py NeverCacheDecoratorTest.test_never_cache_decorator_headers,
# NeverCacheDecoratorTest.test_never_cache_decorator_headers_async_view
@pytest.mark.parametrize("url", ["/never/", "/never-async/"])
def test_never_cache_keeps_a_view_out_of_the_cache(url):
    client = Client()
    bodies = []
    for _ in range(2):
        response = client.get(url)
        assert response["X-Cache"] == "MISS"
        assert "no-store" in response["Cache-Control"] and "Expires" in response
        bodies.append(response.content)
    assert bodies[0] != bodies[1]


# Django: tests/decorators/test_cache.py NeverCacheDecoratorTest.test_wrapped_async_function_is_coroutine_function,  # noqa: E501
# NeverCacheDecoratorTest.test_wrapped_sync_function_is_not_coroutine_function
@pytest.mark.parametrize(
    "decorator", [pagecache.cache_page(ttl=5), pagecache.exempt], ids=["cache_page", "exempt"]
)
def test_decorated_views_stay_sync_or_async(decorator):
    async def async_view(request):
        return HttpResponse()

    def sync_view(request):
        return HttpResponse()

    assert iscoroutinefunction(decorator(async_view)) is True
    assert iscoroutinefunction(decorator(sync_view)) is False


# Django: tests/cache/tests.py CacheMiddlewareTest.test_view_decorator, on an async view
@pytest.mark.parametrize("middleware", [MIDDLEWARE, WITHOUT_PAGECACHE], ids=["middleware", "alone"])
def test_cache_page_caches_an_async_view(redis_client, middleware):
    with override_settings(MIDDLEWARE=middleware):
        client = Client()
        first, second = client.get("/async-cached/"), client.get("/async-cached/")
    assert first.content == second.content == b"async 1"
    assert (first["X-Cache"], second["X-Cache"]) == ("MISS", "HIT")
    assert 149_000 < redis_client.pttl(page_key("/async-cached/")) <= 150_000  # ttl=120


# Django: tests/decorators/test_cache.py NeverCacheDecoratorTest.test_never_cache_decorator_http_request,  # noqa: E501
# NeverCacheDecoratorTest.test_never_cache_decorator_http_request_async_view
@pytest.mark.parametrize("name", ["cache_page", "exempt"])
def test_a_decorator_on_a_method_without_method_decorator_says_so(name):
    decorator = pagecache.cache_page(ttl=5) if name == "cache_page" else pagecache.exempt

    class MyClass:
        @decorator
        def a_view(self, request):
            return HttpResponse()

        @decorator
        async def async_view(self, request):
            return HttpResponse()

    message = rf"didn't receive an HttpRequest.*method_decorator\(pagecache\.{name}\)"
    with pytest.raises(TypeError, match=message):
        MyClass().a_view(factory.get("/view/"))
    with pytest.raises(TypeError, match=message):
        asyncio.run(MyClass().async_view(factory.get("/view/")))


class HttpRequestProxy:
    """Django's test helper: an object that forwards every attribute to a request."""

    def __init__(self, request):
        self._request = request

    def __getattr__(self, attr):
        return getattr(self._request, attr)


# Django: tests/decorators/test_cache.py NeverCacheDecoratorTest.test_never_cache_decorator_http_request_proxy  # noqa: E501
def test_method_decorator_makes_cache_page_work_on_a_method():
    class MyClass:
        @method_decorator(pagecache.cache_page(ttl=5))
        def a_view(self, request):
            return HttpResponse(f"method {_count('method')}")

    assert MyClass().a_view(factory.get("/view/")).content == b"method 1"
    hit = MyClass().a_view(factory.get("/view/"))
    assert (hit["X-Cache"], hit.content) == ("HIT", b"method 1")
    # DIFFERENCE: Django's decorators accept anything with the request's attributes;
    # pagecache needs an actual HttpRequest.
    with pytest.raises(TypeError, match="HttpRequestProxy"):
        MyClass().a_view(HttpRequestProxy(factory.get("/view/")))


# Django: tests/decorators/test_cache.py CachePageDecoratorTest.test_cache_page
def test_cache_page_over_a_view_returning_no_response_says_so():
    def my_view(request):
        return "response"

    # DIFFERENCE: Django's cache_page passes whatever the view returns through; pagecache
    # raises the TypeError Django's handler would have raised for it anyway.
    with pytest.raises(TypeError, match=r"didn't return an HttpResponse object\. It returned str"):
        pagecache.cache_page(123)(my_view)(HttpRequest())


# == what pagecache adds: single flight and tags ============================================


# Django: no counterpart: when a page expires, CacheMiddleware renders it for every request
# that arrives until one of them has stored it again.
def test_one_request_renders_an_expired_page_while_others_get_the_stale_copy(redis_client):
    client = Client()
    client.get("/gated/")
    # Past its TTL (30 s), inside its stale window (30 s more).
    redis_client.pexpire(page_key("/gated/"), 20_000)
    GATE.update(started=threading.Event(), proceed=threading.Event())
    results = []
    renderer = threading.Thread(target=lambda: results.append(Client().get("/gated/")))
    renderer.start()
    try:
        assert GATE["started"].wait(10)  # the re-render holds the page's lock
        during = client.get("/gated/")
        # DIFFERENCE: single flight: the others are served the previous copy as STALE.
        assert (during["X-Cache"], during.content) == ("STALE", b"gated 1")
    finally:
        GATE["proceed"].set()
        renderer.join(10)
    assert (results[0]["X-Cache"], results[0].content) == ("MISS", b"gated 2")
    assert client.get("/gated/").content == b"gated 2"
    assert RENDERS["gated"] == 2


# Django: tests/cache/tests.py CacheUtils.test_get_cache_key and
# TestMakeTemplateFragmentKey.test_without_vary_on (what Django users delete to invalidate)
def test_purging_a_tag_replaces_deleting_cache_keys():
    client = Client()
    client.get("/tagged/")
    assert client.get("/tagged/")["X-Cache"] == "HIT"
    body = '{% cachetag "poll" tags="poll:1" %}poll box {{ n }}{% endcachetag %}'
    counter = Renders()
    assert render(body, {"n": counter}) == "poll box 1"
    # DIFFERENCE: no cache.delete(get_cache_key(request)) or
    # cache.delete(make_template_fragment_key(...)): one purge of a tag invalidates every
    # page and fragment carrying it.
    pagecache.purge_tags("poll:1")
    after = client.get("/tagged/")
    assert (after["X-Cache"], after.content) == ("MISS", b"poll 2")
    assert render(body, {"n": counter}) == "poll box 2"


# == tests/template_tests/syntax_tests/test_cache.py: {% cache %} -> {% cachetag %} =========


class Renders:
    """Renders as how many times it was rendered: shows whether a block ran."""

    def __init__(self):
        self.n = 0

    def __str__(self):
        self.n += 1
        return str(self.n)


def render(body, context=None):
    return engines["django"].from_string("{% load cachetag %}" + body).render(context or {})


def fragment_keys(redis_client, name):
    return [key.decode() for key in redis_client.scan_iter(f"pc:f1:{name}:*")]


# Django: tests/template_tests/syntax_tests/test_cache.py CacheTagTests.test_cache03
def test_a_block_renders_its_content(redis_client):
    assert render('{% cachetag "test" %}cache03{% endcachetag %}') == "cache03"
    assert len(fragment_keys(redis_client, "test")) == 1


# Django: tests/template_tests/syntax_tests/test_cache.py CacheTagTests.test_cache04
def test_templates_share_a_block_by_name_and_content():
    counter = Renders()
    block = '{% cachetag "test" %}block {{ n }}{% endcachetag %}'
    assert render("<p>one</p>" + block, {"n": counter}) == "<p>one</p>block 1"
    assert render("<p>two</p>" + block, {"n": counter}) == "<p>two</p>block 1"
    # DIFFERENCE: Django keys on the name (and vary-on values) only, so a block with other
    # markup gets the first block's content. pagecache keys on the block's source too: a
    # deploy that changes the markup never serves the old fragment.
    assert render('{% cachetag "test" %}cache04{% endcachetag %}') == "cache04"


# Django: tests/template_tests/syntax_tests/test_cache.py CacheTests.test_cache_regression_20130
def test_an_unquoted_name_is_a_variable():
    # DIFFERENCE: {% cache 1 regression_20130 %} names the fragment "regression_20130";
    # in {% cachetag %} an unquoted NAME is a variable (quote a literal name).
    with pytest.raises(TemplateSyntaxError, match="NAME resolved to an empty value"):
        render("{% cachetag regression_20130 %}foo{% endcachetag %}")
    assert (
        render("{% cachetag regression_20130 %}foo{% endcachetag %}", {"regression_20130": "x"})
        == "foo"
    )
    assert render('{% cachetag "regression_20130" %}foo{% endcachetag %}') == "foo"


# Django: tests/template_tests/syntax_tests/test_cache.py CacheTagTests.test_cache05,
# CacheTagTests.test_cache06, CacheTagTests.test_cache07
def test_vary_on_values_give_separate_entries():
    counter = Renders()
    block = '{% cachetag "test" foo %}cache {{ n }}{% endcachetag %}'
    assert render(block, {"foo": 1, "n": counter}) == "cache 1"
    assert render(block, {"foo": 2, "n": counter}) == "cache 2"
    assert render("<i>elsewhere</i>" + block, {"foo": 1, "n": counter}) == "<i>elsewhere</i>cache 1"


# Django: tests/template_tests/syntax_tests/test_cache.py CacheTagTests.test_cache08
def test_the_ttl_can_be_a_variable_and_is_not_part_of_the_key(redis_client):
    counter = Renders()
    context = {"foo": 2, "time": 2, "n": counter}
    assert render('{% cachetag "test" foo %}{{ n }}{% endcachetag %}', context) == "1"
    assert render('{% cachetag "test" foo ttl=time %}{{ n }}{% endcachetag %}', context) == "1"
    before = set(fragment_keys(redis_client, "test"))
    context["foo"] = 3  # a new entry, stored with the variable's TTL
    render('{% cachetag "test" foo ttl=time %}{{ n }}{% endcachetag %}', context)
    (key,) = set(fragment_keys(redis_client, "test")) - before
    assert 31_000 < redis_client.pttl(key) <= 32_000  # 2 s + the 30 s stale window


# Django: tests/template_tests/syntax_tests/test_cache.py CacheTagTests.test_cache11,
# CacheTagTests.test_cache12
def test_a_block_needs_a_name_and_nothing_else():
    with pytest.raises(TemplateSyntaxError, match="needs a fragment name"):
        render("{% cachetag %}{% endcachetag %}")
    # DIFFERENCE: the TTL is a keyword (ttl=), not a required first argument:
    # {% cachetag 1 %} is a block named "1" with the default TTL.
    assert render("{% cachetag 1 %}x{% endcachetag %}") == "x"


# Django: tests/template_tests/syntax_tests/test_cache.py CacheTagTests.test_cache13,
# CacheTagTests.test_cache14, CacheTagTests.test_cache15
@pytest.mark.parametrize(
    "context", [{}, {"foo": "fail"}, {"foo": []}], ids=["missing", "str", "list"]
)
def test_a_ttl_that_is_not_a_number_is_a_template_error(context):
    with pytest.raises(TemplateSyntaxError, match="ttl= must be an integer >= 1"):
        render('{% cachetag "bar" ttl=foo %}{% endcachetag %}', context)


# Django: tests/template_tests/syntax_tests/test_cache.py CacheTagTests.test_cache16
def test_vary_on_values_with_spaces():
    counter = Renders()
    block = "{% cachetag foo bar %}{{ n }}{% endcachetag %}"
    assert render(block, {"foo": "foo", "bar": "with spaces", "n": counter}) == "1"
    assert render(block, {"foo": "foo", "bar": "with", "n": counter}) == "2"
    assert render(block, {"foo": "foo", "bar": "with spaces", "n": counter}) == "1"


# Django: tests/template_tests/syntax_tests/test_cache.py CacheTagTests.test_cache17
def test_a_long_vary_on_value_keeps_the_key_short(redis_client):
    poem = (
        "Oh freddled gruntbuggly/Thy micturations are to me/As plurdled gabbleblotchits/"
        "On a lurgid bee/That mordiously hath bitled out/Its earted jurtles/"
    ) * 20
    counter = Renders()
    block = "{% cachetag long_cache_key poem %}Some Content {{ n }}{% endcachetag %}"
    context = {"long_cache_key": "long_cache_key", "poem": poem, "n": counter}
    assert render(block, context) == "Some Content 1"
    assert render(block, context) == "Some Content 1"
    (key,) = fragment_keys(redis_client, "long_cache_key")
    assert len(key) < 100


# Django: tests/template_tests/syntax_tests/test_cache.py CacheTagTests.test_cache18
def test_whitespace_in_a_filter_argument(redis_client):
    body = '{% cachetag "cache18" ttl=time|default:"x y" %}cache18{% endcachetag %}'
    assert render(body, {"time": 2}) == "cache18"
    (key,) = fragment_keys(redis_client, "cache18")
    assert 31_000 < redis_client.pttl(key) <= 32_000


# Django: tests/template_tests/syntax_tests/test_cache.py CacheTagTests.test_none_timeout
def test_ttl_none_means_the_default_ttl(redis_client):
    counter = Renders()
    body = '{% cachetag "fragment19" ttl=None %}content {{ n }}{% endcachetag %}'
    assert render(body, {"n": counter}) == "content 1"
    assert render(body, {"n": counter}) == "content 1"
    (key,) = fragment_keys(redis_client, "fragment19")
    # DIFFERENCE: nothing is cached forever: ttl=None is TTL (30 s), + 30 s stale window.
    assert 59_000 < redis_client.pttl(key) <= 60_000


# Django: tests/template_tests/syntax_tests/test_cache.py CacheTests.test_cache_fragment_cache,
# CacheTests.test_cache_missing_backend
def test_the_cache_is_a_setting_not_a_using_argument(redis_client):
    # DIFFERENCE: no using= and no "template_fragments" alias: pages, fragments and tag
    # versions live in one cache, PAGECACHE["CACHE"].
    with pytest.raises(TemplateSyntaxError, match="unknown keyword 'using'"):
        render('{% cachetag "backend" using="unknown" %}bar{% endcachetag %}')
    counter = Renders()
    with override_settings(PAGECACHE={"CACHE": "locmem"}):
        body = '{% cachetag "fragment" %}foo {{ n }}{% endcachetag %}'
        assert render(body, {"n": counter}) == "foo 1"
        assert render(body, {"n": counter}) == "foo 1"
    assert fragment_keys(redis_client, "fragment") == []


# == tests/cache/tests.py: TestMakeTemplateFragmentKey ======================================


# Django: tests/cache/tests.py TestMakeTemplateFragmentKey.test_proper_escaping,
# TestMakeTemplateFragmentKey.test_with_many_vary_on
def test_no_vary_on_value_can_spell_another_pair():
    body = '{% cachetag "spam" a b %}{{ a }}/{{ b }}{% endcachetag %}'
    # Joined with ":", both pairs of each line would read the same.
    for first, second in [(("abc:def%", "x"), ("abc", "def%:x")), (("a:s:b", "c"), ("a", "b:s:c"))]:
        assert render(body, dict(zip("ab", first, strict=True))) == "/".join(first)
        assert render(body, dict(zip("ab", second, strict=True))) == "/".join(second)
        assert render(body, dict(zip("ab", first, strict=True))) == "/".join(first)


# Django: tests/cache/tests.py TestMakeTemplateFragmentKey.test_with_ints_vary_on
def test_a_number_and_its_string_are_different_vary_on_values():
    counter = Renders()
    block = '{% cachetag "foo" v %}{{ n }}{% endcachetag %}'
    assert render(block, {"v": 1, "n": counter}) == "1"
    assert render(block, {"v": 1, "n": counter}) == "1"
    # DIFFERENCE: Django keys on str(value), so 1 and "1" share an entry; pagecache keys
    # values by type too (and a model instance by its class and primary key).
    assert render(block, {"v": "1", "n": counter}) == "2"


# Django: tests/cache/tests.py TestMakeTemplateFragmentKey.test_with_unicode_vary_on
def test_unicode_vary_on_values():
    counter = Renders()
    block = '{% cachetag "foo" a b %}{{ n }}{% endcachetag %}'
    assert render(block, {"a": "42º", "b": "😀", "n": counter}) == "1"
    assert render(block, {"a": "42º", "b": "😀", "n": counter}) == "1"
    assert render(block, {"a": "42º", "b": "😁", "n": counter}) == "2"
