"""The WSGI application of the configuration named by BENCH_CONFIG.

``bare`` never imports Django: it returns the precomputed page bytes (the ceiling).
``minimal-wsgi`` and ``pagecache-wsgi`` wrap Django's application; every other
configuration is Django's application as is.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from typing import Any

CONFIG = os.environ.get("BENCH_CONFIG", "")


def _bare() -> Callable[..., Iterable[bytes]]:
    from .content import page_bytes

    body = page_bytes()
    headers = [("Content-Type", "text/html; charset=utf-8"), ("Content-Length", str(len(body)))]

    def application(environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
        start_response("200 OK", headers)
        return [body]

    return application


def _django() -> Callable[..., Iterable[bytes]]:
    if CONFIG.startswith("demo-"):
        os.environ["DJANGO_SETTINGS_MODULE"] = "bench.site.demo_settings"
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bench.site.settings")
    from django.conf import settings
    from django.core.wsgi import get_wsgi_application

    app = get_wsgi_application()
    if CONFIG == "minimal-wsgi":
        from .limits import MinimalWSGI

        return MinimalWSGI(app, settings.REDIS_LOCATION)
    if CONFIG == "pagecache-wsgi":
        from pagecache.wsgi import PageCacheWSGI  # type: ignore[import-not-found,unused-ignore]

        return PageCacheWSGI(app)  # type: ignore[no-any-return,unused-ignore]
    return app


application = _bare() if CONFIG == "bare" else _django()
