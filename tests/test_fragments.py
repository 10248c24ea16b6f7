"""{% cachetag %} in Django templates and Jinja2: caching, bubbling, purges, failures, syntax."""

from __future__ import annotations

import threading

import jinja2
import pytest
from django.template import TemplateSyntaxError, engines
from django.test import Client, RequestFactory, override_settings

import pagecache
from pagecache import fragments
from tests.pages_urls import BOX, MIDDLEWARE, RENDERS, Counter

pytestmark = pytest.mark.django_db

ENGINES = ["django", "jinja2"]


def render(engine, body, context=None, request=None):
    """Render template source in either engine (Django needs the library loaded)."""
    if engine == "django":
        body = "{% load cachetag %}" + body
    return engines[engine].from_string(body).render(context or {}, request)


@pytest.fixture(params=ENGINES)
def engine(request):
    return request.param


def test_block_runs_once_across_renders(engine):
    counter = Counter()
    body = '{% cachetag "once" %}rendered {{ counter }}{% endcachetag %}'
    assert render(engine, body, {"counter": counter}) == "rendered 1"
    assert render(engine, body, {"counter": counter}) == "rendered 1"
    assert counter.n == 1


def test_vary_on_values_separate_entries(engine):
    counter = Counter()
    body = '{% cachetag "by-lang" lang %}{{ lang }} {{ counter }}{% endcachetag %}'
    assert render(engine, body, {"lang": "de", "counter": counter}) == "de 1"
    assert render(engine, body, {"lang": "fr", "counter": counter}) == "fr 2"
    assert render(engine, body, {"lang": "de", "counter": counter}) == "de 1"


def test_name_can_be_a_variable(engine):
    counter = Counter()
    body = "{% cachetag name %}{{ counter }}{% endcachetag %}"
    assert render(engine, body, {"name": "a", "counter": counter}) == "1"
    assert render(engine, body, {"name": "b", "counter": counter}) == "2"
    assert render(engine, body, {"name": "a", "counter": counter}) == "1"


@pytest.mark.parametrize(
    ("tags_expr", "purge"),
    [
        ('"news sidebar"', ["sidebar"]),
        ("article", "instance"),
        ("model", "class"),
        ("mixed", ["extra"]),
        ("mixed", "instance"),
    ],
)
def test_each_tags_form_purges(engine, tags_expr, purge):
    from tests.testapp.models import Article

    article = Article.objects.create(title="t")
    context = {
        "counter": Counter(),
        "article": article,
        "model": Article,
        "mixed": ["extra other", article],
    }
    body = '{% cachetag "tagged" tags=' + tags_expr + " %}{{ counter }}{% endcachetag %}"
    assert render(engine, body, context) == "1"
    assert render(engine, body, context) == "1"
    if purge == "instance":
        pagecache.purge_tags(article)
    elif purge == "class":
        pagecache.purge_tags(Article)
    else:
        pagecache.purge_tags(*purge)
    assert render(engine, body, context) == "2"


def test_purging_an_unrelated_tag_keeps_the_fragment(engine):
    counter = Counter()
    body = '{% cachetag "kept" tags="mine" %}{{ counter }}{% endcachetag %}'
    render(engine, body, {"counter": counter})
    pagecache.purge_tags("someone-else")
    assert render(engine, body, {"counter": counter}) == "1"


NESTED = (
    '{% cachetag "outer" tags="outer" %}outer {{ outer }} '
    '{% cachetag "inner" tags="inner" %}inner {{ inner }}{% endcachetag %}'
    "{% endcachetag %}"
)


def test_purging_an_inner_tag_rerenders_the_outer_block(engine):
    context = {"outer": Counter(), "inner": Counter()}
    assert render(engine, NESTED, context) == "outer 1 inner 1"
    assert render(engine, NESTED, context) == "outer 1 inner 1"
    pagecache.purge_tags("inner")
    assert render(engine, NESTED, context) == "outer 2 inner 2"
    pagecache.purge_tags("outer")  # the inner block is still cached inside the new outer
    assert render(engine, NESTED, context) == "outer 3 inner 2"
    # The outer block learnt "inner" from the inner block's cache hit, too:
    pagecache.purge_tags("inner")
    assert render(engine, NESTED, context) == "outer 4 inner 3"


