"""``PageCacheWSGI``: serve page-cache hits before Django builds a request.

Wrap Django's WSGI application (as WhiteNoise does)::

    from django.core.wsgi import get_wsgi_application
    from pagecache.wsgi import PageCacheWSGI

    application = PageCacheWSGI(get_wsgi_application())

A hit costs the lookup and nothing else: no ``HttpRequest``, no middleware, no URL
resolving. The rules are the middleware's own — eligibility, host validation, key,
``Vary``, HEAD, 304 — from :mod:`pagecache.core.request_facts` and :mod:`pagecache.serve`.
Everything else falls through to Django unchanged, carrying this lookup (and the render lock it may
have taken) to ``PageCacheMiddleware``, which renders and stores. The middleware must be
installed; without it the fast path never takes render locks, so it cannot leave one behind.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from django.conf import settings as django_settings
from django.core.handlers.wsgi import get_path_info, get_script_name

from . import driver, observe, serve
from .core import request_facts, responses
from .core.flow import Action
from .middleware import MIDDLEWARE_PATH
from .outage import log_failure

StartResponse = Callable[..., Any]
WSGIApp = Callable[[dict[str, Any], StartResponse], Iterable[bytes]]


def django_path(environ: dict[str, Any]) -> tuple[str, str]:
    """``request.path`` split as ``WSGIRequest`` computes it from the environ: the script
    prefix without its trailing slash, and ``request.path_info``."""
    path_info = environ.get("PATH_INFO", "")
    if (
        path_info.startswith("/")
        and path_info.isascii()
        and not environ.get("SCRIPT_NAME")
        and not environ.get("SCRIPT_URL")
        and not environ.get("REDIRECT_URL")
        and django_settings.FORCE_SCRIPT_NAME is None
    ):
        return "", str(path_info)  # the common case: what Django's decoding would give
    script_name = get_script_name(environ)
    return script_name.rstrip("/"), get_path_info(environ) or "/"


class PageCacheWSGI:
    """WSGI middleware answering page-cache hits in front of ``application``."""

    def __init__(self, application: WSGIApp) -> None:
        self.application = application

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        try:
            page = request_facts.page_request(environ, *django_path(environ))
            if isinstance(page, str):
                return self.application(environ, start_response)
            outcome = serve.obtain(page, lock=MIDDLEWARE_PATH in django_settings.MIDDLEWARE)
        except Exception as exc:
            # A failing cache never breaks a page: let Django handle the request.
            log_failure("wsgi", "pagecache: WSGI fast path failed, falling through: %r", exc)
            return self.application(environ, start_response)

        if outcome.action in (Action.HIT, Action.STALE):
            observe.served("page", outcome.key, outcome.action.name, outcome.entry)
            parts = responses.hit_parts(page, outcome)
            if parts.cookie is not None:
                parts.headers.append(("Set-Cookie", parts.cookie))
            start_response(f"{parts.status} {parts.reason}", parts.headers)
            return [parts.body]

        # Hand the lookup to the middleware, and take the lock back if it never got there.
        consumed: list[bool] = []
        environ[serve.OUTCOME_KEY] = (page.base_key, outcome, consumed)
        try:
            return self.application(environ, start_response)
        finally:
            if outcome.token and not consumed:
                driver.release(outcome.key, outcome.token, uncacheable=False)
