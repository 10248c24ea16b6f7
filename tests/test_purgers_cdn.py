"""SPEC §11, purgers: Fastly and Cloudflare, each played by a local HTTP server that checks
every request against the provider's documented purge API (method, path, auth header,
content type, JSON shape, limits per call), answers like it (error shapes included) and
records what it accepted. Purges go through ``pagecache.purge_tags`` and the edge
dispatcher's worker (:func:`pagecache.purging.edge.flush` waits for it); pages through
the test site and ``django.test.Client``."""

from __future__ import annotations

import json
import logging
import socket
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from django.core.checks import run_checks
from django.test import Client, override_settings

import pagecache
from pagecache.purgers import ALL, CloudflarePurger, FastlyPurger, Purger, PurgerError
from pagecache.purgers.base import rolled_up
from pagecache.purging import edge
from tests.pages_urls import HOOKS

pytestmark = pytest.mark.django_db(transaction=True)

TOKEN = "test-token-0123456789"
FASTLY_SERVICE = "SU1Z0isxPaozGVKXdv0eY"
CLOUDFLARE_ZONE = "023e105f4ecef8ad9ca31a8372d0c353"


# -- the fake APIs ----------------------------------------------------------------------------


@dataclass
class Call:
    """One purge call the fake API accepted."""

    tags: list[str]
    soft: bool
    headers: dict[str, str] = field(repr=False)


class Rejected(Exception):
    """A request that breaks the provider's documented format: (status, reply body)."""

    def __init__(self, status: int, reply: dict[str, Any]) -> None:
        super().__init__(status, reply)
        self.status = status
        self.reply = reply


