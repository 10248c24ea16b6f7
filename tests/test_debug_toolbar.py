"""django-debug-toolbar: its markup is never stored in a page (SPEC §4: its panel shows one
visitor's request, SQL and settings), and ``pagecache.debug_toolbar.PageCachePanel`` shows
what pagecache did for the request (SPEC §12) — fetched as the toolbar's own script does,
from its ``render_panel`` view."""

from __future__ import annotations

import html
import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
from asgiref.sync import async_to_sync
from django.conf import settings
from django.test import AsyncClient, Client, override_settings

from pagecache import observe
from pagecache.conf import settings as pagecache_settings
from pagecache.core import keys
from tests.pages_urls import MIDDLEWARE, RENDERS
from tests.test_readme import snippet

pytestmark = pytest.mark.django_db

PANEL = "pagecache.debug_toolbar.PageCachePanel"
TOOLBAR = [
    MIDDLEWARE[0],
    "debug_toolbar.middleware.DebugToolbarMiddleware",
    *MIDDLEWARE[1:],
]
TOOLBAR_REASON = "django-debug-toolbar's panel is in the body"


@pytest.fixture
def toolbar_site():
    from debug_toolbar.settings import PANELS_DEFAULTS
    from django.core.checks.registry import registry

    RENDERS.clear()
    checks_before = set(registry.registered_checks)
    with override_settings(
        INSTALLED_APPS=[*settings.INSTALLED_APPS, "django.contrib.staticfiles", "debug_toolbar"],
        MIDDLEWARE=TOOLBAR,
        ROOT_URLCONF="tests.toolbar_urls",
        DEBUG=True,
        INTERNAL_IPS=["127.0.0.1"],
        DEBUG_TOOLBAR_CONFIG={"IS_RUNNING_TESTS": False},
        DEBUG_TOOLBAR_PANELS=[*PANELS_DEFAULTS, PANEL],
    ):
        yield
    # The toolbar's app registers system checks that outlive its removal from
    # INSTALLED_APPS; other tests run `manage.py check` on a site without it.
    registry.registered_checks &= checks_before


@dataclass
class Fragment:
    name: str
    status: str
    ms: int
    stored: str
    tags: list[str]
    key: str


@dataclass
class Shown:
    """The panel as the toolbar shows it: its nav subtitle and its content."""

    subtitle: str
    content: str

    @property
    def page(self) -> dict[str, str]:
        match = re.search(
            r'<table id="djdt-pc-page" data-status="(\w*)" data-stored="(\w+)"', self.content
        )
        assert match, self.content
        key = re.search(r"<th>Key</th><td[^>]*>(?:<code>)?([^<]*)", self.content)
        stored = re.search(r'<td class="djdt-pc-stored">(.*?)</td>', self.content, re.S)
        assert key and stored
        return {
            "status": match.group(1),
            "stored": match.group(2),
            "key": html.unescape(key.group(1)),
            "stored_text": html.unescape(" ".join(stored.group(1).split())),
        }

    @property
    def page_tags(self) -> list[str]:
        match = re.search(r'id="djdt-pc-page-tags">(.*?)</p>', self.content, re.S)
        return re.findall(r"<code>(.*?)</code>", match.group(1)) if match else []

    @property
    def fragments(self) -> list[Fragment]:
        rows = re.findall(
            r'<tr class="djdt-pc-fragment" data-name="(.*?)" data-status="(\w+)" '
            r'data-ms="(\d+)">(.*?)</tr>',
            self.content,
            re.S,
        )
        fragments = []
        for name, status, ms, cells in rows:
            stored = re.search(r'<td class="djdt-pc-stored">(.*?)</td>', cells, re.S)
            tags = re.search(r'<td class="djdt-pc-tags">(.*?)</td>', cells, re.S)
            key = re.search(r'<td class="djdt-pc-key"><code>(.*?)</code>', cells)
            assert stored and tags and key, cells
            fragments.append(
                Fragment(
                    name,
                    status,
                    int(ms),
                    html.unescape(stored.group(1)),
                    re.findall(r"<code>(.*?)</code>", tags.group(1)),
                    html.unescape(key.group(1)),
                )
            )
        return fragments

    def fragment(self, name: str) -> Fragment:
        return next(f for f in self.fragments if f.name == name)


