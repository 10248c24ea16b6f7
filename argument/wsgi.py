"""The WSGI application every configuration serves: Django's, wrapped to count the SQL
queries each request runs into an ``X-Queries`` response header.

The wrapper sits outside Django (as the demo's status strip does), so pagecache stays
first in ``MIDDLEWARE``; it counts with ``connection.execute_wrapper`` on the request's
thread, so a query answered from cacheops' or cachalot's cache, which never reaches the
database, is not counted. The demo's status strip itself is left out in every
configuration (it is the demo's chrome, not the site).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from typing import Any

from django.core.wsgi import get_wsgi_application
from django.db import connection

from demo_site.middleware import QueryCounter

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "argument.settings")

QUERIES_HEADER = "X-Queries"


class CountQueries:
    """WSGI middleware: ``X-Queries: <n>`` on every response."""

    def __init__(self, application: Callable[..., Iterable[bytes]]) -> None:
        self.application = application

    def __call__(
        self, environ: dict[str, Any], start_response: Callable[..., Any]
    ) -> Iterable[bytes]:
        counter = QueryCounter()
        sent: dict[str, Any] = {}

        def keep(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            sent.update(status=status, headers=headers, exc_info=exc_info)
            return lambda data: None  # Django never uses write()

        with connection.execute_wrapper(counter):
            result = self.application(environ, keep)
        headers = [*sent["headers"], (QUERIES_HEADER, str(counter.count))]
        start_response(sent["status"], headers, sent["exc_info"])
        return result


application = CountQueries(get_wsgi_application())