class FakeAPI:
    """Fastly's or Cloudflare's purge API on 127.0.0.1 (a free port).

    ``fail`` scripts the next requests: ``"500"``, ``"429"``, ``"close"`` (the connection is
    closed without an answer), ``"hang"`` (the request is held until :attr:`release` is
    set), ``"false200"`` (Cloudflare: HTTP 200 with ``"success": false``).
    """

    def __init__(self, provider: str) -> None:
        self.provider = provider
        self.resource = FASTLY_SERVICE if provider == "fastly" else CLOUDFLARE_ZONE
        self.calls: list[Call] = []
        self.rejections: list[str] = []
        self.attempts = 0
        self.fail: list[str] = []
        self.holding = threading.Event()
        self.release = threading.Event()
        self._lock = threading.Lock()
        self._server = _Server(("127.0.0.1", 0), _Handler)
        self._server.api = self
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        if provider == "cloudflare":
            self.url += "/client/v4"
        self._thread = threading.Thread(
            target=self._server.serve_forever, args=(0.02,), daemon=True
        )
        self._thread.start()

    def close(self) -> None:
        self.release.set()
        self._server.shutdown()
        self._server.server_close()

    def setting(self, **options: object) -> dict[str, Any]:
        if self.provider == "fastly":
            backend, ids = "pagecache.purgers.FastlyPurger", {"SERVICE_ID": self.resource}
        else:
            backend, ids = "pagecache.purgers.CloudflarePurger", {"ZONE_ID": self.resource}
        return {
            "BACKEND": backend,
            "OPTIONS": {**ids, "API_TOKEN": TOKEN, "API_URL": self.url, **options},
        }

    def purged(self) -> list[str]:
        """Every tag of every accepted call, in order."""
        return [tag for call in self.calls for tag in call.tags]

    # -- serving --

    def handle(self, request: BaseHTTPRequestHandler) -> None:
        with self._lock:
            self.attempts += 1
            mode = self.fail.pop(0) if self.fail else None
        length = int(request.headers.get("Content-Length") or 0)
        raw = request.rfile.read(length)
        if mode == "close":
            request.close_connection = True
            return
        if mode == "hang":
            self.holding.set()
            self.release.wait(60)
        if mode in ("500", "429", "false200"):
            status, reply = self._failure(mode)
        else:
            try:
                call = (self._fastly if self.provider == "fastly" else self._cloudflare)(
                    request, raw
                )
            except Rejected as exc:
                self.rejections.append(f"{exc.status} {json.dumps(exc.reply)}")
                status, reply = exc.status, exc.reply
            else:
                with self._lock:
                    self.calls.append(call)
                status, reply = 200, self._success(call)
        body = json.dumps(reply).encode()
        request.send_response(status)
        request.send_header("Content-Type", "application/json")
        request.send_header("Content-Length", str(len(body)))
        if status == 429:
            request.send_header("Retry-After", "1")
        request.end_headers()
        request.wfile.write(body)

    def _success(self, call: Call) -> dict[str, Any]:
        if self.provider == "fastly":
            # Batch purge: a purge ID per key.
            return {tag: f"108-1391560174-{i}" for i, tag in enumerate(call.tags)}
        return {"success": True, "errors": [], "messages": [], "result": {"id": self.resource}}

    def _failure(self, mode: str) -> tuple[int, dict[str, Any]]:
        if self.provider == "fastly":
            if mode == "429":
                return 429, {"msg": "You have exceeded your hourly rate limit."}
            return 500, {"msg": "Internal Server Error"}
        if mode == "429":
            return 429, _cf_error(971, "Please wait and consider throttling your request speed")
        if mode == "false200":
            return 200, _cf_error(1134, "Purge request could not be processed")
        return 500, _cf_error(10001, "Internal server error")

    def _fastly(self, request: BaseHTTPRequestHandler, raw: bytes) -> Call:
        def reject(status: int, msg: str, detail: str = "") -> Rejected:
            return Rejected(status, {"msg": msg, "detail": detail} if detail else {"msg": msg})

        if request.command != "POST":
            raise reject(405, "Method not allowed", request.command)
        if request.path != f"/service/{self.resource}/purge":
            raise reject(404, "Record not found", f"Cannot route {request.path}")
        if request.headers.get("Fastly-Key") != TOKEN:
            raise reject(401, "Provided credentials are missing or invalid")
        if "application/json" not in (request.headers.get("Accept") or ""):
            raise reject(400, "Bad request", "Accept: application/json expected")
        if request.headers.get_content_type() != "application/json":
            raise reject(415, "Unsupported media type", request.headers.get_content_type())
        soft = request.headers.get("Fastly-Soft-Purge")
        if soft not in (None, "1"):
            raise reject(400, "Bad request", f"Fastly-Soft-Purge: {soft}")
        keys = _json_list(raw, "surrogate_keys", lambda d: reject(400, "Bad request", d))
        if not 1 <= len(keys) <= 256:
            raise reject(400, "Bad request", f"{len(keys)} keys: 1 to 256 per batch purge")
        for key in keys:
            if not key or len(key.encode()) > 1024 or not key.isascii() or " " in key:
                raise reject(400, "Bad request", f"invalid surrogate key {key[:60]!r}")
        return Call(keys, soft == "1", dict(request.headers.items()))

    def _cloudflare(self, request: BaseHTTPRequestHandler, raw: bytes) -> Call:
        def reject(status: int, code: int, message: str) -> Rejected:
            return Rejected(status, _cf_error(code, message))

        if request.command != "POST":
            raise reject(405, 10405, f"Method {request.command} not allowed")
        if request.path != f"/client/v4/zones/{self.resource}/purge_cache":
            raise reject(404, 7003, f"Could not route to {request.path}")
        auth = request.headers.get("Authorization") or ""
        if not auth.startswith("Bearer "):
            raise reject(400, 6003, "Invalid request headers")
        if auth != f"Bearer {TOKEN}":
            raise reject(403, 10000, "Authentication error")
        if request.headers.get_content_type() != "application/json":
            raise reject(400, 6007, "Malformed JSON in request body")
        tags = _json_list(raw, "tags", lambda d: reject(400, 1012, d))
        if not 1 <= len(tags) <= 30:
            raise reject(400, 1012, f"{len(tags)} tags: 1 to 30 per request")
        for tag in tags:
            bad = not tag or len(tag) > 1024 or not tag.isascii() or not tag.isprintable()
            if bad or " " in tag or "," in tag:
                raise reject(400, 1012, f"invalid cache-tag {tag[:60]!r}")
        return Call(tags, False, dict(request.headers.items()))


