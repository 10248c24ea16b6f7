"""The page cache through the real middleware stack and Django's test client, on real Redis."""

from __future__ import annotations

import pytest
from django.test import Client, override_settings

from pagecache.core import keys
from tests.pages_urls import MIDDLEWARE, RENDERS

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("pages_site")]


def test_second_request_is_a_byte_identical_hit(client):
    first = client.get("/page/")
    second = client.get("/page/")
    assert RENDERS["page"] == 1
    assert first["X-Cache"] == "MISS"
    assert second["X-Cache"] == "HIT"
    assert second.status_code == first.status_code == 200
    assert second.content == first.content
    assert second.reason_phrase == first.reason_phrase
    first_headers = {k: v for k, v in first.items() if k not in ("X-Cache",)}
    second_headers = {k: v for k, v in second.items() if k not in ("X-Cache", "Age")}
    assert second_headers == first_headers
    assert int(second["Age"]) >= 0


def test_stored_entry_is_compact_and_versioned(client, redis_server):
    client.get("/page/")
    raw = redis_server.client().get("pc:p1:http://testserver/page/")
    assert raw.startswith(b"PC3 ")
    assert b"page:default" in raw.split(b"\n", 1)[0]
    assert len(raw) < 1500  # 3 KB body, compressed


@pytest.mark.parametrize(
    ("method", "headers"),
    [
        ("post", {}),
        ("get", {"HTTP_AUTHORIZATION": "Bearer abc"}),
    ],
)
def test_ineligible_requests_bypass(client, method, headers):
    for _ in range(2):
        response = getattr(client, method)("/other/", **headers)
        assert response["X-Cache"] == "BYPASS"
    assert RENDERS["other"] == 2


def test_session_cookie_bypasses_and_does_not_read_cache(client):
    client.get("/other/")  # stored for anonymous visitors
    client.cookies["sessionid"] = "abc"
    response = client.get("/other/")
    assert response["X-Cache"] == "BYPASS"
    assert response.content == b"other render 2"


@override_settings(PAGECACHE={"BYPASS_COOKIES": ["member"]})
def test_bypass_cookies_setting_is_honoured(client):
    client.get("/other/")
    client.cookies["member"] = "1"
    assert client.get("/other/")["X-Cache"] == "BYPASS"


def test_a_pending_flash_message_bypasses_the_page_cache(client):
    """A visitor redirected after messages.success() must get their message: the page is
    rendered for them, not served from the cache (the messages cookie is a bypass cookie)."""
    client.get("/other/")
    client.cookies["messages"] = "pending"
    assert client.get("/other/")["X-Cache"] == "BYPASS"


def test_two_splits_of_one_url_are_two_pages(client):
    mounted = client.get("/page/", SCRIPT_NAME="/app")
    unmounted = client.get("/app/page/")
    assert (mounted.status_code, unmounted.status_code) == (200, 404)
    assert client.get("/page/", SCRIPT_NAME="/app").content == mounted.content
    assert client.get("/app/page/").status_code == 404


def test_a_missing_varied_header_and_an_empty_one_are_two_variants(client):
    client.get("/lang/")
    assert client.get("/lang/", HTTP_ACCEPT_LANGUAGE="")["X-Cache"] == "MISS"
    assert RENDERS["lang"] == 2


def test_a_vary_naming_something_that_is_not_a_header_is_served_not_stored(client):
    for _ in range(2):
        response = client.get("/bad-vary/")
        assert (response.status_code, response["X-Cache"]) == (200, "MISS")


def test_a_get_with_a_body_is_neither_served_nor_stored(client):
    """The body is not part of the key: a page shaped by it must not be served to others."""
    poisoned = client.generic("GET", "/body/", data=b"evil", content_type="text/plain")
    assert (poisoned["X-Cache"], poisoned.content) == ("BYPASS", b"body=evil")
    clean = client.get("/body/")
    assert (clean["X-Cache"], clean.content) == ("MISS", b"body=")
    assert client.get("/body/")["X-Cache"] == "HIT"
    assert client.generic("GET", "/body/", data=b"x")["X-Cache"] == "BYPASS"


@override_settings(PAGECACHE={"ANONYMOUS_ONLY": False, "BYPASS_COOKIES": ["member"]})
def test_anonymous_only_off_ignores_bypass_cookies(client):
    client.cookies["member"] = "1"
    client.get("/other/")
    assert client.get("/other/")["X-Cache"] == "HIT"


