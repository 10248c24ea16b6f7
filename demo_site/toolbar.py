"""django-debug-toolbar in the demo, with pagecache's panel (see ``settings.py``).

The toolbar shows only to a reader who turned it on — the switch in the status strip sets
the ``demo_toolbar`` cookie — from this machine, so every other reader still gets pages
from the cache. A page served from the cache never shows it (``PageCacheMiddleware``
answers before the toolbar runs), and a page that shows it is never stored. The demo's
pages read the session (``Vary: Cookie``), so the cookie also gives that reader variants
of their own, which are therefore never stored: every page they load is rendered, with
the toolbar, and the **Page cache** panel lists its fragments, served from the cache.
"""

from __future__ import annotations

from urllib.parse import quote

from django.apps import apps
from django.conf import settings
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.http.cookie import parse_cookie
from django.urls import reverse
from django.utils.html import format_html
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.safestring import SafeString

import pagecache

COOKIE = "demo_toolbar"


def show_toolbar(request: HttpRequest) -> bool:
    """``SHOW_TOOLBAR_CALLBACK``: DEBUG on, a local reader, and the switch on."""
    return (
        settings.DEBUG
        and request.META.get("REMOTE_ADDR") in settings.INTERNAL_IPS
        and request.COOKIES.get(COOKIE) == "on"
    )


@pagecache.exempt
def switch(request: HttpRequest) -> HttpResponse:
    """Turn the toolbar on or off for this reader, then go back to the page (``next``)."""
    target = request.GET.get("next", "/")
    if not url_has_allowed_host_and_scheme(target, {request.get_host()}):
        target = "/"
    response = HttpResponseRedirect(target)
    if request.COOKIES.get(COOKIE) == "on":
        response.delete_cookie(COOKIE)
    else:
        response.set_cookie(COOKIE, "on", httponly=True, samesite="Lax")
    return response


def strip_switch(environ: dict[str, object]) -> SafeString | None:
    """The status strip's switch, when the toolbar is installed (``None`` otherwise)."""
    if not apps.is_installed("debug_toolbar"):
        return None
    on = parse_cookie(str(environ.get("HTTP_COOKIE", ""))).get(COOKIE) == "on"
    path = str(environ.get("SCRIPT_NAME", "")) + str(environ.get("PATH_INFO", "/"))
    return format_html(
        '<a id="pc-toolbar" href="{}?next={}" title="{}">debug toolbar: {}</a>',
        reverse("debug-toolbar"),
        quote(path),
        "turn django-debug-toolbar off" if on else "turn django-debug-toolbar on (a cookie)",
        "on" if on else "off",
    )
