"""README snippets marked ``<!-- readme-test: NAME -->`` run as written."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from django.contrib.auth.models import Group

import pagecache

README = (Path(__file__).resolve().parent.parent / "README.md").read_text()


def snippet(name: str) -> str:
    match = re.search(rf"<!-- readme-test: {name} -->\n```python\n(.*?)```", README, re.S)
    assert match, f"README has no snippet marked {name!r}"
    return match.group(1)


@pytest.mark.django_db
def test_rendering_snippet_caches_a_fragment_that_a_purge_removes():
    Group.objects.create(name="editors")
    namespace: dict[str, object] = {}
    exec(snippet("rendering"), namespace)
    assert namespace["html"] == "editors"
    Group.objects.create(name="authors")
    exec(snippet("rendering"), namespace)
    assert namespace["html"] == "editors"  # cached
    pagecache.purge_tags(Group)
    exec(snippet("rendering"), namespace)
    assert namespace["html"] == "authors, editors"


def test_logging_snippet_shows_pagecache_and_keeps_djangos_loggers():
    import logging
    import logging.config

    namespace: dict[str, object] = {}
    exec(snippet("logging"), namespace)
    django_request = logging.getLogger("django.request")
    try:
        logging.config.dictConfig(namespace["LOGGING"])
        assert not django_request.disabled  # 500 tracebacks still reach the log
        assert logging.getLogger("pagecache").isEnabledFor(logging.DEBUG)
    finally:
        django_request.disabled = False
        logging.getLogger("pagecache").setLevel(logging.NOTSET)
        logging.getLogger("pagecache").handlers.clear()


@pytest.mark.django_db
def test_method_decorator_snippet_caches_the_view():
    from django.test import RequestFactory, override_settings

    namespace: dict[str, object] = {}
    exec(snippet("method-decorator"), namespace)
    view = namespace["Archive"].as_view()  # type: ignore[attr-defined]
    with override_settings(MIDDLEWARE=[]):
        first = view(RequestFactory().get("/archive/"))
        second = view(RequestFactory().get("/archive/"))
    assert first.content == b"the archive"
    assert second["X-Cache"] == "HIT"


@pytest.mark.django_db
def test_fragments_snippet_renders_and_its_tags_are_the_ones_hooks_purge():
    from django.template import engines

    from tests.testapp.models import Article

    match = re.search(r"<!-- readme-test: fragments -->\n```django\n(.*?)```", README, re.S)
    assert match
    template = engines["django"].from_string(match.group(1))
    article = Article.objects.create(title="Hello")
    html = template.render({"articles": [article]})
    assert "<h2>Hello</h2>" in html
    article.title = "Changed"  # not saved: the teaser is served from the cache
    assert "<h2>Hello</h2>" in template.render({"articles": [article]})
    pagecache.purge_tags(article)  # what a save of a hooked Article purges
    assert "<h2>Changed</h2>" in template.render({"articles": [article]})


@pytest.mark.django_db
def test_csrf_form_snippet_is_cached_and_its_form_posts_from_a_hit(monkeypatch):
    import sys
    import types

    from django.http import HttpResponse
    from django.test import override_settings
    from django.urls import path

    from tests.pages_urls import MIDDLEWARE
    from tests.test_forms import TOKEN, Visitor

    namespace: dict[str, object] = {"__name__": "readme_csrf_views"}
    exec(snippet("csrf-form"), namespace)
    urls = types.ModuleType("readme_csrf_urls")
    urls.urlpatterns = [  # type: ignore[attr-defined]
        path("article/<int:pk>/", namespace["article"]),  # type: ignore[arg-type]
        path("comment/", lambda request: HttpResponse("posted")),
    ]
    monkeypatch.setitem(sys.modules, "readme_csrf_urls", urls)
    with override_settings(ROOT_URLCONF="readme_csrf_urls", MIDDLEWARE=MIDDLEWARE):
        assert Visitor("middleware").get("/article/7/").get("X-Cache") == "MISS"
        visitor = Visitor("middleware")
        page = visitor.get("/article/7/")
        assert page.get("X-Cache") == "HIT" and "Article 7" in page.text
        (token,) = TOKEN.findall(page.text)
        posted = visitor.post("/comment/", {"csrfmiddlewaretoken": token, "text": "hi"})
        assert (posted.status_code, posted.text) == (200, "posted")


def test_apurge_snippet_purges_from_an_async_view():
    from asgiref.sync import async_to_sync
    from django.test import RequestFactory

    from pagecache.purging import purge

    namespace: dict[str, object] = {"__name__": "readme_apurge"}
    exec(snippet("apurge"), namespace)
    seen: list[tuple[str, ...]] = []
    def receiver(sender: object, tags: tuple[str, ...], **kwargs: object) -> None:
        seen.append(tuple(tags))

    purge.tags_purged.connect(receiver, dispatch_uid="readme-apurge")
    try:
        view = namespace["publish"]
        response = async_to_sync(view)(RequestFactory().post("/"), 42)  # type: ignore[operator]
    finally:
        purge.tags_purged.disconnect(dispatch_uid="readme-apurge")
    assert response.content == b"published"
    assert ("blog.article:42",) in seen


@pytest.mark.django_db(transaction=True)
def test_acached_snippet_caches_a_fragment_that_a_purge_removes():
    from asgiref.sync import async_to_sync
    from django.test import RequestFactory

    namespace: dict[str, object] = {"__name__": "readme_acached"}
    exec(snippet("acached"), namespace)
    view = async_to_sync(namespace["group_list"])  # type: ignore[arg-type]
    Group.objects.create(name="editors")
    assert view(RequestFactory().get("/")).content == b"<ul><li>editors</li></ul>"
    Group.objects.create(name="authors")
    assert view(RequestFactory().get("/")).content == b"<ul><li>editors</li></ul>"  # cached
    pagecache.purge_tags(Group)
    assert view(RequestFactory().get("/")).content == b"<ul><li>authors</li><li>editors</li></ul>"