@pytest.mark.parametrize(
    ("url", "name"),
    [
        ("/status/500/", "status500"),
        ("/status/302/", "status302"),
        ("/streaming/", "streaming"),
        ("/cookie/", "cookie"),
        ("/raw-cookie/", "raw_cookie"),
        ("/private/", "private"),
        ("/no-store/", "no_store"),
        ("/never/", "never"),
        ("/vary-star/", "vary_star"),
    ],
)
def test_unstorable_responses_are_rendered_every_time(client, url, name):
    for _ in range(2):
        assert client.get(url)["X-Cache"] == "MISS"
    assert RENDERS[name] == 2


@override_settings(PAGECACHE={"MAX_ENTRY_BYTES": 4096})
def test_body_over_max_entry_bytes_is_not_stored(client):
    client.get("/big/")
    assert client.get("/big/")["X-Cache"] == "MISS"
    assert RENDERS["big"] == 2


@pytest.mark.parametrize("code", [404, 410, 301])
def test_cacheable_statuses_are_stored(client, code):
    client.get(f"/status/{code}/")
    response = client.get(f"/status/{code}/")
    assert response["X-Cache"] == "HIT"
    assert response.status_code == code


@override_settings(PAGECACHE={"STATUS_CODES": [200]})
def test_status_codes_setting_is_honoured(client):
    client.get("/status/404/")
    assert client.get("/status/404/")["X-Cache"] == "MISS"


def test_query_is_normalized_and_tracking_params_ignored(client):
    client.get("/page/?b=2&a=1&utm_source=news")
    response = client.get("/page/?a=1&b=2&gclid=zzz")
    assert response["X-Cache"] == "HIT"
    assert client.get("/page/?a=1&b=3")["X-Cache"] == "MISS"
    assert RENDERS["page"] == 2


def test_vary_gives_one_entry_per_header_value(client):
    de = client.get("/lang/", HTTP_ACCEPT_LANGUAGE="de")
    fr = client.get("/lang/", HTTP_ACCEPT_LANGUAGE="fr")
    assert (de["X-Cache"], fr["X-Cache"]) == ("MISS", "MISS")
    de2 = client.get("/lang/", HTTP_ACCEPT_LANGUAGE="de")
    fr2 = client.get("/lang/", HTTP_ACCEPT_LANGUAGE="fr")
    assert (de2["X-Cache"], fr2["X-Cache"]) == ("HIT", "HIT")
    assert (de2.content, fr2.content) == (b"lang=de", b"lang=fr")
    assert RENDERS["lang"] == 2


def test_vary_is_learnt_from_redis_by_a_fresh_process(client):
    from pagecache import serve

    client.get("/lang/", HTTP_ACCEPT_LANGUAGE="de")
    serve._vary_names.clear()  # as in another worker process that never saw this page
    response = client.get("/lang/", HTTP_ACCEPT_LANGUAGE="de")
    assert response["X-Cache"] == "HIT"
    assert response.content == b"lang=de"
    assert client.get("/lang/", HTTP_ACCEPT_LANGUAGE="it")["X-Cache"] == "MISS"


def test_each_host_has_its_own_entry(client):
    assert client.get("/host/", HTTP_HOST="example.com").content == b"host=example.com"
    other = client.get("/host/", HTTP_HOST="other.example.com")
    assert other.content == b"host=other.example.com"
    assert other["X-Cache"] == "MISS"
    assert client.get("/host/", HTTP_HOST="example.com")["X-Cache"] == "HIT"
    assert RENDERS["host"] == 2


def test_disallowed_host_is_never_stored(client, redis_server):
    for _ in range(2):
        response = client.get("/host/", HTTP_HOST="evil.invalid")
        assert response.status_code == 400
        assert response["X-Cache"] == "BYPASS"
    assert not list(redis_server.client().scan_iter("pc:p1:*evil*"))


def test_head_is_served_from_the_get_entry_without_body(client):
    get = client.get("/page/")
    head = client.head("/page/")
    assert head["X-Cache"] == "HIT"
    assert head.content == b""
    assert head["Content-Type"] == get["Content-Type"]
    assert RENDERS["page"] == 1


def test_head_miss_does_not_store(client):
    assert client.head("/other/")["X-Cache"] == "MISS"
    assert client.get("/other/")["X-Cache"] == "MISS"


def test_hit_answers_if_none_match_with_304(client):
    client.get("/page/")
    response = client.get("/page/", HTTP_IF_NONE_MATCH='"page-etag"')
    assert response.status_code == 304
    assert response["ETag"] == '"page-etag"'
    assert response.content == b""
    assert response["X-Cache"] == "HIT"
    assert client.get("/page/", HTTP_IF_NONE_MATCH='"stale"').status_code == 200


