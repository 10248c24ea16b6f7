"""The demo news site in a real browser: Playwright driving Debian's Chromium.

The module starts the demo itself — a private redis-server, a throwaway SQLite database
seeded with 60 articles, gunicorn with two workers (so nothing may live in one process's
memory) — and checks what a reader sees: pages served from the cache, an admin edit
showing at once on every page listing the article while other sections stay cached, a
comment posted from a cached page, logged-in pages never reaching anonymous readers (nor
the reverse), and ``/cache/`` listing purges and purging by hand.

The page TTL is 300 s here, so a ``MISS`` after a change can only come from a purge.

Needs ``pip install playwright`` and Chromium at /usr/bin/chromium (``apt-get install
chromium``; Playwright's own browser download is not used). Without them the tests skip,
and fail when ``CI=true``. ``DEMO_SCREENSHOTS=1`` also writes docs/screenshots/*.png.
"""

from __future__ import annotations

import importlib.util
import os
import re
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlparse

import pytest

from tests.conftest import _in_ci
from tests.redis_harness import RedisServer, die_with_parent, free_port

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = Path("/usr/bin/chromium")
SCREENSHOTS = ROOT / "docs" / "screenshots"
ARTICLES = 60

pytestmark = pytest.mark.slow


def _require_browser() -> None:
    if importlib.util.find_spec("playwright") is None:
        reason = "needs playwright (pip install -e '.[dev]')"
    elif not CHROMIUM.exists():
        reason = f"needs Chromium at {CHROMIUM} (apt-get install chromium)"
    else:
        return
    if _in_ci():
        pytest.fail(f"CI=true: {reason}", pytrace=False)  # never a quiet skip in CI
    pytest.skip(reason)


@dataclass(frozen=True)
class Demo:
    url: str
    admin_password: str


def _manage(env: dict[str, str], *args: str) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "django", *args],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, f"manage.py {' '.join(args)}:\n{result.stdout}{result.stderr}"


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return bool(response.status == 200)
    except (OSError, urllib.error.HTTPError):
        return False


@contextmanager
def _gunicorn(env: dict[str, str], log_path: Path) -> Iterator[str]:
    """gunicorn serving the demo (two workers, threads) until the block ends; its URL."""
    for attempt in range(3):
        port = free_port()
        with log_path.open("ab") as log:
            process = subprocess.Popen(
                [
                    sys.executable, "-m", "gunicorn",
                    "--workers", "2", "--threads", "4",
                    "--bind", f"127.0.0.1:{port}",
                    "--graceful-timeout", "3",
                    "--log-level", "warning",
                    "demo_site.wsgi:application",
                ],
                env=env,
                cwd=ROOT,
                stdout=log,
                stderr=subprocess.STDOUT,
                preexec_fn=die_with_parent,
            )  # fmt: skip
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 30
        # /cache/ is never cached: probing it leaves nothing behind in the page cache.
        while process.poll() is None and time.monotonic() < deadline:
            if _answers(f"{url}/cache/"):
                break
            time.sleep(0.1)  # polling for the server to start, not ordering a test
        else:
            process.terminate()
            process.wait(10)
            if attempt == 2:
                pytest.fail(f"gunicorn did not serve the demo:\n{log_path.read_text()[-3000:]}")
            continue  # most likely the port was taken meanwhile: try another
        break
    try:
        yield url
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Demo]:
    _require_browser()
    data = tmp_path_factory.mktemp("demo_browser")
    redis_server = RedisServer(data_dir=data / "redis").start()
    try:
        dropped = ("REDIS_URL", "DJANGO_SETTINGS_MODULE", "SCRIPT_NAME", "GUNICORN_CMD_ARGS")
        env = {k: v for k, v in os.environ.items() if k not in dropped}
        env.update(
            DJANGO_SETTINGS_MODULE="demo_site.settings",
            PYTHONPATH=os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH")) if p),
            REDIS_URL=redis_server.url,
            PAGECACHE_DEMO_REDIS=f"private redis-server on {redis_server.host}:{redis_server.port}",
            PAGECACHE_DEMO_DATA=str(data),
            PAGECACHE_DEMO_TTL="300",
        )
        _manage(env, "migrate", "--noinput", "-v", "0")
        _manage(env, "seed_demo", "--articles", str(ARTICLES))
        password = (data / "admin-password.txt").read_text().strip()
        with _gunicorn(env, data / "gunicorn.log") as url:
            yield Demo(url, password)
    finally:
        redis_server.stop()