@pytest.fixture
def pages():
    RENDERS.clear()
    BOX.n = 0
    with override_settings(ROOT_URLCONF="tests.pages_urls", MIDDLEWARE=MIDDLEWARE):
        yield


def test_page_is_purged_by_its_fragment_tag_when_rendered(engine, pages):
    client = Client()
    url = f"/fragment-page/?engine={engine}"
    first = client.get(url)
    assert first.content == b"<h1>page 1</h1>box 1"
    assert client.get(url)["X-Cache"] == "HIT"
    pagecache.purge_tags("frag")
    after = client.get(url)
    assert after["X-Cache"] == "MISS"
    assert after.content == b"<h1>page 2</h1>box 2"


def test_page_is_purged_by_its_fragment_tag_when_fragment_was_a_hit(engine, pages):
    client = Client()
    url = f"/fragment-page/?engine={engine}"
    client.get(url + "&warm=1")  # another page caches the fragment
    page = client.get(url)  # this page gets the fragment from the cache...
    assert page.content == b"<h1>page 2</h1>box 1"
    assert client.get(url)["X-Cache"] == "HIT"
    pagecache.purge_tags("frag")  # ...and still carries its tag
    after = client.get(url)
    assert after["X-Cache"] == "MISS"
    assert after.content == b"<h1>page 3</h1>box 2"


@override_settings(PAGECACHE={"TAG_HEADER": "Cache-Tag"})
def test_tag_header_includes_bubbled_fragment_tags(engine, pages):
    response = Client().get(f"/fragment-page/?engine={engine}")
    assert response["Cache-Tag"] == "frag"


def test_fragment_is_cached_for_logged_in_visitors(engine, pages):
    from django.contrib.auth.models import User

    client = Client()
    client.force_login(User.objects.create_user("ann"))
    url = f"/fragment-page/?engine={engine}"
    first = client.get(url)
    second = client.get(url)
    assert (first["X-Cache"], second["X-Cache"]) == ("BYPASS", "BYPASS")  # page: personal
    assert second.content == b"<h1>page 2</h1>box 1"  # fragment: shared


def test_the_anonymous_user_never_shares_a_fragment_with_a_user_named_anonymoususer(engine):
    from django.contrib.auth.models import AnonymousUser, User

    body = '{% cachetag "who" user %}{{ name }}{% endcachetag %}'
    named = User.objects.create_user("AnonymousUser")
    assert render(engine, body, {"user": AnonymousUser(), "name": "nobody"}) == "nobody"
    assert render(engine, body, {"user": named, "name": "AnonymousUser"}) == "AnonymousUser"
    assert render(engine, body, {"user": AnonymousUser(), "name": "x"}) == "nobody"


def test_vary_on_values_cannot_forge_a_boundary(engine):
    body = '{% cachetag "pair" a b %}{{ a }}|{{ b }}{% endcachetag %}'
    assert render(engine, body, {"a": "x\ny", "b": "z"}) == "x\ny|z"
    assert render(engine, body, {"a": "x", "b": "y\nz"}) == "x|y\nz"


def test_fragment_works_without_middleware_or_request(engine):
    counter = Counter()
    body = '{% cachetag "bare" %}{{ counter }}{% endcachetag %}'
    assert render(engine, body, {"counter": counter}, request=RequestFactory().get("/")) == "1"
    assert render(engine, body, {"counter": counter}) == "1"


@override_settings(PAGECACHE={"TTL": 1, "STALE_TTL": 0})
def test_fragment_expires_after_its_ttl(engine, redis_server):
    from tests.test_middleware import wait_until

    counter = Counter()
    body = '{% cachetag "short" %}{{ counter }}{% endcachetag %}'
    render(engine, body, {"counter": counter})
    raw = redis_server.client()
    (key,) = list(raw.scan_iter("pc:f1:short:*"))
    assert 0 < raw.pttl(key) <= 1000
    wait_until(lambda: not raw.exists(key), timeout=3)
    assert render(engine, body, {"counter": counter}) == "2"


def test_ttl_and_stale_ttl_arguments(engine, redis_server):
    body = '{% cachetag "timed" ttl=120 stale_ttl=5 %}x{% endcachetag %}'
    render(engine, body)
    raw = redis_server.client()
    (key,) = list(raw.scan_iter("pc:f1:timed:*"))
    assert 120_000 < raw.pttl(key) <= 125_000


