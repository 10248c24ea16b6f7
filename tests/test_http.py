"""The page cache over real HTTP (SPEC §4): a real gunicorn serves tests/http_site.py —
pagecache first, then Django's usual middleware with LocaleMiddleware, sessions and auth on
a SQLite file, the cache in the test's redis-server — and the tests talk to it as clients
do: raw sockets (exact request bytes: Host, Cookie, a GET with a body) and a browser with
a cookie jar (forms posted back with Django's CSRF checks on).

Every test runs against four servers, each started once for the module: 2 sync workers and
2 gthread workers of 4 threads, each serving Django's WSGI app alone and wrapped in
pagecache's WSGI fast path (``PageCacheWSGI``). Views count their renders in Redis and print
the count, so a body tells whether it was rendered for this request or replayed.
"""

from __future__ import annotations

import http.client
import http.cookiejar
import importlib.util
import os
import re
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlencode

import pytest
from django.middleware.csrf import (  # type: ignore[attr-defined]
    _mask_cipher_secret,
    _unmask_cipher_token,
)

from pagecache.core import entry
from tests.conftest import _in_ci
from tests.redis_harness import die_with_parent, free_port

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parent.parent
SETTINGS = "tests.http_site"
TOKEN = re.compile(r'name="csrfmiddlewaretoken" value="([A-Za-z0-9]{64})"')
SESSION_KEY = "k" * 32  # a well-formed session key (Django ignores shorter ones)

WORKERS = {
    "sync": ["--workers", "2", "--worker-class", "sync"],
    "gthread": ["--workers", "2", "--worker-class", "gthread", "--threads", "4"],
}
APPS = {"django": f"{SETTINGS}:wsgi()", "fastpath": f"{SETTINGS}:fast_wsgi()"}


# -- servers ---------------------------------------------------------------------------------


def _require_gunicorn() -> None:
    if importlib.util.find_spec("gunicorn") is None:
        reason = "needs gunicorn (pip install -e '.[dev]')"
        if _in_ci():
            pytest.fail(f"CI=true: {reason}", pytrace=False)  # never a quiet skip in CI
        pytest.skip(reason)


@pytest.fixture(scope="module")
def site_env(redis_server, tmp_path_factory) -> dict[str, str]:
    """The site's environment, with its SQLite database migrated (sessions, auth, pagecache)."""
    _require_gunicorn()
    database = tmp_path_factory.mktemp("http_site") / "db.sqlite3"
    env = dict(
        os.environ,
        REDIS_URL=redis_server.url,
        HTTP_SITE_DB=str(database),
        DJANGO_SETTINGS_MODULE=SETTINGS,
    )
    for name in ("SCRIPT_NAME", "GUNICORN_CMD_ARGS"):  # gunicorn reads both
        env.pop(name, None)
    subprocess.run(
        [sys.executable, "-m", "django", "migrate", "-v", "0"],
        env=env,
        cwd=ROOT,
        check=True,
        timeout=60,
    )
    return env


def wait_until_serving(
    process: subprocess.Popen, port: int, timeout: float = 30, probe: str = "/where/"
) -> None:
    # (``probe`` is requested; the page it gets must show that path, under any mount point.)
    """Poll until gunicorn accepts connections, then send one request and wait for its
    answer. (Unlike a probe with a short client timeout, this leaves no request queued in
    gunicorn that would be answered later — after a test flushed the cache — and count as a
    render or store a page.)"""
    deadline = time.monotonic() + timeout
    while True:
        assert process.poll() is None, "gunicorn exited"
        try:
            sock = socket.create_connection(("127.0.0.1", port), timeout=1)
            break
        except OSError:
            assert time.monotonic() < deadline, "gunicorn did not start"
            time.sleep(0.05)  # polling for the server to start, not ordering a test
    with sock:
        sock.settimeout(max(1.0, deadline - time.monotonic()))
        sock.sendall(
            b"GET %b HTTP/1.1\r\nHost: a.test\r\nConnection: close\r\n\r\n" % probe.encode()
        )
        reply = b"".join(iter(lambda: sock.recv(65536), b""))
    assert b"path_info=%b " % probe.encode() in reply, (
        f"not the site on port {port}: {reply[:200]!r}"
    )


