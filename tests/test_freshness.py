"""SPEC §6.2 as sites use it: views read their rows before the template reaches
``{% cachetag %}``, a writer commits and purges in between, and nothing older than the
completed purge is served afterwards — for pages and nested fragments, both template
engines, anonymous and logged-in visitors, the middleware and the WSGI fast path.

Ordering is by events (the view waits at ``GATE`` until the writer has committed), never
by sleeps.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Iterator

import pytest
from django.contrib.auth.models import User
from django.core.handlers.wsgi import WSGIHandler
from django.db import connections, transaction
from django.test import Client, override_settings

import pagecache
from pagecache import clock, outage
from pagecache.core import entry, keys
from pagecache.wsgi import PageCacheWSGI
from tests.freshness_site import GATE, MIDDLEWARE
from tests.test_wsgi import WSGIClient
from tests.testapp.models import Article

pytestmark = pytest.mark.django_db(transaction=True)

HOOKED = {"MODELS": ["testapp.article"]}
DRIVERS = ["middleware", "wsgi", "asgi"]


def logged_in_cookie() -> str:
    client = Client()
    client.force_login(User.objects.create_user("reader"))
    return f"sessionid={client.cookies['sessionid'].value}"


def getter(driver: str, visitor: str) -> Callable[[str], tuple[str, str]]:
    """GET through the middleware (test client), the WSGI fast path, or the middleware
    under ASGI (its async driver); (X-Cache, body)."""
    cookie = logged_in_cookie() if visitor == "logged-in" else ""
    if driver == "asgi":
        from asgiref.sync import async_to_sync
        from django.test import AsyncClient

        def get(url: str) -> tuple[str, str]:
            headers = {"cookie": cookie} if cookie else {}
            response = async_to_sync(AsyncClient().get)(url, headers=headers)
            return response.get("X-Cache", ""), response.content.decode()

        return get
    if driver == "middleware":

        def get(url: str) -> tuple[str, str]:
            client = Client()
            response = client.get(url, HTTP_COOKIE=cookie) if cookie else client.get(url)
            return response.get("X-Cache", ""), response.content.decode()
    else:
        wsgi = WSGIClient(PageCacheWSGI(WSGIHandler()))

        def get(url: str) -> tuple[str, str]:
            extra = {"HTTP_COOKIE": cookie} if cookie else {}
            response = wsgi.get(url, **extra)
            return response["X-Cache"], response.content.decode()

    return get


def titles(body: str) -> set[str]:
    """Every title a response shows, from both fragment levels."""
    return set(re.findall(r'data-title="([^"]*)"', body)) | set(re.findall(r"<b>([^<]*)</b>", body))


def race(get: Callable[[str], tuple[str, str]], url: str, write: Callable[[], None]) -> str:
    """One request reads its rows; ``write`` commits and purges; then the request renders."""
    results: list[tuple[str, str]] = []
    GATE.arm()

    def request() -> None:
        try:
            results.append(get(url))
        finally:
            connections.close_all()  # this thread's connection would outlive the test

    thread = threading.Thread(target=request)
    thread.start()
    assert GATE.read.wait(10), "the view never read its rows"
    write()  # completes (commit + purge) while the request holds the old rows
    GATE.proceed.set()
    thread.join(10)
    assert results, "the racing request did not finish"
    return results[0][1]


def save_title(article: Article, title: str) -> Callable[[], None]:
    def write() -> None:
        with transaction.atomic():  # as a view saving a form does; MODELS purges at commit
            article.title = title
            article.save()

    return write


@pytest.mark.parametrize("engine", ["django", "jinja2"])
@pytest.mark.parametrize("visitor", ["anonymous", "logged-in"])
@pytest.mark.parametrize("driver", DRIVERS)
def test_fragments_rendered_from_rows_read_before_a_purge_are_never_served_after_it(
    rows_site, engine, visitor, driver
):
    article = Article.objects.create(title="old")
    get = getter(driver, visitor)
    url = f"/articles/?engine={engine}"
    raced = race(get, url, save_title(article, "new"))
    assert titles(raced) == {"old"}  # it began before the write: old rows are fine here
    # Every request that starts after the purge completed shows the new rows, in the page
    # and in both fragment levels, however it is served.
    for _ in range(3):
        status, body = get(url)
        assert titles(body) == {"new"}, (status, body)
    if visitor == "anonymous":
        assert get(url)[0] == "HIT"


#: Async views: the template rendered in the event loop (both engines), and
#: ``acached_fragment`` nested in ``acached_fragment``.
ASYNC_VIEWS = ["/async/articles/?engine=django", "/async/articles/?engine=jinja2", "/async/direct/"]


@pytest.mark.parametrize("url", ASYNC_VIEWS)
@pytest.mark.parametrize("visitor", ["anonymous", "logged-in"])
@pytest.mark.parametrize("driver", DRIVERS)
def test_async_views_never_serve_fragments_of_rows_read_before_a_purge(
    rows_site, url, visitor, driver
):
    article = Article.objects.create(title="old")
    get = getter(driver, visitor)
    assert titles(race(get, url, save_title(article, "new"))) == {"old"}
    for _ in range(3):
        status, body = get(url)
        assert titles(body) == {"new"}, (status, body)
    if visitor == "anonymous":
        assert get(url)[0] == "HIT"


@pytest.mark.parametrize("visitor", ["anonymous", "logged-in"])
@pytest.mark.parametrize("driver", DRIVERS)
def test_a_request_that_arrived_while_the_cache_was_unusable_stores_no_fragment_of_its_rows(
    rows_site, redis_server, driver, visitor
):
    """A fresh worker (no purge clock seen yet) whose request arrives while the cache is
    unusable has no start; the cache answers again before the template reaches the blocks,
    after a purge of the rows the view holds: the blocks' own lookups must not lend them a
    start (found by the soak, in the phase after its workers were killed)."""
    article = Article.objects.create(title="old")
    get = getter(driver, visitor)
    url = "/articles/"
    get(url)  # cached before the fault
    clock.forget()
    outage.breaker.failed()  # unusable when the request arrives

    def write() -> None:
        outage.breaker.succeeded()  # ...usable again while the view holds its rows
        save_title(article, "new")()

    assert titles(race(get, url, write)) == {"old"}
    for _ in range(3):
        status, body = get(url)
        assert titles(body) == {"new"}, (status, body)
    # Nothing was marked uncacheable: the renders since stored the new rows' fragments.
    client = redis_server.client()
    stored = [client.get(key) or b"" for key in client.scan_iter(match="pc:f1:title:*")]
    assert stored and all(b"<b>new</b>" in value for value in stored)


def test_a_page_and_its_fragments_are_cached_again_after_the_race(rows_site):
    article = Article.objects.create(title="old")
    get = getter("middleware", "anonymous")
    race(get, "/articles/", save_title(article, "new"))
    assert get("/articles/")[0] == "MISS"
    assert get("/articles/") == ("HIT", get("/articles/")[1])
    # A logged-in visitor's page is rendered, but its fragments come from the cache.
    with override_settings(PAGECACHE={**HOOKED, "STATUS_HEADER": "X-Cache"}):
        status, body = getter("middleware", "logged-in")("/articles/")
    assert (status, titles(body)) == ("BYPASS", {"new"})


@pytest.mark.parametrize("driver", DRIVERS)
def test_cached_fragment_called_from_a_view_starts_with_the_request(rows_site, driver):
    Article.objects.create(title="a")
    get = getter(driver, "anonymous")

    def write() -> None:
        Article.objects.create(title="b")  # autocommit save: MODELS purges the model tag

    assert race(get, "/direct/", write) == "a"
    assert get("/direct/")[1] == "a,b"


# Without pagecache's middleware: fragments and @cache_page still start with the request.
BARE = [m for m in MIDDLEWARE if not m.startswith("pagecache.")]


@pytest.fixture
def bare_site() -> Iterator[None]:
    with override_settings(ROOT_URLCONF="tests.freshness_site", MIDDLEWARE=BARE, PAGECACHE=HOOKED):
        yield
    GATE.disarm()


@pytest.mark.parametrize("handler", ["wsgi", "asgi"])
@pytest.mark.parametrize("url", ["/direct/", "/articles/?engine=django"])
def test_without_the_middleware_fragments_start_when_the_request_did(bare_site, url, handler):
    """Under ASGI the arrival is noted by a signal receiver that may run in a task of its
    own (Django 5.2): a fragment with no request then stores nothing, rather than start at
    its own lookup — either way nothing older than the purge is served after it."""
    article = Article.objects.create(title="a")
    # Django's handler, no pagecache in front: the test client, or the ASGI handler.
    get = getter("middleware" if handler == "wsgi" else "asgi", "anonymous")

    def write() -> None:
        with transaction.atomic():
            article.title = "b"
            article.save()

    race(get, url, write)
    body = get(url)[1]
    assert "a" not in (titles(body) if "articles" in url else set(body.split(",")))


@pytest.mark.parametrize("url", ["/direct/", "/articles/?engine=django"])
def test_without_the_middleware_a_request_arriving_while_the_cache_was_unusable_stores_nothing(
    bare_site, url
):
    article = Article.objects.create(title="a")
    get = getter("middleware", "anonymous")
    clock.forget()  # a fresh worker: its first request asks the cache for the clock...
    outage.breaker.failed()  # ...which is unusable then

    def write() -> None:
        outage.breaker.succeeded()
        with transaction.atomic():
            article.title = "b"
            article.save()

    race(get, url, write)
    body = get(url)[1]
    assert "a" not in (titles(body) if "articles" in url else set(body.split(",")))


def test_cache_page_alone_starts_before_the_middleware_that_read_the_rows(bare_site):
    article = Article.objects.create(title="a")
    middleware = [*BARE, "tests.freshness_site.rows_middleware"]
    with override_settings(MIDDLEWARE=middleware):
        get = getter("middleware", "anonymous")

        def write() -> None:
            with transaction.atomic():
                article.title = "b"
                article.save()

        assert race(get, "/decorated/", write) == "a"
        assert get("/decorated/")[1] == "b"


@pytest.mark.parametrize("driver", ["middleware", "asgi"])
def test_the_middleware_placed_below_one_that_reads_rows_starts_before_it(bare_site, driver):
    """W001 warns when pagecache is not first; if a site places it below a middleware
    that reads data (a menu, a banner), its page lookup comes after that read: the render
    must start when the request arrived, not at the lookup."""
    article = Article.objects.create(title="a")
    middleware = ["tests.freshness_site.rows_middleware", *MIDDLEWARE]
    with override_settings(MIDDLEWARE=middleware, PAGECACHE=HOOKED):
        get = getter(driver, "anonymous")

        def write() -> None:
            with transaction.atomic():
                article.title = "b"
                article.save()

        assert race(get, "/decorated/", write) == "a"
        assert get("/decorated/")[1] == "b"


def test_rendering_block_starts_fragments_before_their_data_is_read(rows_site):
    Article.objects.create(title="a")
    read, proceed = threading.Event(), threading.Event()
    results: list[str] = []

    def task() -> None:  # a Celery task or management command, outside any request
        try:
            run_task()
        finally:
            connections.close_all()

    def run_task() -> None:
        with pagecache.rendering():
            names = [a.title for a in Article.objects.order_by("pk")]
            read.set()
            proceed.wait(10)
            results.append(
                pagecache.cached_fragment(
                    "task", lambda: ",".join(names), tags=[pagecache.model_tag(Article)]
                )
            )

    thread = threading.Thread(target=task)
    thread.start()
    assert read.wait(10)
    Article.objects.create(title="b")
    proceed.set()
    thread.join(10)
    assert results == ["a"]
    with pagecache.rendering():
        names = [a.title for a in Article.objects.order_by("pk")]
        html = pagecache.cached_fragment(
            "task", lambda: ",".join(names), tags=[pagecache.model_tag(Article)]
        )
    assert html == "a,b"


# -- a page embedding a stale part is stale ------------------------------------------------


def hold_fragment_lock(redis_client, pattern: str) -> list[bytes]:
    """Hold the render lock of every fragment matching ``pattern``, as another request
    re-rendering them would: lookups then get the cached copy as STALE, if servable."""
    found = sorted(redis_client.scan_iter(match=pattern))
    assert found, f"no fragment matches {pattern}"
    for key in found:
        redis_client.set(keys.lock_key(key.decode()), b"another-request", px=10_000)
    return found


@pytest.mark.parametrize("driver", DRIVERS)
def test_a_soft_purged_fragment_inside_a_page_is_never_served_as_a_hit(
    rows_site, redis_server, driver
):
    article = Article.objects.create(title="old")
    get = getter(driver, "anonymous")
    assert titles(get("/articles/")[1]) == {"old"}
    assert get("/articles/")[0] == "HIT"
    Article.objects.filter(pk=article.pk).update(title="new")  # no signal: purge by hand
    pagecache.purge_tags(article, soft=True)
    # Another request is re-rendering the soft-purged fragments: this one gets them STALE.
    held = hold_fragment_lock(redis_server.client(), "pc:f1:*")
    status, body = get("/articles/")
    assert status in ("MISS", "STALE")
    # Until a render with fresh fragments replaces it, the page is never a HIT.
    for _ in range(3):
        status, body = get("/articles/")
        assert status != "HIT" or titles(body) == {"new"}, (status, body)
        assert status != "HIT"
    redis_server.client().delete(*(keys.lock_key(k.decode()) for k in held))
    assert titles(get("/articles/")[1]) == {"new"}
    assert get("/articles/") == ("HIT", get("/articles/")[1])
    assert titles(get("/articles/")[1]) == {"new"}


def page_header(redis_client, path: str) -> entry.Header:
    raw = redis_client.get(keys.page_key("pc", "http", "testserver", path, ""))
    header = entry.read_header(raw)
    assert header is not None
    return header


def test_a_page_is_fresh_no_longer_than_the_fragment_it_embeds(rows_site, redis_server):
    get = getter("middleware", "anonymous")
    assert get("/short/")[1] == "page frag"
    header = page_header(redis_server.client(), "/short/")
    assert 0 < header.ttl_ms <= 5000  # the fragment's ttl=5, not the page's TTL of 30


def test_a_page_embedding_a_stale_fragment_is_born_stale(rows_site, redis_server):
    get = getter("middleware", "anonymous")
    client = redis_server.client()
    get("/short/")
    (fragment,) = client.scan_iter(match="pc:f1:short:*")
    client.pexpire(fragment, 1000)  # past its TTL, inside its stale window
    client.delete(keys.page_key("pc", "http", "testserver", "/short/", ""))
    hold_fragment_lock(client, "pc:f1:short:*")
    assert get("/short/") == ("MISS", "page frag")  # rendered around the STALE fragment
    assert page_header(client, "/short/").ttl_ms == 0
    assert get("/short/")[0] != "HIT"


def test_per_part_starts_keep_a_purge_before_the_page_from_condemning_it(rows_site):
    """Safe but also live: a page's own tag is judged against the page's start, not the
    older start of a fragment it embeds from the cache, so a purge of that tag before the
    page's render never makes the new page stale."""
    get = getter("middleware", "anonymous")
    get("/own/?warm=1")  # caches the shared fragment (its start: now)
    pagecache.purge_tags("own")  # after the fragment's start, before the page's
    assert get("/own/") == ("MISS", "shared")  # embeds the cached fragment
    assert get("/own/") == ("HIT", "shared")  # not born purged by the earlier purge
    pagecache.purge_tags("shared")  # the fragment's tag still reaches the page
    assert get("/own/")[0] == "MISS"


def test_a_fragment_re_rendered_with_the_same_html_carries_its_new_start(rows_site):
    """This process keeps decoded entries by content id; a re-render after a purge yields
    the same HTML with a new start, which pages embedding it must carry (else every page
    embedding it is born purged)."""
    get = getter("middleware", "anonymous")
    get("/short/?page=1")
    get("/short/?page=2")  # the fragment is a hit here: this process holds it decoded
    pagecache.purge_tags("short")
    assert get("/short/?page=3") == ("MISS", "page frag")  # re-rendered: same HTML
    get("/short/?page=4")  # embeds the re-rendered fragment, from the cache
    assert get("/short/?page=4") == ("HIT", "page frag")
