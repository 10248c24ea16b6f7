"""The benchmarked views: ``/page/`` (template over database rows), ``/pages/<n>/`` (the
same template over other rows), ``/const/``, ``/ready/``."""

from __future__ import annotations

import itertools
import os
import time

from django.conf import settings
from django.db import connection
from django.http import HttpRequest, HttpResponse
from django.template.loader import render_to_string
from django.views.decorators.cache import never_cache

from .content import page_bytes, row_values
from .models import Row

#: Counter key INCRed per render when BENCH_COUNT_RENDERS=1 (counted across processes).
RENDERS_KEY = "bench:renders"

_renders = itertools.count(1)
_COUNT_RENDERS = os.environ.get("BENCH_COUNT_RENDERS") == "1"
_RENDER_SLEEP = float(os.environ.get("BENCH_RENDER_SLEEP", "0") or 0)
_PAGE = page_bytes()
_redis = None


def _count_render() -> None:
    global _redis
    if _redis is None:
        import redis

        _redis = redis.Redis.from_url(settings.REDIS_LOCATION)
    _redis.incr(RENDERS_KEY)


def page(request: HttpRequest) -> HttpResponse:
    """About 20 KB of HTML rendered from 40 rows. ``X-Render`` numbers the renders of this
    process (a cached copy repeats it), ``X-Queries`` counts the SQL queries that ran."""
    number = next(_renders)
    if _COUNT_RENDERS:
        _count_render()
    if _RENDER_SLEEP:
        time.sleep(_RENDER_SLEEP)  # a slower database, for the stampede test
    queries = 0

    def count(execute, sql, params, many, context):  # type: ignore[no-untyped-def]
        nonlocal queries
        queries += 1
        return execute(sql, params, many, context)

    with connection.execute_wrapper(count):
        html = render_to_string("bench/page.html", {"rows": Row.objects.all()})
    response = HttpResponse(html)
    response["X-Render"] = f"{os.getpid()}-{number}"
    response["X-Queries"] = str(queries)
    return response


def pages(request: HttpRequest, n: int) -> HttpResponse:
    """Other pages of the same site: ``/page/``'s template over rows drawn from seed ``n``
    (no database), so that the site's compression dictionary has pages to train on."""
    html = render_to_string("bench/page.html", {"rows": row_values(n)})
    response = HttpResponse(html)
    response["X-Render"] = f"{os.getpid()}-{next(_renders)}"
    return response


def const(request: HttpRequest) -> HttpResponse:
    """The same bytes, precomputed: Django's request/response cost without a template."""
    return HttpResponse(_PAGE)


@never_cache
def ready(request: HttpRequest) -> HttpResponse:
    return HttpResponse(b"ok", content_type="text/plain")