@dataclass(frozen=True)
class Server:
    name: str
    port: int

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


def server_command(kind: str, port: int, *extra: str) -> list[str]:
    """The command line of one kind of server: gunicorn (WSGI) or uvicorn (ASGI)."""
    if kind.startswith("uvicorn-"):
        factory = "fast_asgi" if kind == "uvicorn-fastpath" else "asgi"
        return [
            sys.executable,
            "-m",
            "uvicorn",
            "--factory",
            f"{SETTINGS}:{factory}",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--log-level",
            "warning",
            *extra,
        ]
    workers, app = kind.split("-")
    return [
        sys.executable,
        "-m",
        "gunicorn",
        *WORKERS[workers],
        "--bind",
        f"127.0.0.1:{port}",
        "--log-level",
        "warning",
        # The front end trusted to set SCRIPT_NAME (the default, made explicit).
        "--forwarded-allow-ips",
        "127.0.0.1",
        APPS[app],
    ]


@pytest.fixture(
    scope="module",
    params=[*(f"{w}-{a}" for w in WORKERS for a in APPS), "uvicorn-asgi", "uvicorn-fastpath"],
)
def site(request, site_env) -> Iterator[Server]:
    """gunicorn or uvicorn serving the site, started once per module and kind."""
    with serving(request.param, site_env) as server:
        yield server


@contextmanager
def serving(
    kind: str, env: dict[str, str], *extra: str, probe: str = "/where/"
) -> Iterator[Server]:
    """One server of ``kind`` (``extra``: more options) until the block ends."""
    for attempt in range(3):
        port = free_port()
        process = subprocess.Popen(
            server_command(kind, port, *extra),
            env=env,
            cwd=ROOT,
            preexec_fn=die_with_parent,
        )
        try:
            wait_until_serving(process, port, probe=probe)
            break
        except AssertionError:
            process.terminate()
            process.wait(10)
            if attempt == 2:
                raise  # not a port taken by someone else in between: it does not start
    try:
        yield Server(kind, port)
    finally:
        process.terminate()
        process.wait(10)


# -- a raw HTTP client -------------------------------------------------------------------------


@dataclass
class Reply:
    status: int
    headers: list[tuple[str, str]]
    body: bytes
    status_line: str = ""

    def get(self, name: str) -> str | None:
        return next((v for n, v in self.headers if n.lower() == name.lower()), None)

    def all(self, name: str) -> list[str]:
        return [v for n, v in self.headers if n.lower() == name.lower()]

    @property
    def cache(self) -> str | None:
        return self.get("X-Cache")

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", "replace")


def _dechunk(data: bytes) -> bytes:
    out = b""
    while True:
        size_line, _, data = data.partition(b"\r\n")
        size = int(size_line.split(b";")[0], 16)
        if size == 0:
            return out
        out, data = out + data[:size], data[size + 2 :]


def parse_reply(raw: bytes, method: str) -> Reply:
    """A response read to EOF, checked for framing: a body exactly as long as announced,
    none for HEAD and 304."""
    head, separator, body = raw.partition(b"\r\n\r\n")
    assert separator, f"no end of headers in {raw[:200]!r}"
    status_line, *lines = head.decode("latin-1").split("\r\n")
    headers = [(n.strip(), v.strip()) for n, v in (line.split(":", 1) for line in lines)]
    reply = Reply(int(status_line.split(" ")[1]), headers, body, status_line)
    if method == "HEAD" or reply.status == 304:
        assert body == b"", f"{method} {reply.status} sent a body: {body[:100]!r}"
    elif (reply.get("Transfer-Encoding") or "").lower() == "chunked":
        reply.body = _dechunk(body)
    elif reply.get("Content-Length") is not None:
        assert len(body) == int(reply.get("Content-Length") or ""), "Content-Length is wrong"
    return reply


