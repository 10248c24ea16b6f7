"""The demo's status strip: how each page was served, at the bottom of the page.

``ServingStrip`` wraps Django's WSGI application (``demo_site/wsgi.py``), outside every
middleware: it sees the response pagecache sends — a hit, a stale copy or a fresh render —
and adds its strip after pagecache has stored the page, so the strip, which differs on
every request, is never cached, while ``PageCacheMiddleware`` stays first in
``MIDDLEWARE`` (a middleware above it would make pagecache date renders conservatively;
see the README). It shows the ``X-Cache`` status, ``Age``, the time spent serving, the
database queries run meanwhile and the tags the page carries (from
``PAGECACHE["TAG_HEADER"]``), and the switch of django-debug-toolbar when it is installed
(:mod:`demo_site.toolbar`). A few lines of script label each fragment's
``{% frag_stamp %}`` marker "rendered now" or "cached, rendered N s ago" by comparing its
time with the time this request arrived.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import unquote
from wsgiref.headers import Headers

from django.conf import settings
from django.db import connection
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString, mark_safe

STATUS_TITLES = {
    "HIT": "served from the page cache: no view, no template, no query",
    "STALE": "an expired or soft-purged copy, served while one request renders a new one",
    "MISS": "rendered now (and stored, if it can be)",
    "BYPASS": "not served from the page cache: logged in, a POST, or an exempt page",
}

STRIP_CSS = """
#pc-strip{position:fixed;left:0;right:0;bottom:0;z-index:1000;display:flex;flex-wrap:wrap;
gap:.35rem 1rem;align-items:center;padding:.35rem 1rem;background:#1f2430;color:#d8dbe2;
font:12px/1.5 ui-monospace,SFMono-Regular,Menlo,Consolas,monospace}
#pc-strip b{padding:0 .45em;border-radius:3px;color:#fff;background:#6b7280}
#pc-strip b.HIT{background:#15803d}#pc-strip b.MISS{background:#c2410c}
#pc-strip b.STALE{background:#a16207}
#pc-strip details{max-width:100%}#pc-strip summary{cursor:pointer}
#pc-strip .pc-tags{max-height:30vh;overflow:auto;word-break:break-all;color:#aeb4c2}
#pc-strip label{margin-left:auto;cursor:pointer}#pc-strip a{color:#9cc3ff}
body{padding-bottom:3rem}
.frag-stamp:empty{display:none}
.frag-stamp{float:right;margin-left:.5rem;padding:0 .45em;border-radius:3px;
font:11px/1.6 ui-monospace,monospace;color:#475569;background:#eef2f7}
.frag-stamp.now{color:#9a3412;background:#ffedd5}
.pc-hide-stamps .frag-stamp{display:none}
"""

STRIP_JS = """
(function () {
  var strip = document.getElementById("pc-strip");
  var arrived = Number(strip.dataset.arrived);
  document.querySelectorAll(".frag-stamp").forEach(function (el) {
    var at = Number(el.dataset.rendered);
    if (at >= arrived) {
      el.textContent = el.dataset.name + ": rendered now";
      el.classList.add("now");
    } else {
      var s = Math.round((arrived - at) / 1000);
      el.textContent = el.dataset.name + ": cached, rendered " + s + " s ago";
      el.classList.add("cached");
    }
  });
  var box = document.getElementById("pc-stamps");
  var hidden = localStorage.getItem("pc-hide-stamps") === "1";
  box.checked = !hidden;
  document.body.classList.toggle("pc-hide-stamps", hidden);
  box.addEventListener("change", function () {
    localStorage.setItem("pc-hide-stamps", box.checked ? "0" : "1");
    document.body.classList.toggle("pc-hide-stamps", !box.checked);
  });
})();
"""


class QueryCounter:
    """A ``connection.execute_wrapper`` that counts the queries run through it."""

    def __init__(self) -> None:
        self.count = 0

    def __call__(
        self, execute: Callable[..., Any], sql: str, params: Any, many: bool, context: Any
    ) -> Any:
        self.count += 1
        return execute(sql, params, many, context)


class ServingStrip:
    """WSGI middleware: the status strip on every HTML page the site sends."""

    def __init__(self, application: Callable[..., Iterable[bytes]]) -> None:
        self.application = application

    def __call__(
        self, environ: dict[str, Any], start_response: Callable[..., Any]
    ) -> Iterable[bytes]:
        counter = QueryCounter()
        arrived_ms = int(time.time() * 1000)
        started = time.perf_counter()
        sent: dict[str, Any] = {}

        def keep(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            sent.update(status=status, headers=headers, exc_info=exc_info)
            return lambda data: None  # Django never uses write()

        with connection.execute_wrapper(counter):
            result = self.application(environ, keep)
            try:
                body = b"".join(result)  # the demo's pages are small: buffer them
            finally:
                close = getattr(result, "close", None)
                if close is not None:
                    close()  # Django's request_finished
        elapsed_ms = (time.perf_counter() - started) * 1000
        headers = Headers(sent["headers"])
        if _wants_strip(environ, headers):
            from demo_site.toolbar import strip_switch  # (imported once Django is set up)

            strip = render_strip(
                headers, arrived_ms, elapsed_ms, counter.count, strip_switch(environ)
            )
            body = _insert_before_body_end(body, strip, headers)
        start_response(sent["status"], headers.items(), sent["exc_info"])
        return [body]


def _wants_strip(environ: dict[str, Any], headers: Headers) -> bool:
    if environ.get("PATH_INFO", "").startswith("/admin/"):
        return False  # the admin has its own layout
    return (headers.get("Content-Type") or "").startswith("text/html") and not headers.get(
        "Content-Encoding"
    )


def _page_cache_setting(name: str, default: str | None) -> str | None:
    return getattr(settings, "PAGECACHE", {}).get(name, default)  # type: ignore[no-any-return]


def render_strip(
    headers: Headers,
    arrived_ms: int,
    elapsed_ms: float,
    queries: int,
    switch: SafeString | None = None,
) -> SafeString:
    status_header = _page_cache_setting("STATUS_HEADER", "X-Cache")
    status = (headers.get(status_header) or "") if status_header else ""
    tag_header = _page_cache_setting("TAG_HEADER", None)
    tags = [unquote(t) for t in (headers.get(tag_header) or "").split()] if tag_header else []
    parts = [
        format_html(
            '<span title="{}">{} <b class="{}">{}</b></span>',
            STATUS_TITLES.get(status, ""),
            status_header or "cache",
            status,
            status or "?",
        )
    ]
    if headers.get("Age"):
        parts.append(format_html("<span>Age {} s</span>", headers["Age"]))
    parts.append(format_html("<span>served in {} ms</span>", f"{elapsed_ms:.1f}"))
    plural = "y" if queries == 1 else "ies"
    parts.append(format_html("<span>{} SQL quer{}</span>", queries, plural))
    if tags:
        parts.append(
            format_html(
                '<details><summary>{} tag{}</summary><div class="pc-tags">{}</div></details>',
                len(tags),
                "" if len(tags) == 1 else "s",
                format_html_join(" ", "<code>{}</code>", ((t,) for t in tags)),
            )
        )
    if switch is not None:
        parts.append(switch)
    parts.append(
        mark_safe('<label><input type="checkbox" id="pc-stamps" checked> fragment labels</label>')
    )
    return format_html(
        '<div id="pc-strip" data-arrived="{}" data-status="{}">{}</div>'
        "<style>{}</style><script>{}</script>",
        arrived_ms,
        status,
        mark_safe("".join(parts)),
        mark_safe(STRIP_CSS),
        mark_safe(STRIP_JS),
    )


def _insert_before_body_end(body: bytes, html: str, headers: Headers) -> bytes:
    at = body.rfind(b"</body>")
    if at == -1:
        return body
    body = body[:at] + html.encode("utf-8") + body[at:]  # the demo's pages are UTF-8
    if headers.get("Content-Length"):
        headers["Content-Length"] = str(len(body))
    return body