@pytest.fixture(scope="module")
def browser(demo: Demo) -> Iterator[Browser]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=str(CHROMIUM),
            args=["--no-sandbox", "--disable-background-networking"],
        )
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture
def visitor(browser: Browser, demo: Demo) -> Iterator[Callable[[], Page]]:
    """``visitor()``: a page in a new browser context (its own cookies: a new reader)."""
    contexts = []

    def new() -> Page:
        context = browser.new_context(base_url=demo.url, viewport={"width": 1280, "height": 860})
        context.set_default_timeout(10_000)
        contexts.append(context)
        return context.new_page()

    yield new
    for context in contexts:
        context.close()


def visit(page: Page, path: str) -> str:
    """Open ``path``; return its X-Cache status."""
    response = page.goto(path)
    assert response is not None, path
    assert response.status == 200, f"{path}: {response.status}"
    return response.headers.get("x-cache", "")


def prime(page: Page, path: str) -> None:
    """Load ``path`` until it is served from the cache (a precondition of a test): the
    second load is a hit, whichever worker serves it."""
    statuses = [visit(page, path) for _ in range(2)]
    assert statuses[-1] == "HIT", f"{path}: {statuses}"


def href(page: Page, selector: str, index: int = 0) -> str:
    value = page.locator(selector).nth(index).get_attribute("href")
    assert value, selector
    return value


def log_in(page: Page, demo: Demo, *, admin: bool = False) -> None:
    if admin:
        page.goto("/admin/login/?next=/admin/")
        page.fill("#id_username", "admin")
        page.fill("#id_password", demo.admin_password)
        page.click("input[type=submit]")
        page.wait_for_url("**/admin/")
    else:
        page.goto("/accounts/login/")
        page.fill("#id_username", "admin")
        page.fill("#id_password", demo.admin_password)
        with page.expect_navigation():
            page.click("main button[type=submit]")
        assert urlparse(page.url).path == "/", page.url  # LOGIN_REDIRECT_URL
    assert page.context.cookies(demo.url), "no session cookie after logging in"


def submit_purge(page: Page) -> None:
    with page.expect_navigation():
        page.click("#purge-form button[type=submit]")
    assert urlparse(page.url).path == "/cache/"


def test_second_load_of_home_is_a_hit(visitor: Callable[[], Page]) -> None:
    page = visitor()
    visit(page, "/")
    assert visit(page, "/") == "HIT"
    # The strip says so: nothing ran below pagecache, every fragment is the stored one.
    strip = page.locator("#pc-strip")
    assert strip.locator("b").inner_text() == "HIT"
    assert "0 SQL queries" in strip.inner_text()
    assert "Age" in strip.inner_text()
    assert page.locator(".teaser").count() == 20
    assert page.locator(".frag-stamp.cached").count() >= 20
    assert page.locator(".frag-stamp.now").count() == 0


def test_admin_edit_shows_at_once_and_other_sections_stay_cached(
    visitor: Callable[[], Page], demo: Demo
) -> None:
    reader = visitor()
    visit(reader, "/")
    article = href(reader, ".teaser h2 a")  # the newest: on the home page, page 1 everywhere
    visit(reader, article)
    section = href(reader, ".story .kicker a")
    topic = href(reader, ".story .tags a")
    other = next(
        link.get_attribute("href")
        for link in reader.locator(".sections li a").all()
        if link.get_attribute("href") != section
    )
    assert other
    listing = [article, "/", section, topic]
    for path in [*listing, other]:
        prime(reader, path)

    editor = visitor()
    log_in(editor, demo, admin=True)
    assert visit(editor, article) == "BYPASS"
    assert editor.locator(".account").inner_text().startswith("logged in as admin")
    with editor.expect_navigation():
        editor.click("text=Edit this article in the admin")
    match = re.search(r"/admin/demo_site/article/(\d+)/change/", editor.url)
    assert match, editor.url
    pk = match.group(1)
    title = f"Edited in the admin {time.time_ns()}"
    editor.fill("#id_title", title)
    with editor.expect_navigation():
        editor.click("input[name=_save]")
    editor.locator(".messagelist .success").wait_for()

    for path in listing:
        assert visit(reader, path) == "MISS", f"{path} was not purged"
        assert title in reader.content(), f"{path} lacks the new title"
    assert visit(reader, other) == "HIT", "another section's page was purged"
    assert title not in reader.content()
    prime(reader, article)  # stored again, with the new title
    assert reader.locator(".story h1").inner_text() == title

    # /cache/ lists the purge of the article's tag (sent by another gunicorn worker,
    # perhaps: the list lives in Redis).
    assert visit(reader, "/cache/") == "BYPASS"
    purged = re.compile(rf"demo_site\.article:{pk}(\s|$)")
    rows = reader.locator("#purges tr.purge").filter(has_text=purged)
    assert rows.count() >= 1
    assert rows.first.locator("td.hard").count() == 1

    # A new article in the same section: no page shows it yet, so only the tags of the
    # lists (the home page's model tag, the section's own tag) can purge them.
    for path in ("/", section, other):
        prime(reader, path)
    visit(editor, article)
    section_name = (editor.locator(".story .kicker a").text_content() or "").strip()
    editor.goto("/admin/demo_site/article/add/")
    fresh = f"Breaking news {time.time_ns()}"
    editor.fill("#id_title", fresh)
    editor.fill("#id_slug", f"breaking-{time.time_ns()}")
    editor.select_option("#id_author", index=1)
    editor.select_option("#id_category", label=section_name)
    editor.fill("#id_body", "Published from the admin.")
    with editor.expect_navigation():
        editor.click("input[name=_save]")
    editor.locator(".messagelist .success").wait_for()
    for path in ("/", section):
        assert visit(reader, path) == "MISS", f"{path} was not purged by a new article"
        assert reader.locator(".teaser h2").first.inner_text() == fresh, path
    assert visit(reader, other) == "HIT", "another section's page was purged"