def send(
    site: Server,
    method: str,
    target: str,
    *headers: tuple[str, str | bytes],
    host: str | None = "a.test",
    body: bytes = b"",
) -> Reply:
    """One request on its own connection, written byte for byte; the reply read to EOF."""
    lines = [f"{method} {target} HTTP/1.1".encode()]
    if host is not None:
        lines.append(f"Host: {host}".encode())
    for name, value in headers:
        raw = value if isinstance(value, bytes) else value.encode("latin-1")
        lines.append(name.encode() + b": " + raw)
    lines.append(b"Connection: close")
    request = b"\r\n".join(lines) + b"\r\n\r\n" + body
    with socket.create_connection(("127.0.0.1", site.port), timeout=10) as sock:
        sock.sendall(request)
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    return parse_reply(b"".join(chunks), method)


def get(site: Server, target: str, *headers: tuple[str, str | bytes], **kw) -> Reply:
    return send(site, "GET", target, *headers, **kw)


class Browser:
    """A visitor with a cookie jar (``urllib.request`` + ``http.cookiejar``)."""

    def __init__(self, site: Server) -> None:
        self.site = site
        self.jar = http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(self.jar))

    def request(self, method: str, path: str, data: dict[str, str] | None = None) -> Reply:
        encoded = urlencode(data).encode() if data is not None else None
        req = urllib.request.Request(self.site.url + path, data=encoded, method=method)
        try:
            with self.opener.open(req, timeout=10) as response:
                return Reply(response.status, list(response.headers.items()), response.read())
        except urllib.error.HTTPError as error:
            with error:
                return Reply(error.code, list(error.headers.items()), error.read())

    def get(self, path: str) -> Reply:
        return self.request("GET", path)

    def post(self, path: str, data: dict[str, str]) -> Reply:
        return self.request("POST", path, data)

    @property
    def secret(self) -> str | None:
        return next((c.value for c in self.jar if c.name == "csrftoken"), None)


def stored_pages(redis_server) -> dict[str, entry.Entry]:
    """Every page entry in Redis, decoded (not Vary markers, locks or counters)."""
    client = redis_server.client()
    pages = {}
    for key in client.scan_iter(match="pc:p1*"):
        value = client.get(key)
        stored = entry.loads(value) if entry.read_header(value) is not None else None
        if stored is not None:
            pages[key.decode("utf-8", "replace")] = stored
    return pages


# -- 1. hosts --------------------------------------------------------------------------------


def test_two_allowed_hosts_get_separate_entries(site):
    a1, b1 = get(site, "/host/", host="a.test"), get(site, "/host/", host="b.test")
    assert (a1.status, a1.cache, a1.text) == (200, "MISS", "host=a.test render=1")
    assert (b1.status, b1.cache, b1.text) == (200, "MISS", "host=b.test render=2")
    a2, b2 = get(site, "/host/", host="a.test"), get(site, "/host/", host="b.test")
    assert (a2.cache, a2.text) == ("HIT", a1.text)
    assert (b2.cache, b2.text) == ("HIT", b1.text)


def test_a_host_with_a_port_is_not_the_host_without(site):
    plain = get(site, "/host/", host="a.test")
    ported = get(site, "/host/", host="a.test:8080")
    assert (plain.cache, plain.text) == ("MISS", "host=a.test render=1")
    assert (ported.cache, ported.text) == ("MISS", "host=a.test:8080 render=2")
    assert get(site, "/host/", host="a.test:8080").text == ported.text
    assert get(site, "/host/", host="a.test").text == plain.text


@pytest.mark.parametrize(
    "forged", ["evil.test", "a.test.evil.test", "evil.test:8080", "a.test@evil.test"]
)
def test_a_disallowed_host_gets_400_and_is_never_stored(site, redis_server, forged):
    for _ in range(2):
        reply = get(site, "/host/", host=forged)
        assert (reply.status, reply.cache) == (400, "BYPASS")
        assert b"render=" not in reply.body
    client = redis_server.client()
    assert [k for k in client.scan_iter(match="*evil*")] == []
    assert client.get("pctest:http:renders:host") is None  # the view never ran
    # The allowed host still renders and is stored as usual.
    assert get(site, "/host/", host="a.test").cache == "MISS"
    assert get(site, "/host/", host="a.test").cache == "HIT"


# -- 2. SCRIPT_NAME --------------------------------------------------------------------------


