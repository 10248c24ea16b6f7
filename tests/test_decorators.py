"""@cache_page and @exempt on async views, class-based views and views that misbehave,
with and without the middleware (SPEC §4, per view)."""

from __future__ import annotations

import asyncio
import inspect

import pytest
from django.test import AsyncClient, Client, override_settings

from tests.pages_urls import MIDDLEWARE, RENDERS, async_cached, async_exempt

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("pages_site")]

WITHOUT_PAGECACHE = MIDDLEWARE[1:]


def test_decorated_async_views_stay_coroutine_functions():
    assert inspect.iscoroutinefunction(async_cached)
    assert inspect.iscoroutinefunction(async_exempt)


@pytest.mark.parametrize("middleware", [MIDDLEWARE, WITHOUT_PAGECACHE], ids=["middleware", "alone"])
def test_cache_page_on_an_async_view_caches_it(middleware):
    with override_settings(MIDDLEWARE=middleware):
        client = Client()
        first, second = client.get("/async-cached/"), client.get("/async-cached/")
    assert (first.status_code, first.content) == (200, b"async render 1")
    assert (second["X-Cache"], second.content) == ("HIT", b"async render 1")


def test_cache_page_on_an_async_view_through_an_async_client():
    async def two_requests():
        client = AsyncClient()
        return await client.get("/async-cached/"), await client.get("/async-cached/")

    first, second = asyncio.run(two_requests())
    assert first.content == second.content == b"async render 1"
    assert RENDERS["async_cached"] == 1


def test_exempt_on_an_async_view_keeps_it_out_of_the_cache():
    client = Client()
    for n in (1, 2):
        response = client.get("/async-exempt/")
        assert (response["X-Cache"], response.content) == ("BYPASS", f"async exempt {n}".encode())


def test_a_decorator_on_a_method_without_method_decorator_names_the_mistake():
    with pytest.raises(TypeError, match=r"method_decorator\(pagecache\.exempt\)"):
        Client().get("/undecorated-method/")


@pytest.mark.parametrize("middleware", [MIDDLEWARE, WITHOUT_PAGECACHE], ids=["middleware", "alone"])
def test_cache_page_through_method_decorator_works(middleware):
    with override_settings(MIDDLEWARE=middleware):
        client = Client()
        client.get("/decorated-method/")
        assert client.get("/decorated-method/")["X-Cache"] == "HIT"
    assert RENDERS["method"] == 1


def test_cache_page_alone_over_a_view_returning_no_response_says_so():
    with override_settings(MIDDLEWARE=WITHOUT_PAGECACHE), pytest.raises(
        TypeError, match=r"not_a_response didn't return an HttpResponse object. It returned str"
    ):
        Client().get("/not-a-response/")
