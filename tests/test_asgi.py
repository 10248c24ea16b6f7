"""The middleware under ASGI (SPEC §11): native async, the same behaviour as under WSGI.

Django's ``AsyncClient`` drives the ASGI handler in-process; tests/test_http.py runs the
real-HTTP suite against uvicorn too.
"""

from __future__ import annotations

import asyncio
import threading

import pytest
from asgiref.sync import async_to_sync, iscoroutinefunction
from django.http import HttpResponse
from django.test import AsyncClient, override_settings

import pagecache
from pagecache import middleware, serve
from pagecache.middleware import PageCacheMiddleware
from pagecache.stores.redis_async import AsyncRedisStore
from pagecache.stores.select import get_async_store
from tests.conftest import redis_caches
from tests.pages_urls import RENDERS

pytestmark = pytest.mark.django_db(transaction=True)


def get(path: str, client: AsyncClient | None = None, **headers: str):
    return async_to_sync((client or AsyncClient()).get)(path, headers=headers)


def test_the_middleware_is_a_coroutine_under_asgi():
    async def downstream(request):
        return HttpResponse("x")

    assert iscoroutinefunction(PageCacheMiddleware(downstream))
    assert not iscoroutinefunction(PageCacheMiddleware(lambda request: HttpResponse("x")))


def test_pages_are_stored_served_and_purged(pages_site, monkeypatch):
    first = get("/page/")
    assert (first["X-Cache"], RENDERS["page"]) == ("MISS", 1)
    # The hit runs in the event loop, never through the sync driver.
    monkeypatch.setattr(middleware, "serve", _must_not_run)
    second = get("/page/")
    assert (second["X-Cache"], second.content) == ("HIT", first.content)
    assert RENDERS["page"] == 1
    monkeypatch.undo()
    pagecache.purge_tags("page")
    assert get("/page/")["X-Cache"] == "MISS"
    assert RENDERS["page"] == 2


def _must_not_run(*args, **kwargs):
    raise AssertionError("the sync driver ran under ASGI")


def test_the_async_store_is_the_redis_fast_path(pages_site):
    assert isinstance(get_async_store(), AsyncRedisStore)


def test_conditional_head_and_vary_behave_as_under_wsgi(pages_site):
    get("/page/")
    assert get("/page/", **{"If-None-Match": '"page-etag"'}).status_code == 304
    head = async_to_sync(AsyncClient().head)("/page/")
    assert (head["X-Cache"], head.content) == ("HIT", b"")
    assert get("/lang/", **{"Accept-Language": "de"}).content == b"lang=de"
    assert get("/lang/", **{"Accept-Language": "en"}).content == b"lang=en"
    assert get("/lang/", **{"Accept-Language": "de"})["X-Cache"] == "HIT"


def test_logged_in_visitors_bypass(pages_site):
    client = AsyncClient()
    client.cookies["sessionid"] = "x" * 32
    assert get("/page/", client)["X-Cache"] == "BYPASS"
    assert get("/page/", client)["X-Cache"] == "BYPASS"
    assert RENDERS["page"] == 2


def test_a_form_page_gives_each_asgi_visitor_their_own_token(pages_site):
    get("/csrf/")
    visitor = AsyncClient()
    page = get("/csrf/", visitor)
    assert page["X-Cache"] == "HIT" and RENDERS["csrf"] == 1
    assert "csrftoken" in page.cookies  # set as CsrfViewMiddleware sets it


def test_concurrent_asgi_misses_render_once(pages_site, monkeypatch):
    """Single flight in the event loop: while one request renders, the others wait for it
    (polling with asyncio.sleep, never blocking the loop), then serve its page."""
    from pagecache import adriver
    from tests.pages_urls import HOOKS

    HOOKS["started"], HOOKS["proceed"] = threading.Event(), threading.Event()
    waiting: set[int] = set()
    changed = threading.Condition()
    original = adriver._pause

    async def pause(seconds: float) -> None:
        with changed:
            waiting.add(id(asyncio.current_task()))
            changed.notify_all()
        await original(seconds)

    monkeypatch.setattr(adriver, "_pause", pause)

    async def burst():
        return await asyncio.gather(*(AsyncClient().get("/slow/") for _ in range(5)))

    results: list = []
    runner = threading.Thread(target=lambda: results.extend(async_to_sync(burst)()))
    runner.start()
    assert HOOKS["started"].wait(10), "no request rendered"
    with changed:  # the four others are waiting for that render, not rendering
        assert changed.wait_for(lambda: len(waiting) == 4, timeout=10)
    HOOKS["proceed"].set()
    runner.join(20)
    assert sorted(r["X-Cache"] for r in results) == ["HIT", "HIT", "HIT", "HIT", "MISS"]
    assert RENDERS["slow"] == 1