def test_two_splits_of_one_url_never_share_an_entry(site):
    """gunicorn takes SCRIPT_NAME from a trusted front end's header (loopback is trusted):
    /app/where/ is the app mounted at /app serving /where/, or the app at the root serving
    /app/where/. Same Host, same URL, two pages."""
    if site.name.startswith("uvicorn-"):
        pytest.skip("uvicorn takes the mount point from --root-path: see the test below")
    mounted = ("SCRIPT_NAME", "/app")
    split = get(site, "/app/where/", mounted)
    assert (split.cache, split.text) == (
        "MISS",
        "path=/app/where/ script_name=/app path_info=/where/ render=1",
    )
    whole = get(site, "/app/where/")
    assert (whole.cache, whole.text) == (
        "MISS",
        "path=/app/where/ script_name= path_info=/app/where/ render=2",
    )
    again_split, again_whole = get(site, "/app/where/", mounted), get(site, "/app/where/")
    assert (again_split.cache, again_split.text) == ("HIT", split.text)
    assert (again_whole.cache, again_whole.text) == ("HIT", whole.text)
    # A path spelling the key's separator is a path of its own (a 404, stored as such).
    spelled = get(site, "/app%7C/where/")
    assert (spelled.status, spelled.cache) == (404, "MISS")
    assert get(site, "/app/where/", mounted).text == split.text


@pytest.mark.parametrize("kind", ["uvicorn-asgi", "uvicorn-fastpath"])
def test_an_app_mounted_with_uvicorn_root_path_never_shares_an_entry_with_one_at_the_root(
    kind, site_env
):
    """Behind a proxy that strips /app, ``uvicorn --root-path /app`` serves the app mounted
    at /app: /where/ reaches it as SCRIPT_NAME /app, PATH_INFO /where/. Another server with
    the same cache serves the app at the root, where /app/where/ is PATH_INFO /app/where/.
    Same Host, same public URL /app/where/: two pages, never one entry."""
    with (
        serving(kind, site_env, "--root-path", "/app") as mounted,
        serving(kind, site_env, probe="/app/where/") as whole,
    ):
        split = get(mounted, "/where/")
        assert split.text.startswith("path=/app/where/ script_name=/app path_info=/where/ ")
        root = get(whole, "/app/where/")
        assert root.text.startswith("path=/app/where/ script_name= path_info=/app/where/ ")
        assert root.text != split.text
        for _ in range(2):
            again_split, again_root = get(mounted, "/where/"), get(whole, "/app/where/")
            assert (again_split.cache, again_split.text) == ("HIT", split.text)
            assert (again_root.cache, again_root.text) == ("HIT", root.text)


# -- 3. raw cookies --------------------------------------------------------------------------


def test_analytics_cookies_neither_split_a_vary_cookie_page_nor_reach_the_view(site, redis_server):
    first = get(site, "/cookies/", ("Cookie", "_ga=GA1.2.3; _gid=x; theme=dark"))
    assert (first.cache, first.text) == ("MISS", "cookies=theme theme=dark render=1")
    assert "cookie" in (first.get("Vary") or "").lower()
    for n, cookie in enumerate(
        [
            "_ga=GA1.2.999; _gid=y; theme=dark",
            "theme=dark; _ga=GA1.2.4",
            "theme=dark",
            "_gat_UA-1=1; theme=dark; _gcl_au=1.1.1; _fbp=fb.1",
        ]
    ):
        visitor = get(site, "/cookies/", ("Cookie", cookie))
        assert (n, visitor.cache, visitor.text) == (n, "HIT", first.text)
    other = get(site, "/cookies/", ("Cookie", "_ga=GA1.2.3; theme=light"))
    assert (other.cache, other.text) == ("MISS", "cookies=theme theme=light render=2")
    stored = stored_pages(redis_server)
    assert len(stored) == 2
    for page in stored.values():
        assert b"_ga" not in page.body and b"_gid" not in page.body
        assert b"render=" in page.body