def test_hit_answers_if_modified_since_with_304(client):
    client.get("/page/")
    response = client.get("/page/", HTTP_IF_MODIFIED_SINCE="Tue, 03 Nov 2026 10:00:00 GMT")
    assert response.status_code == 304
    older = client.get("/page/", HTTP_IF_MODIFIED_SINCE="Sun, 01 Nov 2026 10:00:00 GMT")
    assert older.status_code == 200
    assert RENDERS["page"] == 1


def test_entry_in_its_stale_window_is_rendered_again(client, redis_server):
    client.get("/other/")
    key = keys.page_key("pc", "http", "testserver", "/other/", "")
    # Leave the entry only its stale window (STALE_TTL = 30 s) to live: its TTL is over.
    redis_server.client().pexpire(key, 29_000)
    response = client.get("/other/")
    assert response["X-Cache"] == "MISS"
    assert response.content == b"other render 2"
    assert client.get("/other/")["X-Cache"] == "HIT"


@override_settings(PAGECACHE={"TTL": 1, "STALE_TTL": 0})
def test_entry_expires_after_ttl(client, redis_server):
    client.get("/other/")
    key = keys.page_key("pc", "http", "testserver", "/other/", "")
    ttl = redis_server.client().pttl(key)
    assert 0 < ttl <= 1000
    wait_until(lambda: not redis_server.client().exists(key), timeout=3)
    assert client.get("/other/").content == b"other render 2"


def test_exempt_view_is_never_cached_and_headers_untouched(client):
    for _ in range(2):
        response = client.get("/exempt/")
        assert response["X-Cache"] == "BYPASS"
        assert "Cache-Control" not in response
    assert RENDERS["exempt"] == 2


def test_cache_page_sets_ttl_and_tags_under_the_middleware(client, redis_server):
    import pagecache

    client.get("/decorated/")
    key = keys.page_key("pc", "http", "testserver", "/decorated/", "")
    assert 120_000 < redis_server.client().pttl(key) <= 125_000
    assert client.get("/decorated/")["X-Cache"] == "HIT"
    pagecache.purge_tags("decorated")
    assert client.get("/decorated/").content == b"decorated 2"


@override_settings(PAGECACHE={"STATUS_HEADER": None})
def test_status_header_can_be_disabled(client):
    client.get("/other/")
    response = client.get("/other/")
    assert "X-Cache" not in response
    assert RENDERS["other"] == 1


@override_settings(PAGECACHE={"STATUS_HEADER": "X-Page-Cache"})
def test_status_header_name_is_configurable(client):
    client.get("/other/")
    assert client.get("/other/")["X-Page-Cache"] == "HIT"


@override_settings(PAGECACHE={"TAG_HEADER": "Cache-Tag"})
def test_tag_header_lists_the_page_tags(client):
    first = client.get("/page/?tag=blog.article:42")
    assert first["Cache-Tag"] == "page blog.article:42"
    assert client.get("/page/?tag=blog.article:42")["Cache-Tag"] == "page blog.article:42"


@override_settings(PAGECACHE={"KEY_PREFIX": "site2"})
def test_key_prefix_is_used_for_every_key(client, redis_server):
    client.get("/page/")
    assert redis_server.client().exists("site2:p1:http://testserver/page/", "site2:tags") == 2
    assert not redis_server.client().exists("pc:tags")


def test_cache_page_works_without_the_middleware(redis_server):
    without = [m for m in MIDDLEWARE if "pagecache" not in m]
    with override_settings(MIDDLEWARE=without):
        client = Client()
        first = client.get("/decorated/")
        second = client.get("/decorated/")
    assert first.content == second.content == b"decorated 1"
    assert (first["X-Cache"], second["X-Cache"]) == ("MISS", "HIT")
    key = keys.page_key("pc", "http", "testserver", "/decorated/", "")
    assert 120_000 < redis_server.client().pttl(key) <= 125_000


def wait_until(predicate, timeout):
    """Poll a condition that depends on real time passing (key expiry), with a deadline."""
    import time

    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "condition not reached in time"
        time.sleep(0.02)


def test_cache_page_without_middleware_stores_a_template_response_after_rendering():
    """The entry is stored once the TemplateResponse renders, with its fragments' tags."""
    import pagecache

    without = [m for m in MIDDLEWARE if "pagecache" not in m]
    with override_settings(MIDDLEWARE=without):
        client = Client()
        first = client.get("/decorated-template/")
        second = client.get("/decorated-template/")
        assert (first["X-Cache"], second["X-Cache"]) == ("MISS", "HIT")
        assert second.content == first.content == b"<p>1</p>x"
        pagecache.purge_tags("frag2")  # the fragment's tag bubbled up to the page
        assert client.get("/decorated-template/").content == b"<p>2</p>x"