def test_comment_posted_from_a_cached_page_appears_at_once(visitor: Callable[[], Page]) -> None:
    first = visitor()
    visit(first, "/")
    article = href(first, ".teaser h2 a", 1)
    visit(first, article)

    reader = visitor()  # no cookies yet: gets the stored page, a CSRF cookie and token
    assert visit(reader, article) == "HIT"
    assert any(c["name"] == "csrftoken" for c in reader.context.cookies())
    text = f"A comment written at {time.time_ns()}"
    reader.fill("#id_name", "Reader")
    reader.fill("#id_text", text)
    with (
        reader.expect_response(lambda r: r.request.method == "POST") as posted,
        reader.expect_response(
            lambda r: r.request.method == "GET" and urlparse(r.url).path == article
        ) as shown,
    ):
        reader.click(".comment-form button[type=submit]")
    assert posted.value.status == 302, f"the comment was refused ({posted.value.status})"
    assert shown.value.headers.get("x-cache") == "MISS", "the comments were not purged"
    reader.wait_for_load_state()
    assert reader.locator("#comments .comment").filter(has_text=text).count() == 1

    later = visitor()  # another reader: the comment is there for everyone, from the cache
    assert visit(later, article) == "HIT"
    assert later.locator("#comments .comment").filter(has_text=text).count() == 1


def test_logged_in_pages_never_reach_anonymous_readers(
    visitor: Callable[[], Page], demo: Demo
) -> None:
    member = visitor()
    log_in(member, demo)
    article = href(member, ".teaser h2 a", 2)
    visit(member, article)
    paths = ["/", article, href(member, ".story .kicker a"), href(member, ".story .tags a")]

    def shows_member(page: Page) -> bool:
        return "logged in as admin" in page.locator(".account").inner_text()

    for path in paths:
        assert visit(member, path) == "BYPASS", path
        assert shows_member(member), path

    reader = visitor()
    for _ in range(2):
        for path in paths:
            assert visit(reader, path) in ("MISS", "HIT"), path
            assert "logged in as" not in reader.content(), f"{path}: a member's page"
            assert reader.locator(".account").inner_text().strip() == "Log in", path
            assert reader.locator(".staff").count() == 0, path

    # And the reverse: the member still gets pages of their own, from cached fragments.
    for path in paths:
        assert visit(member, path) == "BYPASS", path
        assert shows_member(member), f"{path}: an anonymous page for a member"
        assert member.locator(".frag-stamp.cached").count() >= 1, path


def test_cache_page_lists_purges_and_purges_by_hand(visitor: Callable[[], Page]) -> None:
    reader = visitor()
    visit(reader, "/")
    links = reader.locator(".sections li a").all()
    section, other = (link.get_attribute("href") or "" for link in links[-2:])
    for path in (section, other):
        prime(reader, path)
    visit(reader, section)
    tag = reader.locator(".explain code").first.inner_text()  # the page's own tag
    assert re.fullmatch(r"demo_site\.category:\d+", tag), tag

    assert visit(reader, "/cache/") == "BYPASS"
    reader.fill("#purge-tags", tag)
    submit_purge(reader)
    newest = reader.locator("#purges tr.purge").first
    assert tag in newest.inner_text().split()
    assert newest.locator("td.hard").count() == 1

    assert visit(reader, section) == "MISS"
    assert visit(reader, other) == "HIT"

    visit(reader, "/cache/")
    reader.fill("#purge-tags", tag)
    reader.check("#purge-soft")
    submit_purge(reader)
    newest = reader.locator("#purges tr.purge").first
    assert tag in newest.inner_text().split()
    assert newest.locator("td.soft").count() == 1
    assert visit(reader, section) != "HIT"  # re-rendered (MISS) or its old copy (STALE)
    assert visit(reader, other) == "HIT"

    visit(reader, "/cache/")
    reader.fill("#purge-tags", "x" * 251)
    submit_purge(reader)
    assert "limit is 250" in reader.locator("#purge-form .notice").inner_text()

    # The counters every process keeps (STATS): the pages just served are in them.
    visit(reader, "/cache/")
    names = reader.locator("#counters td code").all_inner_texts()
    assert "category" in names or any("category" in n for n in names), names