@pytest.mark.parametrize(
    "personal",
    [
        ("Cookie", f"sessionid={SESSION_KEY}; theme=dark"),
        ("Cookie", "theme=dark; messages=abc"),
        ("Authorization", "Bearer abc"),
    ],
    ids=["session", "messages", "authorization"],
)
def test_session_messages_and_authorization_bypass(site, personal):
    anonymous = ("Cookie", "theme=dark")
    get(site, "/cookies/", anonymous)  # stored for anonymous visitors
    # (Two Cookie lines would be joined with "," by the server, hiding the second cookie.)
    headers = [personal] if personal[0] == "Cookie" else [anonymous, personal]
    for n in (2, 3):
        reply = get(site, "/cookies/", *headers)
        assert reply.status == 200
        assert reply.cache == "BYPASS"
        assert reply.text.endswith(f"render={n}")  # rendered for them, every time
    assert get(site, "/cookies/", ("Cookie", "theme=dark")).cache == "HIT"


MALFORMED_COOKIES: list[bytes] = [
    b"",
    b"=",
    b";;;",
    b"theme",
    b'theme="unterminated',
    b"a=b=c; ;=x; =; theme=dark",
    b"\xff\xfe=\xe9; theme=\xe9t\xe9",
    b"csrftoken=; sessionid",
    b"csrftoken=%00%00; _ga",
    b"$Version=1; theme=dark; $Path=/",
    b"theme=dark," * 300,
    b"sessionid=; theme=dark",
]


@pytest.mark.parametrize("cookie", MALFORMED_COOKIES, ids=range(len(MALFORMED_COOKIES)))
def test_a_malformed_cookie_header_never_gives_a_500(site, cookie):
    for path in ("/cookies/", "/form/", "/language/"):
        for _ in range(2):
            reply = get(site, path, ("Cookie", cookie))
            assert reply.status == 200, (path, reply.status, reply.text[:200])
            assert reply.cache in ("MISS", "HIT", "BYPASS")


def test_a_cookie_sent_twice_is_keyed_as_the_view_reads_it(site):
    """Browsers send one name twice when it was set for two paths or domains (most specific
    first); Django's parse_cookie keeps the last. These two visitors' views see different
    themes, so they must not share a page."""
    light = get(site, "/cookies/", ("Cookie", "theme=dark; theme=light"))
    assert (light.cache, light.text) == ("MISS", "cookies=theme theme=light render=1")
    dark = get(site, "/cookies/", ("Cookie", "theme=light; theme=dark"))
    assert (dark.cache, dark.text) == ("MISS", "cookies=theme theme=dark render=2")


# -- 4. a GET with a body ----------------------------------------------------------------------


def test_a_get_with_a_body_is_never_served_from_the_cache_nor_stored(site):
    plain = get(site, "/body/")
    assert (plain.cache, plain.text) == ("MISS", "body=b'' render=1")
    evil = send(site, "GET", "/body/", ("Content-Length", "5"), body=b"evil!")
    assert (evil.status, evil.cache, evil.text) == (200, "BYPASS", "body=b'evil!' render=2")
    after = get(site, "/body/")
    assert (after.cache, after.text) == ("HIT", plain.text)


def test_a_get_with_a_body_on_a_cold_page_leaves_nothing_behind(site):
    evil = send(site, "GET", "/body/?cold", ("Content-Length", "5"), body=b"evil!")
    assert (evil.cache, evil.text) == ("BYPASS", "body=b'evil!' render=1")
    fresh = get(site, "/body/?cold")
    assert (fresh.cache, fresh.text) == ("MISS", "body=b'' render=2")
    assert get(site, "/body/?cold").text == fresh.text


def test_a_chunked_get_bypasses(site):
    get(site, "/body/")  # stored
    chunked = send(
        site, "GET", "/body/", ("Transfer-Encoding", "chunked"), body=b"5\r\nevil!\r\n0\r\n\r\n"
    )
    assert (chunked.status, chunked.cache) == (200, "BYPASS")
    assert chunked.text.endswith("render=2")
    assert get(site, "/body/").text == "body=b'' render=1"


# -- 5. unkeyed query parameters ----------------------------------------------------------------


def test_ignored_query_params_are_stripped_before_the_view(site, redis_server):
    first = get(site, "/reflect/?utm_source=%3Cscript%3Ealert(1)%3C/script%3E&page=2")
    assert first.cache == "MISS"
    assert first.text == (
        "<link rel=\"canonical\" href=\"/reflect/?page=2\"><p>GET=[('page', ['2'])] render=1</p>"
    )
    for target in ("/reflect/?page=2", "/reflect/?gclid=abc&page=2", "/reflect/?page=2&fbclid=x"):
        reply = get(site, target)
        assert (target, reply.cache, reply.text) == (target, "HIT", first.text)
    (stored,) = stored_pages(redis_server).values()
    assert b"utm_source" not in stored.body and b"script" not in stored.body


