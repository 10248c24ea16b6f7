"""With django-debug-toolbar installed and showing, its markup is never stored in a page
(SPEC §4): the panel shows one visitor's request, SQL and settings."""

from __future__ import annotations

import pytest
from django.conf import settings
from django.test import Client, override_settings

from tests.pages_urls import MIDDLEWARE, RENDERS

pytestmark = pytest.mark.django_db

TOOLBAR = [
    MIDDLEWARE[0],
    "debug_toolbar.middleware.DebugToolbarMiddleware",
    *MIDDLEWARE[1:],
]


@pytest.fixture
def toolbar_site():
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
    ):
        yield
    # The toolbar's app registers system checks that outlive its removal from
    # INSTALLED_APPS; other tests run `manage.py check` on a site without it.
    registry.registered_checks &= checks_before


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