def test_screenshots(visitor: Callable[[], Page]) -> None:
    """``DEMO_SCREENSHOTS=1``: docs/screenshots/{home,article,cache}.png."""
    if os.environ.get("DEMO_SCREENSHOTS") != "1":
        pytest.skip("set DEMO_SCREENSHOTS=1 to write docs/screenshots/")
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page = visitor()
    visit(page, "/")
    time.sleep(1.5)  # so the labels say "cached, rendered 2 s ago"
    assert visit(page, "/") == "HIT"
    page.screenshot(path=str(SCREENSHOTS / "home.png"))

    article = href(page, ".teaser h2 a", 3)
    visit(page, article)
    time.sleep(1.5)
    page.fill("#id_name", "Ada")
    page.fill("#id_text", "Posted from a cached page: the comments re-render, the story stays.")
    with page.expect_navigation():
        page.click(".comment-form button[type=submit]")
    page.locator("#comments").scroll_into_view_if_needed()
    page.screenshot(path=str(SCREENSHOTS / "article.png"), full_page=True)

    for tags, soft in (("demo_site.category:3", False), ("demo_site.tag", True)):
        visit(page, "/cache/")
        page.fill("#purge-tags", tags)
        page.set_checked("#purge-soft", soft)
        submit_purge(page)
    page.screenshot(path=str(SCREENSHOTS / "cache.png"))


def test_debug_toolbar_panel(visitor: Callable[[], Page]) -> None:
    """The strip's switch turns django-debug-toolbar on; its **Page cache** panel shows a
    rendered page (never stored while it shows the toolbar) whose fragments all come from
    the cache. ``DEMO_SCREENSHOTS=1``: docs/screenshots/debug-toolbar-panel.png."""
    if importlib.util.find_spec("debug_toolbar") is None:
        if _in_ci():
            pytest.fail("CI=true: needs django-debug-toolbar (pip install -e '.[dev]')")
        pytest.skip("needs django-debug-toolbar (pip install -e '.[dev]')")
    page = visitor()
    prime(page, "/")
    article = href(page, ".teaser h2 a", 6)  # no other test reads it: not stored yet
    switch = page.locator("#pc-toolbar")
    assert switch.inner_text() == "debug toolbar: off"
    with page.expect_navigation():
        switch.click()
    # Back on the home page. Its Vary: Cookie puts the switch's cookie in the key: this
    # reader's own variant, never stored while it shows the toolbar, so always rendered.
    assert urlparse(page.url).path == "/"
    assert switch.inner_text() == "debug toolbar: on"
    assert page.locator("#djDebug").count() == 1
    assert page.locator("#pc-strip b").inner_text() == "MISS"

    assert visit(page, article) == "MISS"
    time.sleep(1.5)  # so the fragments' copies are visibly older than this render
    assert visit(page, article) == "MISS"  # the first render showed the toolbar: not stored
    button = page.locator("#djdt-PageCachePanel")
    subtitle = button.locator("small").inner_text()
    count = re.fullmatch(r"(\d+) fragments, (\d+) cached", subtitle)
    assert count and count.group(1) == count.group(2) and int(count.group(1)) >= 3, subtitle
    button.locator("a").click()
    panel = page.locator("#PageCachePanel")
    panel.locator("#djdt-pc-fragments").wait_for()  # fetched from render_panel/
    summary = panel.locator("#djdt-pc-page")
    assert summary.get_attribute("data-status") == "MISS"
    assert "django-debug-toolbar's panel is in the body" in summary.inner_text()
    assert urlparse(article).path in summary.inner_text()  # the page's key
    rows = panel.locator("tr.djdt-pc-fragment")
    assert rows.count() == int(count.group(1))
    assert {rows.nth(i).get_attribute("data-status") for i in range(rows.count())} == {"HIT"}
    assert "saved" in rows.first.inner_text()
    assert panel.locator("#djdt-pc-page-tags code").count() >= 3

    if os.environ.get("DEMO_SCREENSHOTS") == "1":
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        page.set_viewport_size({"width": 1280, "height": 960})  # the whole panel
        page.screenshot(path=str(SCREENSHOTS / "debug-toolbar-panel.png"))