# -- 6. language -----------------------------------------------------------------------------


def test_language_cookie_and_accept_language_get_their_own_pages(site):
    german = ("Cookie", "django_language=de")
    english = ("Accept-Language", "en")
    de1 = get(site, "/language/", german, english)
    en1 = get(site, "/language/", english)
    assert (de1.cache, de1.text) == ("MISS", "language=de render=1")
    assert (en1.cache, en1.text) == ("MISS", "language=en render=2")
    de2 = get(site, "/language/", german, english)
    en2 = get(site, "/language/", english)
    assert (de2.cache, de2.text, de2.get("Content-Language")) == ("HIT", de1.text, "de")
    assert (en2.cache, en2.text, en2.get("Content-Language")) == ("HIT", en1.text, "en")
    # Accept-Language alone picks German too: its own variant.
    de3 = get(site, "/language/", ("Accept-Language", "de"))
    assert (de3.cache, de3.text) == ("MISS", "language=de render=3")


# -- 7. forms --------------------------------------------------------------------------------


def tokens(reply: Reply) -> list[str]:
    return TOKEN.findall(reply.text)


def test_each_visitor_of_a_cached_form_gets_a_token_of_their_own(site):
    a, b = Browser(site), Browser(site)
    rendered = a.get("/form/")
    assert (rendered.status, rendered.cache) == (200, "MISS")
    served = b.get("/form/")
    assert (served.status, served.cache) == (200, "HIT")
    assert "<h1>Article 1</h1>" in served.text  # the stored render
    assert a.secret and b.secret and a.secret != b.secret
    ((token_a,), (token_b,)) = tokens(rendered), tokens(served)
    assert _unmask_cipher_token(token_a) == a.secret
    assert _unmask_cipher_token(token_b) == b.secret
    # No visitor's token (or secret) in another's page.
    assert token_a not in served.text and a.secret not in served.text
    assert token_b not in rendered.text and b.secret not in rendered.text
    # A returning visitor keeps their cookie (no Set-Cookie) and gets a fresh mask of it.
    again = b.get("/form/")
    assert again.cache == "HIT" and again.all("Set-Cookie") == []
    assert [_unmask_cipher_token(t) for t in tokens(again)] == [b.secret]


def test_a_token_from_a_cached_form_posts_back_and_is_refused_to_anyone_else(site):
    a, b = Browser(site), Browser(site)
    assert a.get("/form/").cache == "MISS"
    page = b.get("/form/")
    assert page.cache == "HIT"
    (token,) = tokens(page)
    posted = b.post("/comment/", {"csrfmiddlewaretoken": token, "text": "hi"})
    assert (posted.status, posted.text, posted.cache) == (200, "thanks: hi", "BYPASS")
    refused = a.post("/comment/", {"csrfmiddlewaretoken": token, "text": "x"})
    assert refused.status == 403
    # A's own token still works for A.
    (own,) = tokens(a.get("/form/"))
    assert a.post("/comment/", {"csrfmiddlewaretoken": own, "text": "a"}).status == 200


def test_the_stored_form_holds_no_token(site, redis_server):
    a = Browser(site)
    a.get("/form/")
    (stored,) = stored_pages(redis_server).values()
    assert stored.csrf_placeholder and stored.csrf_placeholder.encode() in stored.body
    assert not re.search(rb"[A-Za-z0-9]{64}", stored.body)
    assert a.secret and a.secret.encode() not in stored.body
    assert all(name.lower() != "set-cookie" for name, _ in stored.headers)


#: A masked secret, as Django < 4.1 stored it in the cookie.
LEGACY_CSRF_COOKIE = _mask_cipher_secret("A" * 32)