def test_fragment_renders_normally_when_redis_is_down(engine, private_cache):
    private_cache().stop()
    counter = Counter()
    body = '{% cachetag "down" %}block {{ counter }}{% endcachetag %}'
    assert render(engine, body, {"counter": counter}) == "block 1"
    assert render(engine, body, {"counter": counter}) == "block 2"


def test_a_changed_block_source_gets_a_new_key(engine):
    counter = Counter()
    old = '{% cachetag "deploy" %}old markup {{ counter }}{% endcachetag %}'
    new = '{% cachetag "deploy" %}new markup {{ counter }}{% endcachetag %}'
    assert render(engine, old, {"counter": counter}) == "old markup 1"
    assert render(engine, new, {"counter": counter}) == "new markup 2"
    assert render(engine, old, {"counter": counter}) == "old markup 1"


def test_block_with_csrf_token_is_never_stored(pages):
    counter = Counter()
    body = '{% cachetag "form" %}{% csrf_token %}{{ counter }}{% endcachetag %}'
    request = RequestFactory().get("/")
    first = render("django", body, {"counter": counter}, request=RequestFactory().get("/"))
    second = render("django", body, {"counter": counter}, request=request)
    assert "csrfmiddlewaretoken" in first
    assert first.endswith("1") and second.endswith("2")


def test_block_with_csrf_token_used_before_it_is_never_stored(pages):
    counter = Counter()
    body = '{{ csrf_token }}{% cachetag "form2" %}{{ csrf_token }}{{ counter }}{% endcachetag %}'
    for n in (1, 2):
        assert render("django", body, {"counter": counter}, request=RequestFactory().get("/"))[
            -1
        ] == str(n)


def test_purge_racing_a_fragment_render_is_not_stored_as_fresh(engine):
    started, proceed = threading.Event(), threading.Event()

    class Blocking:
        calls = 0

        def __str__(self):
            Blocking.calls += 1
            if Blocking.calls == 1:
                started.set()
                proceed.wait(10)
            return f"render {Blocking.calls}"

    body = '{% cachetag "race" tags="race" %}{{ blocking }}{% endcachetag %}'
    results = []
    worker = threading.Thread(
        target=lambda: results.append(render(engine, body, {"blocking": Blocking()}))
    )
    worker.start()
    assert started.wait(10)  # the block is rendering with the old data
    pagecache.purge_tags("race")
    proceed.set()
    worker.join(10)
    assert results == ["render 1"]
    assert render(engine, body, {"blocking": Blocking()}) == "render 2"
    assert render(engine, body, {"blocking": Blocking()}) == "render 2"


def test_fragment_hit_is_one_round_trip(engine):
    from tests.test_purge import count_round_trips

    body = '{% cachetag "rt" tags="a b" %}x{% endcachetag %}'
    render(engine, body)
    render(engine, body)
    with count_round_trips() as trips:
        assert render(engine, body) == "x"
    assert trips.count == 1


# -- syntax errors -------------------------------------------------------------------------


DJANGO_ERRORS = [
    ("{% cachetag %}x{% endcachetag %}", "needs a fragment name"),
    ('{% cachetag "a" foo=1 %}x{% endcachetag %}', "unknown keyword 'foo'"),
    ('{% cachetag "a" ttl=1 ttl=2 %}x{% endcachetag %}', "ttl= more than once"),
    ('{% cachetag "a" ttl=1 b %}x{% endcachetag %}', "must come before"),
    ('{% cachetag "a" %}x', "endcachetag"),
]

JINJA_ERRORS = [
    ("{% cachetag %}x{% endcachetag %}", "needs a fragment name"),
    ('{% cachetag "a", foo=1 %}x{% endcachetag %}', "unknown keyword 'foo'"),
    ('{% cachetag "a", ttl=1, ttl=2 %}x{% endcachetag %}', "ttl= more than once"),
    ('{% cachetag "a", ttl=1, b %}x{% endcachetag %}', "must come before"),
    ('{% cachetag "a" %}x', "endcachetag"),
]


@pytest.mark.parametrize(("body", "message"), DJANGO_ERRORS)
def test_django_syntax_errors(body, message):
    with pytest.raises(TemplateSyntaxError, match=message):
        render("django", body)