def test_a_dead_cache_renders_uncached_under_asgi(pages_site):
    with override_settings(CACHES=redis_caches("redis://127.0.0.1:1/0", timeout=0.2)):
        first, second = get("/page/"), get("/page/")
    assert (first.status_code, first["X-Cache"]) == (200, "MISS")
    assert (second.status_code, second["X-Cache"]) == (200, "MISS")


def test_another_backend_runs_the_sync_driver_in_a_thread(pages_site):
    threads: list[str] = []
    original = serve.serve

    def recording(*args, **kwargs):
        threads.append(threading.current_thread().name)
        return original(*args, **kwargs)

    with override_settings(PAGECACHE={"CACHE": "locmem"}):
        assert get_async_store() is None
        middleware.serve = recording  # type: ignore[assignment]
        try:
            assert get("/page/")["X-Cache"] == "MISS"
            assert get("/page/")["X-Cache"] == "HIT"
        finally:
            middleware.serve = original  # type: ignore[assignment]
    assert len(threads) == 2


def test_apurge_tags_from_an_async_view(pages_site):
    get("/page/")

    async def purge_from_async_code() -> None:
        await pagecache.apurge_tags("page")

    async_to_sync(purge_from_async_code)()
    assert get("/page/")["X-Cache"] == "MISS"


# -- PageCacheASGI: hits before Django builds a request ---------------------------------------


class ASGICall:
    """Call an ASGI app with one HTTP request, as a server would; the response parts."""

    def __init__(self, app) -> None:
        self.app = app

    def get(self, path: str, method: str = "GET", headers: dict[str, str] | None = None):
        headers = {"host": "testserver", **(headers or {})}
        scope = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": method,
            "scheme": "http",
            "path": path,
            "raw_path": path.encode(),
            "query_string": b"",
            "root_path": "",
            "headers": [(k.lower().encode(), v.encode()) for k, v in headers.items()],
            "client": ("127.0.0.1", 50000),
            "server": ("testserver", 80),
        }
        sent: list[dict] = []
        requested: list[bool] = []

        async def receive():
            if not requested:
                requested.append(True)
                return {"type": "http.request", "body": b"", "more_body": False}
            await asyncio.sleep(3600)  # no disconnect: Django cancels this when it is done
            return {"type": "http.disconnect"}

        async def send(message):
            sent.append(message)

        async_to_sync(self.app)(scope, receive, send)
        start = next(m for m in sent if m["type"] == "http.response.start")
        body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
        names = {k.decode().lower(): v.decode() for k, v in start["headers"]}
        return start["status"], names, body


@pytest.fixture
def fast_asgi(pages_site):
    from django.core.asgi import get_asgi_application

    from pagecache.asgi import PageCacheASGI

    reached: list[str] = []
    django_app = get_asgi_application()

    async def counted(scope, receive, send):
        reached.append(scope["path"])
        await django_app(scope, receive, send)

    return ASGICall(PageCacheASGI(counted)), reached


def test_the_asgi_fast_path_answers_hits_without_django(fast_asgi):
    call, reached = fast_asgi
    status, headers, body = call.get("/page/")
    assert (status, headers["x-cache"]) == (200, "MISS")
    again = call.get("/page/")
    assert (again[0], again[1]["x-cache"], again[2]) == (200, "HIT", body)
    assert call.get("/page/", "HEAD")[1]["x-cache"] == "HIT"
    assert call.get("/page/", headers={"if-none-match": '"page-etag"'})[0] == 304
    assert reached == ["/page/"]  # only the miss reached Django
    assert RENDERS["page"] == 1


def test_the_asgi_fast_path_keeps_the_middlewares_rules(fast_asgi):
    call, _ = fast_asgi
    call.get("/page/")
    # Logged in, another host, a form page's token: the same answers as the middleware's.
    assert call.get("/page/", headers={"cookie": "sessionid=" + "x" * 32})[1]["x-cache"] == (
        "BYPASS"
    )
    assert call.get("/page/", headers={"host": "evil.example"})[0] == 400
    call.get("/csrf/")
    headers = call.get("/csrf/")[1]
    assert headers["x-cache"] == "HIT" and "csrftoken=" in headers["set-cookie"]
    assert RENDERS["csrf"] == 1


def test_https_requests_are_keyed_https_under_asgi(pages_site, redis_server):
    """An ASGIRequest keeps its scheme in the scope, not in META: keyed as http, an https
    page would be served to http visitors (and a cached redirect to https, to https ones)."""
    async_to_sync(AsyncClient().get)("/other/", secure=True)
    stored = {k.decode() for k in redis_server.client().scan_iter(match="pc:p1:*")}
    assert stored == {"pc:p1:https://testserver/other/"}
    assert get("/other/")["X-Cache"] == "MISS"  # http is another page