def test_a_csrf_cookie_reflected_into_a_page_is_never_served_to_another_visitor(site):
    """A page putting the CSRF cookie in a meta tag for its scripts (varying on Cookie, as
    it should) shows one visitor's CSRF secret: it must never reach another visitor."""
    own = ("Cookie", f"csrftoken={LEGACY_CSRF_COOKIE}; theme=dark")
    mine = get(site, "/csrf-meta/", own)
    assert mine.status == 200 and LEGACY_CSRF_COOKIE in mine.text
    assert "A" * 32 not in mine.text  # the secret itself would not be stored
    # Django takes that cookie as its owner's CSRF secret: whoever reads it can make tokens
    # that pass for the owner (here, the value itself).
    form = f"csrfmiddlewaretoken={LEGACY_CSRF_COOKIE}&text=x".encode()
    forged = send(
        site,
        "POST",
        "/comment/",
        ("Cookie", f"csrftoken={LEGACY_CSRF_COOKIE}"),
        ("Content-Type", "application/x-www-form-urlencoded"),
        ("Content-Length", str(len(form))),
        body=form,
    )
    assert (forged.status, forged.text) == (200, "thanks: x")
    theirs = get(site, "/csrf-meta/", ("Cookie", "theme=dark"))
    assert LEGACY_CSRF_COOKIE not in theirs.text, (theirs.cache, theirs.text)


def test_a_current_csrf_cookie_reflected_into_a_page_is_not_stored(site):
    secret = "B" * 32
    for n in (1, 2):
        reply = get(site, "/csrf-meta/", ("Cookie", f"csrftoken={secret}; theme=dark"))
        assert (reply.cache, secret in reply.text) == ("MISS", True)
        assert reply.text.endswith(f"render={n}</p>")
    other = get(site, "/csrf-meta/", ("Cookie", "theme=dark"))
    assert secret not in other.text


# -- 8. Set-Cookie written directly ------------------------------------------------------------


def test_a_set_cookie_header_written_directly_is_never_stored_or_replayed(site, redis_server):
    first = get(site, "/set-cookie/")
    assert (first.cache, first.all("Set-Cookie"), first.text) == (
        "MISS",
        ["x=1"],
        "set-cookie render=1",
    )
    for n in (2, 3):
        reply = get(site, "/set-cookie/")
        assert (reply.cache, reply.all("Set-Cookie"), reply.text) == (
            "MISS",
            [f"x={n}"],
            f"set-cookie render={n}",
        )
    assert stored_pages(redis_server) == {}


# -- 9. HEAD and conditional requests ----------------------------------------------------------


def test_head_is_served_from_the_get_entry_without_a_body(site):
    full = get(site, "/etag/")
    assert full.cache == "MISS" and full.body.startswith(b"etag page render=1 ")
    head = send(site, "HEAD", "/etag/")
    assert (head.status, head.cache, head.body) == (200, "HIT", b"")
    assert head.get("Content-Length") == str(len(full.body))
    assert head.get("ETag") == '"v1"'


def test_a_cold_head_renders_and_leaves_the_get_to_store(site):
    head = send(site, "HEAD", "/etag/")
    assert (head.status, head.cache, head.body) == (200, "MISS", b"")
    full = get(site, "/etag/")
    assert full.cache == "MISS" and full.body.startswith(b"etag page render=2 ")
    assert send(site, "HEAD", "/etag/").cache == "HIT"


def test_if_none_match_is_answered_304_on_a_hit(site):
    full = get(site, "/etag/")
    assert (full.cache, full.get("ETag")) == ("MISS", '"v1"')
    reply = get(site, "/etag/", ("If-None-Match", '"v1"'))
    assert (reply.status, reply.cache, reply.body, reply.get("ETag")) == (304, "HIT", b"", '"v1"')
    assert reply.get("Transfer-Encoding") is None
    other = get(site, "/etag/", ("If-None-Match", '"v0"'))
    assert (other.status, other.cache, other.body) == (200, "HIT", full.body)
    head = send(site, "HEAD", "/etag/", ("If-None-Match", 'W/"v1"'))
    assert (head.status, head.cache) == (304, "HIT")


def test_a_revalidation_of_a_cold_page_gets_304_and_stores_the_page(site):
    reply = get(site, "/etag/", ("If-None-Match", '"v1"'))
    assert (reply.status, reply.cache, reply.body) == (304, "MISS", b"")
    full = get(site, "/etag/")
    assert (full.status, full.cache) == (200, "HIT")
    assert full.body.startswith(b"etag page render=1 ")