def shown_panel(client: Client, page: bytes) -> Shown:
    """The panel of the request that returned ``page``, fetched as the toolbar's script does:
    ``render_panel/?request_id=...&panel_id=PageCachePanel`` (no panel is rendered inline)."""
    request_id = re.search(rb'data-request-id="(\w+)"', page)
    assert request_id, "the toolbar is not in the page"
    button = re.search(rb'<li id="djdt-PageCachePanel".*?<small>(.*?)</small>', page, re.S)
    assert button, "no Page cache button in the toolbar"
    rendered = client.get(
        "/__debug__/render_panel/",
        {"request_id": request_id.group(1).decode(), "panel_id": "PageCachePanel"},
    )
    assert rendered.status_code == 200
    return Shown(button.group(1).decode(), rendered.json()["content"])


def test_a_page_showing_the_toolbar_is_not_stored(toolbar_site):
    client = Client()
    first = client.get("/html/")
    assert b'id="djDebug"' in first.content  # the toolbar is really there
    second = client.get("/html/")
    assert second["X-Cache"] == "MISS"
    assert RENDERS["html"] == 2


def test_the_same_page_without_the_toolbar_is_stored(toolbar_site):
    client = Client(REMOTE_ADDR="10.0.0.9")  # not an internal IP: no toolbar
    assert b"djDebug" not in client.get("/html/").content
    assert client.get("/html/")["X-Cache"] == "HIT"


def test_the_panel_shows_nested_fragments_rendered_then_served_from_the_cache(toolbar_site):
    client = Client()
    page_key = keys.page_key(pagecache_settings.KEY_PREFIX, "http", "testserver", "/nested/", "")

    first = client.get("/nested/")
    assert first["X-Cache"] == "MISS"
    shown = shown_panel(client, first.content)
    assert shown.subtitle == "3 fragments, 0 cached"
    assert shown.page == {
        "status": "MISS",
        "stored": "no",
        "key": page_key,
        "stored_text": f"no: {TOOLBAR_REASON} (without the toolbar, it would be stored)",
    }
    assert "pagecache never stores a page that shows the toolbar" in shown.content
    assert "never reaches this panel" in shown.content  # a hit is answered before it
    # The inner block finishes first; each one rendered now, and stored.
    assert [(f.name, f.status, f.stored) for f in shown.fragments] == [
        ("inner", "MISS", "yes"),
        ("outer", "MISS", "yes"),
        ("sidebar", "MISS", "yes"),
    ]
    assert shown.fragment("inner").tags == ["article:7"]
    assert sorted(shown.fragment("outer").tags) == ["article:7", "section:1"]  # bubbled up
    assert shown.fragment("outer").ms >= 40  # its own 20 ms and the inner block's
    assert sorted(shown.page_tags) == ["article:7", "page:nested", "section:1", "sidebar"]
    first_keys = {f.name: f.key for f in shown.fragments}
    assert all(key.startswith(f"{pagecache_settings.KEY_PREFIX}:f") for key in first_keys.values())

    second = client.get("/nested/")
    assert second["X-Cache"] == "MISS"  # the page showed the toolbar: not stored
    shown = shown_panel(client, second.content)
    assert shown.subtitle == "2 fragments, 2 cached"
    assert shown.page["status"] == "MISS"
    # The outer block comes whole from the cache: the inner one is not even looked up.
    assert [(f.name, f.status, f.stored) for f in shown.fragments] == [
        ("outer", "HIT", "from the cache"),
        ("sidebar", "HIT", "from the cache"),
    ]
    outer, sidebar = shown.fragments
    assert outer.ms >= 40 and sidebar.ms >= 20  # the render time each copy saved
    assert f"saved {outer.ms} ms" in shown.content
    assert sorted(outer.tags) == ["article:7", "section:1"]
    assert sidebar.tags == ["sidebar"]
    assert {f.name: f.key for f in shown.fragments} == {
        "outer": first_keys["outer"],
        "sidebar": first_keys["sidebar"],
    }
    assert sorted(shown.page_tags) == ["article:7", "page:nested", "section:1", "sidebar"]
    assert RENDERS["nested"] == 2

    # Without the toolbar the page is stored, and what is stored has no toolbar in it.
    reader = Client(REMOTE_ADDR="10.0.0.9")
    assert reader.get("/nested/")["X-Cache"] == "MISS"
    hit = reader.get("/nested/")
    assert hit["X-Cache"] == "HIT"
    assert b"djDebug" not in hit.content
    assert RENDERS["nested"] == 3
    # ...and the next toolbar request gets it from the cache, without the toolbar.
    served = client.get("/nested/")
    assert served["X-Cache"] == "HIT"
    assert b"djDebug" not in served.content


