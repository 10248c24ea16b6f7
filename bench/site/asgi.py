"""The ASGI application of the configuration named by BENCH_CONFIG (``asgi-*``), served by
uvicorn with one worker: Django's ASGI application, or for ``asgi-minimal`` the limit
control around it (one ``redis.asyncio`` GET per hit, see :mod:`bench.site.limits`), for
``asgi-pagecache-asgi`` pagecache's ASGI fast path around it.
"""

from __future__ import annotations

import os
from typing import Any

CONFIG = os.environ.get("BENCH_CONFIG", "")


def _django() -> Any:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bench.site.settings")
    from django.conf import settings
    from django.core.asgi import get_asgi_application

    app = get_asgi_application()
    if CONFIG == "asgi-minimal":
        from .limits import MinimalASGI

        return MinimalASGI(app, settings.REDIS_LOCATION)
    if CONFIG == "asgi-pagecache-asgi":
        from pagecache.asgi import PageCacheASGI

        return PageCacheASGI(app)
    return app


application = _django()