# -- what a hit is, on the wire ------------------------------------------------------------------


def test_fast_path_hits_never_reach_django(site, redis_server):
    counter = redis_server.client()
    assert get(site, "/etag/").cache == "MISS"
    assert get(site, "/etag/").cache == "HIT"
    assert send(site, "HEAD", "/etag/").cache == "HIT"
    assert get(site, "/etag/", ("If-None-Match", '"v1"')).status == 304
    reached = int(counter.get("pctest:http:renders:django") or 0)
    assert reached == (1 if site.name.endswith("fastpath") else 4)


@pytest.mark.parametrize("target", ["/etag/", "/nowhere/", "/language/"])
def test_a_hit_repeats_the_status_line_and_headers_of_the_stored_response(site, target):
    """Byte for byte, in order: only Date (the server's), Age and X-Cache differ."""

    def stored_part(reply: Reply) -> list[tuple[str, str]]:
        return [(n, v) for n, v in reply.headers if n.lower() not in ("date", "age", "x-cache")]

    miss, hit = get(site, target), get(site, target)
    assert (miss.cache, hit.cache) == ("MISS", "HIT")
    assert hit.status_line == miss.status_line
    assert stored_part(hit) == stored_part(miss)
    assert hit.body == miss.body
    assert hit.get("Age") is not None and int(hit.get("Age") or "") >= 0


def test_responses_are_framed_right_on_a_kept_alive_connection(site):
    """One connection (kept alive by the gthread workers), hits and misses in turn: each
    response's length is right, or the next one would not parse."""
    connection = http.client.HTTPConnection("127.0.0.1", site.port, timeout=10)
    sequence = [
        ("GET", "/etag/", {}),
        ("HEAD", "/etag/", {}),
        ("GET", "/etag/", {"If-None-Match": '"v1"'}),
        ("GET", "/form/", {}),
        ("GET", "/form/", {}),
        ("HEAD", "/form/", {}),
        ("GET", "/etag/", {}),
    ]
    seen, sockets = [], []
    try:
        for method, path, headers in sequence:
            connection.request(method, path, headers={"Host": "a.test", **headers})
            sockets.append(connection.sock)  # a new one whenever the server closed the last
            response = connection.getresponse()
            body = response.read()
            length = response.getheader("Content-Length")
            if method == "GET" and response.status == 200:
                assert length is not None and int(length) == len(body)
            seen.append((method, response.status, response.getheader("X-Cache")))
    finally:
        connection.close()
    assert seen == [
        ("GET", 200, "MISS"),
        ("HEAD", 200, "HIT"),
        ("GET", 304, "HIT"),
        ("GET", 200, "MISS"),
        ("GET", 200, "HIT"),
        ("HEAD", 200, "HIT"),
        ("GET", 200, "HIT"),
    ]
    if site.name.startswith("gthread"):
        assert len({id(sock) for sock in sockets}) == 1  # all on one kept-alive connection


# -- ASGI: the middleware runs in the event loop ---------------------------------------------


@pytest.mark.parametrize("site", ["uvicorn-asgi", "uvicorn-fastpath"], indirect=True)
def test_a_thousand_asgi_hits_reuse_pooled_redis_connections(site, redis_server):
    """Under ASGI the hit path used to run in a fresh thread per request, each opening its
    own Redis connection (101 connections for 100 hits); the native async path keeps one
    pool per event loop."""
    from pagecache.stores.redis_async import AsyncRedisStore

    assert get(site, "/where/").cache in ("MISS", "HIT")
    admin = redis_server.client()
    before = int(admin.info("stats")["total_connections_received"])
    connection = http.client.HTTPConnection("127.0.0.1", site.port, timeout=10)
    try:
        for _ in range(1000):
            connection.request("GET", "/where/", headers={"Host": "a.test"})
            response = connection.getresponse()
            response.read()
            assert response.getheader("X-Cache") == "HIT"
    finally:
        connection.close()
    opened = int(admin.info("stats")["total_connections_received"]) - before
    assert opened <= AsyncRedisStore(admin, "pc").max_connections
    assert opened <= 2  # sequential hits: the pool's one connection (and the counter's)