def _cf_error(code: int, message: str) -> dict[str, Any]:
    return {"success": False, "errors": [{"code": code, "message": message}], "messages": []}


def _json_list(raw: bytes, key: str, reject: Callable[[str], Rejected]) -> list[str]:
    """``raw`` must be a JSON object with exactly ``key``: a list of strings."""
    try:
        body = json.loads(raw)
    except ValueError:
        raise reject("malformed JSON body") from None
    if not isinstance(body, dict) or set(body) != {key}:
        raise reject(f"the body must be {{{key!r}: [...]}}, not {str(body)[:80]}")
    values = body[key]
    if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
        raise reject(f"{key} must be a list of strings")
    return values


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    api: FakeAPI

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # a client that timed out and left: expected in these tests


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def _serve(self) -> None:
        self.server.api.handle(self)

    do_POST = do_GET = do_PUT = do_DELETE = do_PURGE = _serve

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def fastly_api() -> Iterator[FakeAPI]:
    api = FakeAPI("fastly")
    yield api
    api.close()
    edge.flush(10)


@pytest.fixture
def cloudflare_api() -> Iterator[FakeAPI]:
    api = FakeAPI("cloudflare")
    yield api
    api.close()
    edge.flush(10)


@pytest.fixture(params=["fastly", "cloudflare"])
def api(request: pytest.FixtureRequest) -> FakeAPI:
    fake: FakeAPI = request.getfixturevalue(f"{request.param}_api")
    return fake