@pytest.mark.parametrize(("body", "message"), JINJA_ERRORS)
def test_jinja2_syntax_errors(body, message):
    with pytest.raises(jinja2.TemplateSyntaxError, match=message):
        render("jinja2", body)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ('ttl="soon"', "ttl= must be an integer >= 1, not 'soon'"),
        ("ttl=0", "ttl= must be an integer >= 1, not 0"),
        ("stale_ttl=-1", "stale_ttl= must be an integer >= 0, not -1"),
        ('ttl=""', "ttl= must be an integer >= 1, not ''"),
    ],
)
def test_bad_values_at_render_time(engine, args, message):
    error = TemplateSyntaxError if engine == "django" else jinja2.TemplateRuntimeError
    with pytest.raises(error, match=message):
        render(engine, '{% cachetag "a" ' + args + " %}x{% endcachetag %}")


def test_bad_tag_value_names_it(engine):
    error = TemplateSyntaxError if engine == "django" else jinja2.TemplateRuntimeError
    with pytest.raises(error, match="42"):
        render(engine, '{% cachetag "a" tags=bad %}x{% endcachetag %}', {"bad": [42]})


def test_tags_from_value():
    from tests.testapp.models import Article

    assert fragments.tags_from_value("a b  c") == ("a", "b", "c")
    assert fragments.tags_from_value(["a b", Article, Article(pk=3)]) == (
        "a",
        "b",
        "testapp.article",
        "testapp.article:3",
    )
    assert fragments.tags_from_value(None) == ()


def test_a_changed_included_template_gets_a_new_key(tmp_path):
    """After a deploy (a new process, so new compiled templates) an edited include is seen."""
    from django.template import Context, Engine

    def fresh_engine():
        return Engine(
            dirs=[tmp_path], libraries={"cachetag": "templatetags_ext.templatetags.cachetag"}
        )

    body = '{% load cachetag %}{% cachetag "inc" %}{% include "part.html" %}{% endcachetag %}'
    (tmp_path / "part.html").write_text("part v1")
    assert fresh_engine().from_string(body).render(Context()) == "part v1"
    (tmp_path / "part.html").write_text("part v2")
    assert fresh_engine().from_string(body).render(Context()) == "part v2"


def test_a_changed_included_jinja2_template_gets_a_new_key(tmp_path):
    from django.template.backends.jinja2 import Jinja2

    def fresh_engine():
        return Jinja2(
            {
                "NAME": "j",
                "DIRS": [tmp_path],
                "APP_DIRS": False,
                "OPTIONS": {"extensions": ["templatetags_ext.jinja2.cachetag"]},
            }
        )

    body = '{% cachetag "inc" %}{% include "part.html" %}{% endcachetag %}'
    (tmp_path / "part.html").write_text("part v1")
    assert fresh_engine().from_string(body).render({}) == "part v1"
    (tmp_path / "part.html").write_text("part v2")
    assert fresh_engine().from_string(body).render({}) == "part v2"


def test_a_jinja2_environment_with_enable_async_caches_the_block_not_a_coroutine(redis_server):
    """With ``enable_async`` a block's body is a coroutine: the tag awaits it (on the async
    store), in Django's backend (which renders synchronously) and in ``render_async``."""
    from asgiref.sync import async_to_sync
    from django.template.backends.jinja2 import Jinja2

    engine = Jinja2(
        {
            "NAME": "jinja2-async",
            "DIRS": [],
            "APP_DIRS": False,
            "OPTIONS": {
                "extensions": ["templatetags_ext.jinja2.cachetag"],
                "enable_async": True,
            },
        }
    )
    body = '{% cachetag "async-block" tags="async-block" %}<b>{{ value }}</b>{% endcachetag %}'
    template = engine.from_string(body)
    assert template.render({"value": 1}) == "<b>1</b>"
    assert template.render({"value": 2}) == "<b>1</b>"  # served from the cache
    stored = [redis_server.client().get(k) for k in redis_server.client().scan_iter("pc:f1:*")]
    assert len(stored) == 1 and b"<b>1</b>" in stored[0] and b"coroutine" not in stored[0]
    pagecache.purge_tags("async-block")
    raw = template.template  # the Jinja2 template: render_async in an event loop
    assert async_to_sync(raw.render_async)(value=3) == "<b>3</b>"
    assert async_to_sync(raw.render_async)(value=4) == "<b>3</b>"