def test_the_toolbars_own_views_are_never_stored(toolbar_site):
    """``render_panel`` answers with a panel's content (the SQL panel's queries, the
    settings): stored, it would reach visitors the toolbar refuses."""
    client = Client()
    page = client.get("/nested/")
    request_id = re.search(rb'data-request-id="(\w+)"', page.content)
    assert request_id
    url = f"/__debug__/render_panel/?request_id={request_id.group(1).decode()}&panel_id=SQLPanel"
    for _ in range(2):
        assert client.get(url)["X-Cache"] == "MISS"
    assert Client(REMOTE_ADDR="10.0.0.9").get(url).status_code == 404  # not internal: refused


def test_the_panel_says_why_a_page_bypasses_the_cache(toolbar_site):
    client = Client()
    client.cookies["sessionid"] = "someone"
    response = client.get("/nested/")
    assert response["X-Cache"] == "BYPASS"
    shown = shown_panel(client, response.content)
    assert shown.page["status"] == "BYPASS"
    assert shown.page["key"] == "none: not looked up"
    assert shown.page["stored_text"] == "no: request carries the sessionid cookie"
    # Fragments are cached for logged-in visitors too.
    assert [(f.name, f.status) for f in shown.fragments] == [
        ("inner", "MISS"),
        ("outer", "MISS"),
        ("sidebar", "MISS"),
    ]
    assert shown.subtitle == "3 fragments, 0 cached"


def test_the_panel_shows_fragments_without_the_page_cache(toolbar_site):
    client = Client()
    with override_settings(MIDDLEWARE=TOOLBAR[1:]):
        client.get("/nested/")
        response = client.get("/nested/")
        shown = shown_panel(client, response.content)
    assert "X-Cache" not in response
    assert shown.page["status"] == ""
    assert "PageCacheMiddleware did not handle this request" in shown.page["stored_text"]
    assert [(f.name, f.status) for f in shown.fragments] == [("outer", "HIT"), ("sidebar", "HIT")]
    assert observe.current.get() is None


def test_the_panel_under_asgi(toolbar_site):
    client = AsyncClient()
    get = async_to_sync(client.get)
    get("/nested/")
    response = get("/nested/")
    assert response["X-Cache"] == "MISS"
    request_id = re.search(rb'data-request-id="(\w+)"', response.content)
    assert request_id, "the toolbar is not in the page"
    rendered = get(
        "/__debug__/render_panel/",
        {"request_id": request_id.group(1).decode(), "panel_id": "PageCachePanel"},
    )
    shown = Shown("", rendered.json()["content"])
    assert shown.page["status"] == "MISS"
    assert shown.page["stored_text"].startswith(f"no: {TOOLBAR_REASON}")
    assert [(f.name, f.status) for f in shown.fragments] == [("outer", "HIT"), ("sidebar", "HIT")]


def test_without_debug_no_report_is_kept(toolbar_site):
    from tests.toolbar_urls import SEEN

    with override_settings(DEBUG=False):
        response = Client().get("/report/")
        assert b"djDebug" not in response.content  # no toolbar without DEBUG
        assert SEEN["report"] is None
    assert observe.current.get() is None
    # With DEBUG on, pagecache keeps one for the request (for the panel), toolbar or not.
    Client(REMOTE_ADDR="10.0.0.9").get("/report/?again")  # (/report/ itself is stored)
    assert isinstance(SEEN["report"], observe.Report)
    assert observe.current.get() is None  # only while the request is served


def test_readme_panels_snippet_is_the_toolbars_defaults_and_the_panel():
    from debug_toolbar.settings import PANELS_DEFAULTS
    from django.utils.module_loading import import_string

    namespace: dict[str, object] = {}
    exec(snippet("debug-toolbar-panels"), namespace)
    panels = namespace["DEBUG_TOOLBAR_PANELS"]
    assert panels == [*PANELS_DEFAULTS, PANEL]
    assert import_string(PANEL).panel_id == "PageCachePanel"


def test_pagecache_imports_the_toolbar_only_with_the_panel():
    """Every other module of pagecache imported in a fresh interpreter: no debug_toolbar."""
    code = (
        "import django, importlib, pkgutil, sys; django.setup(); import pagecache\n"
        "for m in pkgutil.walk_packages(pagecache.__path__, 'pagecache.'):\n"
        "    if m.name != 'pagecache.debug_toolbar': importlib.import_module(m.name)\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] == 'debug_toolbar'))"
    )
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "tests.settings"}
    result = subprocess.run(
        [sys.executable, "-c", code],
        env=env,
        cwd=Path(__file__).resolve().parent.parent,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"