@pytest.fixture
def quick_backoff(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(edge, "BACKOFF", (0.001, 0.002))


def purging_to(*apis: FakeAPI, **options: object) -> override_settings:
    return override_settings(PAGECACHE={"PURGERS": [a.setting(**options) for a in apis]})


def purge(*tags: str, soft: bool = False) -> None:
    """``purge_tags`` and wait for the dispatcher's worker to send it."""
    pagecache.purge_tags(*tags, soft=soft)
    assert edge.flush(10), "the purgers' worker did not finish"


def errors(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]


# -- purges reach the API ------------------------------------------------------------------


def test_a_purge_reaches_fastly_with_rolled_up_tags_and_all(fastly_api, caplog):
    with purging_to(fastly_api):
        purge("blog.article:42", "home")
    assert fastly_api.rejections == []
    [call] = fastly_api.calls
    assert sorted(call.tags) == sorted(["blog.article:42", "home", "blog.article:*", ALL])
    assert not call.soft and "Fastly-Soft-Purge" not in call.headers
    assert errors(caplog) == []


def test_a_soft_purge_reaches_fastly_as_a_soft_purge(fastly_api):
    with purging_to(fastly_api):
        purge("home", soft=True)
        purge("home")
    assert fastly_api.rejections == []
    assert [(sorted(c.tags), c.soft) for c in fastly_api.calls] == [
        (["home", ALL], True),
        (["home", ALL], False),
    ]


@pytest.mark.parametrize("soft", [False, True])
def test_cloudflare_gets_batches_of_at_most_30_tags_and_soft_is_a_purge(cloudflare_api, soft):
    tags = [f"testapp.article:{i}" for i in range(70)] + ["home"]
    with purging_to(cloudflare_api):
        purge(*tags, soft=soft)
    # 71 tags + testapp.article:* + pagecache:all = 73: 30 + 30 + 13, each tag once.
    assert cloudflare_api.rejections == []
    assert [len(c.tags) for c in cloudflare_api.calls] == [30, 30, 13]
    assert sorted(cloudflare_api.purged()) == sorted([*tags, "testapp.article:*", ALL])


def test_fastly_gets_batches_of_at_most_256_keys(fastly_api):
    tags = [f"testapp.article:{i}" for i in range(300)]
    with purging_to(fastly_api):
        purge(*tags)
    assert fastly_api.rejections == []
    assert [len(c.tags) for c in fastly_api.calls] == [256, 46]
    assert sorted(fastly_api.purged()) == sorted([*tags, "testapp.article:*", ALL])


def test_each_purger_gets_every_purge_once(fastly_api, cloudflare_api):
    with purging_to(fastly_api, cloudflare_api):
        purge("home")
        purge("about", soft=True)
    assert fastly_api.rejections == cloudflare_api.rejections == []
    assert [sorted(c.tags) for c in fastly_api.calls] == [["home", ALL], ["about", ALL]]
    assert [sorted(c.tags) for c in cloudflare_api.calls] == [["home", ALL], ["about", ALL]]


def test_a_cloudflare_reply_without_success_is_an_error_even_with_http_200(cloudflare_api):
    purger = edge.load(cloudflare_api.setting())
    cloudflare_api.fail = ["false200"]
    with pytest.raises(PurgerError, match="1134"):
        purger.purge_batch(["home"], soft=False)
    purger.purge_batch(["home"], soft=False)
    assert [c.tags for c in cloudflare_api.calls] == [["home"]]


def test_a_bad_token_is_refused_by_the_api_and_an_error(api):
    setting = api.setting()
    setting["OPTIONS"]["API_TOKEN"] = "wrong-token"
    with pytest.raises(PurgerError, match=r"HTTP 40[13]"):
        edge.load(setting).purge_batch(["home"], soft=False)
    assert api.calls == [] and len(api.rejections) == 1


# -- pages name their tags in the target's header ------------------------------------------


def test_a_stored_page_names_its_tags_in_each_targets_format(
    pages_site, fastly_api, cloudflare_api
):
    with purging_to(fastly_api, cloudflare_api):
        miss = Client().get("/page/", {"tag": "blog.article:7"})
        hit = Client().get("/page/", {"tag": "blog.article:7"})
    assert (miss["X-Cache"], hit["X-Cache"]) == ("MISS", "HIT")
    for response in (miss, hit):
        assert sorted(response["Surrogate-Key"].split(" ")) == ["blog.article:7", "page"]
        assert sorted(response["Cache-Tag"].split(",")) == ["blog.article:7", "page"]


@pytest.mark.parametrize(
    "tag",
    ["a,b", "café", "100%", "é" * 250, "blog.article:" + "ü" * 200],
    ids=["comma", "non-ascii", "percent", "over-1024-bytes-encoded", "long-instance-tag"],
)
def test_the_header_and_the_purge_spell_a_tag_alike(pages_site, api, tag):
    with purging_to(api):
        response = Client().get("/page/", {"tag": tag})
        assert response["X-Cache"] == "MISS"
        name = "Surrogate-Key" if api.provider == "fastly" else "Cache-Tag"
        header = response[name].split(" " if api.provider == "fastly" else ",")
        purge(tag)
    assert api.rejections == []
    [spelled] = [t for t in header if t != "page"]
    assert spelled.isascii() and spelled.isprintable() and " " not in spelled
    assert len(spelled) <= 1024
    assert spelled in api.purged()
    if "," in tag:
        assert (spelled == "a%2Cb") if api.provider == "cloudflare" else (spelled == "a,b")


def _header(response: Any, provider: str) -> tuple[str, list[str]]:
    value = response["Surrogate-Key" if provider == "fastly" else "Cache-Tag"]
    return value, value.split(" " if provider == "fastly" else ",")


@pytest.mark.parametrize(
    ("extra", "expected"),
    [
        (
            [f"testapp.article:{i:04d}-{'x' * 100}" for i in range(2000)],
            ["page", "page:default", "testapp.article:*"],
        ),
        ([f"topic-{i:04d}-{'y' * 100}" for i in range(2000)], [ALL]),
    ],
    ids=["instance-tags-roll-up-to-the-model", "plain-tags-roll-up-to-all"],
)
def test_a_page_with_2000_long_tags_gets_a_rolled_up_header_and_a_log_line(
    pages_site, api, caplog, extra, expected
):
    HOOKS["extra_tags"] = extra  # type: ignore[assignment]
    limit = 16_384 if api.provider == "fastly" else 16_000
    try:
        with purging_to(api), caplog.at_level(logging.INFO, logger="pagecache"):
            response = Client().get("/page/")
            purge(extra[7])
    finally:
        HOOKS.pop("extra_tags", None)
    assert response["X-Cache"] == "MISS"
    value, header = _header(response, api.provider)
    assert len(value.encode()) <= limit
    assert sorted(header) == sorted(expected)
    # Rolled up, never cut: every tag of the page is named or covered by a rolled-up tag.
    for tag in ["page", "page:default", *extra]:
        assert tag in header or rolled_up(tag) in header or ALL in header
    assert any("rolled up" in r.getMessage() for r in caplog.records)
    # A purge of one of the page's tags names a tag its header carries.
    assert set(api.purged()) & set(header)


def test_cloudflare_reads_at_most_1000_tags_fastly_as_many_as_fit(
    pages_site, fastly_api, cloudflare_api, caplog
):
    extra = [f"t{i}" for i in range(1500)]  # ~8 KB: within both byte limits
    HOOKS["extra_tags"] = extra  # type: ignore[assignment]
    try:
        with purging_to(fastly_api, cloudflare_api), caplog.at_level(logging.INFO, "pagecache"):
            response = Client().get("/page/")
    finally:
        HOOKS.pop("extra_tags", None)
    assert len(response["Surrogate-Key"].split(" ")) == 1502
    assert response["Cache-Tag"] == ALL
    assert any("CloudflarePurger" in r.getMessage() for r in caplog.records)


# -- retries, timeouts, a dead API -------------------------------------------------------------


@pytest.mark.parametrize(
    ("provider", "failure"),
    [
        ("fastly", "500"),
        ("fastly", "429"),
        ("fastly", "close"),
        ("cloudflare", "500"),
        ("cloudflare", "429"),
        ("cloudflare", "close"),
        ("cloudflare", "false200"),
    ],
)
def test_a_purge_arrives_once_the_api_answers_again(
    request, provider, failure, quick_backoff, caplog
):
    api: FakeAPI = request.getfixturevalue(f"{provider}_api")
    api.fail = [failure, failure]
    with purging_to(api, RETRIES=3, TIMEOUT=2.0):
        purge("home")
    assert api.attempts == 3
    assert [sorted(c.tags) for c in api.calls] == [["home", ALL]]
    assert api.rejections == [] and errors(caplog) == []


def test_a_slow_purger_does_not_delay_the_purging_call(api, caplog):
    api.fail = ["hang"]
    # No retry and a long timeout: the held call can only succeed if purge_tags returned
    # while the server held it (the test releases it after purge_tags returned).
    with purging_to(api, RETRIES=0, TIMEOUT=30.0):
        pagecache.purge_tags("home")
        assert api.holding.wait(10), "the purge never reached the API"
        assert not api.release.is_set()
        api.release.set()
        assert edge.flush(10)
    assert api.attempts == 1
    assert [sorted(c.tags) for c in api.calls] == [["home", ALL]]
    assert errors(caplog) == []


def test_a_dead_purger_is_given_up_on_after_its_retries_with_an_error(api, quick_backoff, caplog):
    api.fail = ["hang"] * 10  # accepts the connection and never answers
    with purging_to(api, RETRIES=2, TIMEOUT=0.2):
        pagecache.purge_tags("home")
        # purge_tags returned while the API is holding the first call.
        assert api.holding.wait(10) and not api.release.is_set()
        assert edge.flush(10)
    assert api.attempts == 3 and api.calls == []
    [error] = errors(caplog)
    assert "could not purge 2 tags after 3 attempts" in error
    assert ("FastlyPurger" if api.provider == "fastly" else "CloudflarePurger") in error


# -- OPTIONS ---------------------------------------------------------------------------------

F = "pagecache.purgers.FastlyPurger"
C = "pagecache.purgers.CloudflarePurger"
SECRET = "s3cr3t-token"


@pytest.mark.parametrize(
    ("backend", "options", "named"),
    [
        (F, {"API_TOKEN": "t"}, "SERVICE_ID"),
        (F, {"SERVICE_ID": 123, "API_TOKEN": "t"}, "SERVICE_ID"),
        (F, {"SERVICE_ID": "a b", "API_TOKEN": "t"}, "SERVICE_ID"),
        (F, {"SERVICE_ID": "s"}, "API_TOKEN"),
        (F, {"SERVICE_ID": "s", "API_TOKEN": ""}, "API_TOKEN"),
        (F, {"SERVICE_ID": "s", "API_TOKEN": f"{SECRET}\r\nX-Evil: 1"}, "API_TOKEN"),
        (F, {"SERVICE_ID": "s", "API_TOKEN": "t", "API_URL": "api.fastly.com"}, "API_URL"),
        (F, {"SERVICE_ID": "s", "API_TOKEN": "t", "SERVICE": "s"}, "SERVICE"),
        (F, {"SERVICE_ID": "s", "API_TOKEN": "t", "TIMEOUT": 0}, "TIMEOUT"),
        (C, {"API_TOKEN": "t"}, "ZONE_ID"),
        (C, {"ZONE_ID": None, "API_TOKEN": "t"}, "ZONE_ID"),
        (C, {"ZONE_ID": "z"}, "API_TOKEN"),
        (C, {"ZONE_ID": "z", "API_TOKEN": [SECRET]}, "API_TOKEN"),
        (C, {"ZONE_ID": "z", "API_TOKEN": "t", "API_URL": None}, "API_URL"),
        (C, {"ZONE_ID": "z", "API_TOKEN": "t", "RETRIES": -1}, "RETRIES"),
        (C, {"ZONE_ID": "z", "API_TOKEN": "t", "SERVERS": ["http://x"]}, "SERVERS"),
    ],
)
def test_bad_options_raise_value_error_naming_the_option(backend, options, named):
    with pytest.raises(ValueError, match=named) as raised:
        edge.load({"BACKEND": backend, "OPTIONS": options})
    assert SECRET not in str(raised.value)  # a token is never repeated into a log


def test_bad_options_are_a_check_error_naming_the_option():
    with override_settings(PAGECACHE={"PURGERS": [{"BACKEND": F, "OPTIONS": {"API_TOKEN": "t"}}]}):
        [error] = [e for e in run_checks() if e.id == "pagecache.E006"]
    assert "SERVICE_ID" in error.msg


@pytest.mark.parametrize(
    ("purger", "name", "sep", "limit"),
    [
        (FastlyPurger(SERVICE_ID="s", API_TOKEN="t"), "Surrogate-Key", " ", 16_384),
        (CloudflarePurger(ZONE_ID="z", API_TOKEN="t"), "Cache-Tag", ",", 16_000),
    ],
)
def test_the_documented_formats(purger: Purger, name, sep, limit):
    assert (purger.tag_header, purger.separator, purger.max_header_bytes) == (name, sep, limit)
    assert purger.header_value(["a", "b.c:1"]) == f"a{sep}b.c:1"


def test_a_server_that_is_not_listening_is_an_error():
    with socket.socket() as probe:  # a free port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    purger = FastlyPurger(SERVICE_ID="s", API_TOKEN="t", API_URL=f"http://127.0.0.1:{port}")
    with pytest.raises(PurgerError):
        purger.purge_batch(["home"], soft=False)