def test_the_asgi_fast_path_leaves_stale_pages_to_the_middleware(fast_asgi):
    """A stale entry must be re-rendered by one request holding the lock: the fast path
    (which takes no lock) lets the middleware serve it."""
    call, reached = fast_asgi
    call.get("/other/")
    pagecache.purge_tags("other", soft=True)
    _, headers, body = call.get("/other/")
    assert (headers["x-cache"], body) == ("MISS", b"other render 2")  # re-rendered at once
    assert reached == ["/other/", "/other/"]


def test_a_client_gone_during_the_lookup_leaves_no_lock(pages_site, monkeypatch):
    """Django cancels a request's task when its client disconnects; a lookup cancelled
    after it was sent may hold the render lock: it is released for the next request."""
    import asyncio

    from pagecache import adriver
    from pagecache.purging import purge

    released: list[tuple[str, str]] = []
    monkeypatch.setattr(purge, "release_later", lambda key, token: released.append((key, token)))

    class Cancelled:
        async def lookup(self, *args, **kwargs):
            raise asyncio.CancelledError

    async def cancelled_lookup():
        with pytest.raises(asyncio.CancelledError):
            await adriver.lookup(Cancelled(), "pc:p1:k", "token-1", 1000)  # type: ignore[arg-type]

    async_to_sync(cancelled_lookup)()
    assert released == [("pc:p1:k", "token-1")]


# -- fragments from async code -----------------------------------------------------------


def test_acached_fragment_stores_serves_and_purges_on_the_async_store(pages_site, monkeypatch):
    from pagecache import driver

    renders: list[int] = []

    async def render() -> str:
        renders.append(1)
        await asyncio.sleep(0)  # an async render: it may await (a query, an HTTP call)
        return f"<p>box {len(renders)}</p>"

    async def box() -> str:
        return await pagecache.acached_fragment("box", render, tags=["box"])

    # Lookups and stores run in the event loop: never the sync driver.
    monkeypatch.setattr(driver, "obtain", _must_not_run)
    monkeypatch.setattr(serve, "run", _must_not_run)
    assert async_to_sync(box)() == "<p>box 1</p>"
    assert async_to_sync(box)() == "<p>box 1</p>"
    async_to_sync(pagecache.apurge_tags)("box")
    assert async_to_sync(box)() == "<p>box 2</p>"
    assert len(renders) == 2


def test_acached_fragment_tags_bubble_to_the_page_under_asgi(pages_site):
    async def view_body() -> str:
        return await pagecache.acached_fragment("inner", lambda: "inner", tags=["inner-tag"])

    from tests.pages_urls import HOOKS

    HOOKS["fragment"] = view_body  # type: ignore[assignment]
    first = get("/async-fragment/")
    assert (first["X-Cache"], first.content) == ("MISS", b"page with inner 1")
    assert get("/async-fragment/")["X-Cache"] == "HIT"
    pagecache.purge_tags("inner-tag")  # the fragment's tag purges the page embedding it
    assert get("/async-fragment/").content == b"page with inner 2"


def test_concurrent_acached_fragment_misses_render_once(pages_site, monkeypatch):
    """Single flight for async fragments: one task renders, the others wait in the loop
    (asyncio.sleep between polls) and then serve what it stored."""
    from pagecache import adriver

    original = adriver._pause

    async def scenario() -> tuple[int, list[str]]:
        waiting: set[int] = set()
        changed = asyncio.Condition()
        release = asyncio.Event()
        renders = 0

        async def pause(seconds: float) -> None:
            async with changed:
                waiting.add(id(asyncio.current_task()))
                changed.notify_all()
            await original(seconds)

        async def render() -> str:
            nonlocal renders
            renders += 1
            await release.wait()
            return "rendered once"

        monkeypatch.setattr(adriver, "_pause", pause)
        tasks = [asyncio.create_task(pagecache.acached_fragment("busy", render)) for _ in range(5)]
        async with changed:
            await asyncio.wait_for(changed.wait_for(lambda: len(waiting) == 4), 10)
        release.set()
        return renders, await asyncio.gather(*tasks)

    renders, results = async_to_sync(scenario)()
    assert (renders, results) == (1, ["rendered once"] * 5)


def test_acached_fragment_with_another_backend_runs_the_sync_driver_in_a_thread(pages_site):
    renders: list[int] = []

    def render() -> str:
        renders.append(1)
        return "plain"

    async def fragment() -> str:
        return await pagecache.acached_fragment("plain", render, tags=["plain"])

    with override_settings(PAGECACHE={"CACHE": "locmem"}):
        assert get_async_store() is None
        assert [async_to_sync(fragment)() for _ in range(3)] == ["plain"] * 3
        assert len(renders) == 1
        pagecache.purge_tags("plain")
        assert async_to_sync(fragment)() == "plain"
        assert len(renders) == 2
