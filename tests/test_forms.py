"""Forms stay cacheable (SPEC §4): a page whose only per-visitor content is the CSRF token
is stored without it, and each visitor gets a valid token of their own — through the
middleware and the WSGI fast path, as browsers use them (a cookie jar, forms posted back
with CSRF checks on). Over real HTTP (gunicorn) in tests/test_http.py.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from http.cookies import SimpleCookie
from urllib.parse import urlencode

import pytest
from django.conf import settings
from django.middleware.csrf import _unmask_cipher_token  # type: ignore[attr-defined]
from django.test import override_settings

from pagecache.core import entry
from pagecache.wsgi import PageCacheWSGI
from tests.forms_site import MIDDLEWARE, RENDERS
from tests.test_wsgi import LazyWSGIHandler, make_environ

pytestmark = pytest.mark.django_db

TOKEN = re.compile(r'name="csrfmiddlewaretoken" value="([A-Za-z0-9]{64})"')


@pytest.fixture
def forms_site() -> Iterator[None]:
    RENDERS.clear()
    with override_settings(ROOT_URLCONF="tests.forms_site", MIDDLEWARE=MIDDLEWARE):
        yield


class Response:
    def __init__(self, status: str, headers: list[tuple[str, str]], body: bytes) -> None:
        self.status_code = int(status.split(" ", 1)[0])
        self.headers = headers
        self.text = body.decode("utf-8", "replace")

    def get(self, name: str) -> str | None:
        return next((v for n, v in self.headers if n.lower() == name.lower()), None)

    def all(self, name: str) -> list[str]:
        return [v for n, v in self.headers if n.lower() == name.lower()]


class Visitor:
    """A browser: keeps its cookies, sends them back, posts forms. Through the middleware
    (Django's handler, as runserver and gunicorn without the fast path) or the WSGI fast
    path; CSRF checks are enforced either way (this is not Django's test client)."""

    def __init__(self, driver: str, cookies: dict[str, str] | None = None) -> None:
        self.app = (
            PageCacheWSGI(LazyWSGIHandler()) if driver == "wsgi" else LazyWSGIHandler()
        )
        self.cookies = dict(cookies or {})

    def request(self, method: str, url: str, body: bytes = b"", **headers: str) -> Response:
        environ = make_environ(method, url, body)
        environ.update({"wsgi.multithread": True, "HTTP_HOST": "testserver"})
        if body:
            environ["CONTENT_LENGTH"] = str(len(body))
            environ["CONTENT_TYPE"] = "application/x-www-form-urlencoded"
        if self.cookies:
            environ["HTTP_COOKIE"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        environ.update({f"HTTP_{k.upper()}": v for k, v in headers.items()})
        captured: dict[str, object] = {}

        def start_response(status, response_headers, exc_info=None):
            captured.update(status=status, headers=response_headers)

        chunks = self.app(environ, start_response)
        try:
            data = b"".join(chunks)
        finally:
            getattr(chunks, "close", lambda: None)()
        response = Response(captured["status"], captured["headers"], data)  # type: ignore[arg-type]
        for header in response.all("Set-Cookie"):
            for name, morsel in SimpleCookie(header).items():
                self.cookies[name] = morsel.value
        return response

    def get(self, url: str, **headers: str) -> Response:
        return self.request("GET", url, **headers)

    def post(self, url: str, data: dict[str, str]) -> Response:
        return self.request("POST", url, urlencode(data).encode())

    @property
    def secret(self) -> str | None:
        return self.cookies.get(settings.CSRF_COOKIE_NAME)


def tokens(response: Response) -> list[str]:
    return TOKEN.findall(response.text)


DRIVERS = ["middleware", "wsgi"]


@pytest.mark.parametrize("driver", DRIVERS)
def test_a_page_with_forms_is_stored_once_and_each_visitor_gets_their_own_token(
    forms_site, driver
):
    first, second, returning = Visitor(driver), Visitor(driver), Visitor(driver)
    rendered = first.get("/article/")
    assert rendered.get("X-Cache") == "MISS"
    assert first.secret is not None
    returning.get("/plain/")  # has no CSRF cookie yet...
    returning.cookies[settings.CSRF_COOKIE_NAME] = "A" * 32  # ...then gets one elsewhere
    served = [second.get("/article/"), returning.get("/article/")]
    assert [r.get("X-Cache") for r in served] == ["HIT", "HIT"]
    assert RENDERS["article"] == 1
    # The visitor without a cookie got one, set as CsrfViewMiddleware sets it; the one with
    # a cookie keeps theirs (no Set-Cookie).
    assert second.secret is not None and second.secret != first.secret
    assert served[1].all("Set-Cookie") == []
    assert returning.secret == "A" * 32
    for visitor, response in [(first, rendered), (second, served[0]), (returning, served[1])]:
        found = tokens(response)
        assert len(found) == 2  # the comment form and the newsletter form
        assert {_unmask_cipher_token(t) for t in found} == {visitor.secret}
        assert "<h1>Article 1</h1>" in response.text
    # Never one visitor's token (or secret) in another's page.
    assert not set(tokens(rendered)) & set(tokens(served[0]) + tokens(served[1]))
    assert first.secret not in served[0].text + served[1].text


@pytest.mark.parametrize("driver", DRIVERS)
def test_a_form_posted_from_a_cached_page_passes_csrf(forms_site, driver):
    Visitor(driver).get("/article/")  # someone else rendered it
    visitor = Visitor(driver)
    page = visitor.get("/article/")
    assert page.get("X-Cache") == "HIT"
    posted = visitor.post("/comment/", {"csrfmiddlewaretoken": tokens(page)[0], "text": "hi"})
    assert (posted.status_code, posted.text) == (200, "thanks: hi")
    # Another visitor's token from their own copy of the page is refused, as Django would.
    intruder = Visitor(driver)
    intruder.get("/plain/")
    intruder.cookies[settings.CSRF_COOKIE_NAME] = "B" * 32
    refused = intruder.post("/comment/", {"csrfmiddlewaretoken": tokens(page)[0], "text": "x"})
    assert refused.status_code == 403


@pytest.mark.parametrize("driver", DRIVERS)
def test_jinja2_csrf_input_and_csrf_token_are_filled_per_visitor(forms_site, driver):
    first, second = Visitor(driver), Visitor(driver)
    first.get("/article/?engine=jinja2")
    page = second.get("/article/?engine=jinja2")
    assert page.get("X-Cache") == "HIT"
    in_script = re.findall(r'const token = "([A-Za-z0-9]{64})"', page.text)
    assert len(in_script) == 1 and len(tokens(page)) == 1
    assert {_unmask_cipher_token(t) for t in [*in_script, *tokens(page)]} == {second.secret}
    posted = second.post("/comment/", {"csrfmiddlewaretoken": in_script[0], "text": "js"})
    assert posted.status_code == 200


def test_the_stored_entry_holds_no_token_only_its_placeholder(forms_site, redis_server):
    visitor = Visitor("middleware")
    visitor.get("/article/")
    client = redis_server.client()
    values = [client.get(k) for k in client.scan_iter(match="pc:p1:*")]
    (raw,) = [v for v in values if entry.read_header(v) is not None]  # not the Vary marker
    stored = entry.loads(raw)
    assert stored is not None and stored.csrf_placeholder
    assert stored.body.count(stored.csrf_placeholder.encode()) == 2
    assert not re.search(rb"[A-Za-z0-9]{64}", stored.body)
    assert visitor.secret is not None and visitor.secret.encode() not in raw
    assert all(name.lower() not in ("etag", "set-cookie") for name, _ in stored.headers)


@pytest.mark.parametrize("driver", DRIVERS)
def test_an_ensure_csrf_cookie_page_is_stored_and_sets_the_cookie_for_new_visitors(
    forms_site, driver
):
    Visitor(driver).get("/shell/")
    newcomer, known = Visitor(driver), Visitor(driver, {settings.CSRF_COOKIE_NAME: "C" * 32})
    assert newcomer.get("/shell/").get("X-Cache") == "HIT"
    assert newcomer.secret is not None and len(newcomer.secret) == 32
    assert known.get("/shell/").all("Set-Cookie") == []
    assert RENDERS["shell"] == 1


@pytest.mark.parametrize("driver", DRIVERS)
def test_a_malformed_csrf_cookie_cannot_switch_the_cache_off(forms_site, driver):
    """A bogus cookie made CsrfViewMiddleware re-issue one on every page, so nothing was
    stored and every request rendered: now it is a visitor like any other."""
    bogus = {settings.CSRF_COOKIE_NAME: "not-a-token!"}
    assert Visitor(driver, bogus).get("/plain/").get("X-Cache") == "MISS"
    assert Visitor(driver, bogus).get("/plain/").get("X-Cache") == "HIT"
    assert RENDERS["plain"] == 1
    # On a page with a form, the visitor gets a fresh valid cookie and a token for it.
    Visitor(driver).get("/article/")
    visitor = Visitor(driver, bogus)
    page = visitor.get("/article/")
    assert page.get("X-Cache") == "HIT" and visitor.secret != "not-a-token!"
    assert {_unmask_cipher_token(t) for t in tokens(page)} == {visitor.secret}


def test_concurrent_visitors_with_malformed_cookies_cost_one_render(forms_site):
    barrier = threading.Barrier(5)
    statuses: list[str | None] = []

    def visit(n: int) -> None:
        visitor = Visitor("wsgi", {settings.CSRF_COOKIE_NAME: f"bogus{n}"})
        barrier.wait()
        statuses.append(visitor.get("/article/").get("X-Cache"))

    threads = [threading.Thread(target=visit, args=(n,)) for n in range(5)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(20)
    assert len(statuses) == 5
    assert RENDERS["article"] == 1


@pytest.mark.parametrize("driver", DRIVERS)
def test_a_cached_form_page_is_never_answered_304(forms_site, driver):
    """Each visitor's copy holds their own token: a validator shared by all would keep a
    copy whose token no longer matches the visitor's cookie."""
    Visitor(driver).get("/article/")
    visitor = Visitor(driver)
    page = visitor.get("/article/", IF_NONE_MATCH='"article"')
    assert (page.status_code, page.get("X-Cache"), page.get("ETag")) == (200, "HIT", None)
    assert len(tokens(page)) == 2


@pytest.mark.parametrize(
    ("url", "name"),
    [
        ("/header/", "header"),  # the token in a response header
        ("/secret/", "secret"),  # the secret itself in the page
        ("/rotated/", "rotated"),  # rotate_token() while rendering
        ("/gzip/", "gzip"),  # the token cannot be found in a compressed body
    ],
)
@pytest.mark.parametrize("driver", DRIVERS)
def test_token_uses_that_cannot_be_taken_out_are_not_stored(forms_site, driver, url, name):
    for _ in range(2):
        visitor = Visitor(driver, {settings.CSRF_COOKIE_NAME: "D" * 32})
        assert visitor.get(url).get("X-Cache") == "MISS"
    assert RENDERS[name] == 2


@pytest.mark.parametrize("driver", DRIVERS)
def test_with_csrf_use_sessions_form_pages_are_not_stored(forms_site, driver):
    with override_settings(CSRF_USE_SESSIONS=True):
        for _ in range(2):
            assert Visitor(driver).get("/article/").get("X-Cache") == "MISS"
        assert Visitor(driver).get("/plain/").get("X-Cache") == "MISS"
        assert Visitor(driver).get("/plain/").get("X-Cache") == "HIT"
    assert RENDERS["article"] == 2


@pytest.mark.parametrize("driver", DRIVERS)
def test_the_csrf_cookie_does_not_split_a_vary_cookie_page(forms_site, driver):
    """CsrfViewMiddleware adds Vary: Cookie; keyed on the CSRF cookie, every visitor would
    have a page of their own."""
    Visitor(driver).get("/article/")
    for n in range(3):
        visitor = Visitor(driver, {settings.CSRF_COOKIE_NAME: f"{n}" * 32, "_ga": f"GA1.{n}"})
        assert visitor.get("/article/").get("X-Cache") == "HIT"
    assert RENDERS["article"] == 1


def test_cache_page_alone_below_csrf_middleware_gives_each_visitor_their_token(forms_site):
    without = [m for m in MIDDLEWARE if not m.startswith("pagecache.")]
    with override_settings(MIDDLEWARE=without):
        first, second = Visitor("middleware"), Visitor("middleware")
        first.get("/decorated/")
        page = second.get("/decorated/")
        assert page.get("X-Cache") == "HIT" and RENDERS["article"] == 1
        # Django's get_token filled it, and CsrfViewMiddleware set the cookie.
        assert second.secret is not None and second.secret != first.secret
        assert {_unmask_cipher_token(t) for t in tokens(page)} == {second.secret}
        posted = second.post("/comment/", {"csrfmiddlewaretoken": tokens(page)[1], "email": "e"})
        assert posted.status_code == 200


@pytest.mark.parametrize("driver", DRIVERS)
def test_a_token_planted_in_page_content_never_receives_another_visitors_token(
    forms_site, driver
):
    """The renderer chooses their CSRF secret (it is their cookie): a token of it in page
    content (a search query) is theirs, and must stay theirs — replacing it would put every
    later visitor's token where the attacker wrote (say, an image URL on their server)."""
    from django.middleware.csrf import _mask_cipher_secret  # type: ignore[attr-defined]

    secret = "E" * 32
    planted = _mask_cipher_secret(secret)
    attacker = Visitor(driver, {settings.CSRF_COOKIE_NAME: secret})
    assert attacker.get(f"/search/?q={planted}").get("X-Cache") == "MISS"
    victim = Visitor(driver)
    page = victim.get(f"/search/?q={planted}")
    assert page.get("X-Cache") == "HIT"
    assert f"Results for {planted}" in page.text  # the attacker's text, as it was
    (token,) = tokens(page)
    assert _unmask_cipher_token(token) == victim.secret and token != planted


@pytest.mark.parametrize("driver", DRIVERS)
def test_a_token_in_escaped_json_is_taken_out_and_put_back(forms_site, driver):
    first, second = Visitor(driver), Visitor(driver)
    first.get("/js-config/")
    page = second.get("/js-config/")
    assert page.get("X-Cache") == "HIT" and RENDERS["js"] == 1
    (token,) = re.findall(r"\\u0022([A-Za-z0-9]{64})\\u0022", page.text)
    assert _unmask_cipher_token(token) == second.secret
