"""Pages of one site for the dictionary tests: the benchmark's 20 KB page template
(bench/site/templates/bench/page.html) over rows drawn from a seed, served at
``/site/<seed>/`` behind the usual test middleware (pagecache first). Seed 8 is the
benchmark's own page."""

from __future__ import annotations

from collections.abc import Iterable
from functools import cache
from pathlib import Path

from django.http import HttpRequest, HttpResponse
from django.template import Context, Engine
from django.urls import path

from bench.site.content import row_values
from tests.pages_urls import MIDDLEWARE

__all__ = ["MIDDLEWARE", "payloads", "site_page", "urlpatterns"]

TEMPLATES = Path(__file__).resolve().parent.parent / "bench" / "site" / "templates"


@cache
def site_page(seed: int) -> bytes:
    """The page rendered from seed ``seed`` (about 20 KB)."""
    template = Engine(dirs=[str(TEMPLATES)]).get_template("bench/page.html")
    return template.render(Context({"rows": row_values(seed)})).encode()


def payloads(seeds: Iterable[int]) -> list[bytes]:
    """Entry payloads (status line, headers, body) of the pages of ``seeds``."""
    head = b"200 OK\r\nContent-Type: text/html; charset=utf-8\r\nX-Frame-Options: DENY\r\n\r\n"
    return [head + site_page(seed) for seed in seeds]


def view(request: HttpRequest, seed: int) -> HttpResponse:
    return HttpResponse(site_page(seed))


urlpatterns = [path("site/<int:seed>/", view)]