def test_reasons_are_logged_at_debug(client, caplog):
    import logging

    with caplog.at_level(logging.DEBUG, logger="pagecache"):
        client.post("/other/")
        client.get("/cookie/")
    assert "pagecache: bypass /other/: method is not GET or HEAD" in caplog.text
    assert (
        "pagecache: not storing page tests.pages_urls.sets_cookie "
        "(pc:p1:http://testserver/cookie/): response sets a cookie"
    ) in caplog.text


# -- nothing unkeyed shapes a stored page (SPEC §4) ----------------------------------------

LOCALE = [*MIDDLEWARE[:2], "django.middleware.locale.LocaleMiddleware", *MIDDLEWARE[2:]]


@override_settings(
    MIDDLEWARE=LOCALE, USE_I18N=True, LANGUAGES=[("en", "English"), ("de", "German")]
)
def test_the_language_cookie_never_serves_one_language_to_another(client):
    assert client.get("/language/", HTTP_ACCEPT_LANGUAGE="en").content == b"language=en"
    client.cookies["django_language"] = "de"  # what Django's set_language view sets
    german = client.get("/language/", HTTP_ACCEPT_LANGUAGE="en")
    assert (german["X-Cache"], german.content) == ("MISS", b"language=de")
    assert client.get("/language/", HTTP_ACCEPT_LANGUAGE="en")["X-Cache"] == "HIT"
    del client.cookies["django_language"]
    english = client.get("/language/", HTTP_ACCEPT_LANGUAGE="en")
    assert (english["X-Cache"], english.content) == ("HIT", b"language=en")


def test_ignored_query_parameters_never_reach_the_view(client):
    poisoned = client.get("/reflect/?utm_source=%3Cscript%3E&page=2")
    assert b"script" not in poisoned.content and b"utm" not in poisoned.content
    assert poisoned.content.startswith(b"/reflect/?page=2 {'page': ['2']}")
    assert client.get("/reflect/?page=2")["X-Cache"] == "HIT"


def test_analytics_cookies_never_reach_the_view_nor_split_the_cache(client):
    for n in range(5):
        client.cookies["_ga"] = f"GA1.2.{n}"
        client.cookies["_gid"] = f"x{n}"
        response = client.get("/vary-cookie/")
        assert response.content == b"cookies="
    assert RENDERS["vary_cookie"] == 1  # five visitors, one render
    client.cookies["theme"] = "dark"  # a cookie the site reads is part of the key
    assert client.get("/vary-cookie/").content == b"cookies=theme"
    assert RENDERS["vary_cookie"] == 2


@override_settings(PAGECACHE={"VARY_ON_REQUEST": ["tests.pages_urls.time_zone_of"]})
def test_vary_on_request_results_join_the_key(client):
    assert client.get("/tz/").content == b"tz=UTC"
    client.cookies["tz"] = "Europe/Berlin"
    berlin = client.get("/tz/")
    assert (berlin["X-Cache"], berlin.content) == ("MISS", b"tz=Europe/Berlin")
    assert client.get("/tz/")["X-Cache"] == "HIT"
    del client.cookies["tz"]
    assert client.get("/tz/").content == b"tz=UTC"


@override_settings(
    MIDDLEWARE=[MIDDLEWARE[0], "django.middleware.http.ConditionalGetMiddleware", *MIDDLEWARE[1:]]
)
def test_a_conditional_request_at_expiry_refreshes_the_page_and_gets_its_304(
    client, redis_server
):
    """The request that re-renders an expired page renders it whole (a 304 cannot be
    stored) and gets its 304 from the fresh page: the page does not stay stale."""
    first = client.get("/page/")
    etag = first["ETag"]
    key = keys.page_key("pc", "http", "testserver", "/page/", "")
    redis_server.client().pexpire(key, 1000)  # past its TTL, inside its stale window
    revalidated = client.get("/page/", HTTP_IF_NONE_MATCH=etag)
    assert (revalidated.status_code, revalidated["X-Cache"]) == (304, "MISS")
    assert revalidated["ETag"] == etag and revalidated.content == b""
    assert RENDERS["page"] == 2  # rendered whole, and stored:
    fresh = client.get("/page/")
    assert (fresh.status_code, fresh["X-Cache"]) == (200, "HIT")
    assert fresh.content.startswith(b"<p>page render 2</p>")
