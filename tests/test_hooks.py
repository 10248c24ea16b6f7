"""Purge hooks (SPEC §7): model signals, m2m from both sides, through models, register(),
bulk helpers and the tags_purged signal — on the real database and Redis."""

from __future__ import annotations

import pytest
from django.test import override_settings

import pagecache
from pagecache.purging import model_hooks
from pagecache.signals import tags_purged
from tests.testapp.models import Article, Category, Comment, Note, Reader, Subscription

pytestmark = pytest.mark.django_db(transaction=True)

HOOKED = {"MODELS": ["testapp.Article", "testapp.Category", "testapp.Reader"]}


@pytest.fixture
def purged():
    """Every tag purged during the test, in order, as reported by the tags_purged signal."""
    seen: list[tuple[tuple[str, ...], bool]] = []

    def receiver(sender, tags, soft, **kwargs):
        seen.append((tags, soft))

    tags_purged.connect(receiver)

    class Purged:
        def tags(self):
            return {tag for tags, _ in seen for tag in tags}

        def clear(self):
            seen.clear()

        calls = seen

    yield Purged()
    tags_purged.disconnect(receiver)


@pytest.fixture
def hooked():
    with override_settings(PAGECACHE=HOOKED):
        yield


def test_tags_purged_signal_reports_tags_and_softness(purged):
    pagecache.purge_tags("a", "b")
    pagecache.purge_tags("c", soft=True)
    assert purged.calls == [(("a", "b"), False), (("c",), True)]


def test_unhooked_models_purge_nothing(purged):
    Article.objects.create(title="x")
    assert purged.calls == []


def test_save_purges_instance_and_model(hooked, purged):
    article = Article.objects.create(title="x")
    assert purged.tags() == {"testapp.article", f"testapp.article:{article.pk}"}
    purged.clear()
    article.title = "y"
    article.save()
    assert purged.tags() == {"testapp.article", f"testapp.article:{article.pk}"}


def test_delete_purges_instance_and_model(hooked, purged):
    article = Article.objects.create(title="x")
    pk = article.pk
    purged.clear()
    article.delete()
    assert {"testapp.article", f"testapp.article:{pk}"} <= purged.tags()


@pytest.mark.parametrize("action", ["add", "remove", "clear"])
def test_m2m_changes_from_the_forward_side(hooked, purged, action):
    article = Article.objects.create(title="x")
    news, tech = Category.objects.create(name="news"), Category.objects.create(name="tech")
    if action != "add":
        article.categories.add(news, tech)
    purged.clear()
    if action == "add":
        article.categories.add(news, tech)
    elif action == "remove":
        article.categories.remove(news, tech)
    else:
        article.categories.clear()
    assert {
        "testapp.article",
        f"testapp.article:{article.pk}",
        "testapp.category",
        f"testapp.category:{news.pk}",
        f"testapp.category:{tech.pk}",
    } <= purged.tags()


@pytest.mark.parametrize("action", ["add", "remove", "clear"])
def test_m2m_changes_from_the_reverse_side(hooked, purged, action):
    news = Category.objects.create(name="news")
    a, b = Article.objects.create(title="a"), Article.objects.create(title="b")
    if action != "add":
        news.articles.add(a, b)
    purged.clear()
    if action == "add":
        news.articles.add(a, b)
    elif action == "remove":
        news.articles.remove(a, b)
    else:
        news.articles.clear()
    assert {
        "testapp.category",
        f"testapp.category:{news.pk}",
        "testapp.article",
        f"testapp.article:{a.pk}",
        f"testapp.article:{b.pk}",
    } <= purged.tags()


def test_only_one_side_hooked_still_purges_both(purged):
    article = Article.objects.create(title="x")
    news = Category.objects.create(name="news")
    with override_settings(PAGECACHE={"MODELS": ["testapp.Category"]}):
        article.categories.add(news)
    assert {f"testapp.article:{article.pk}", f"testapp.category:{news.pk}"} <= purged.tags()


def test_deleting_an_instance_purges_what_it_was_linked_to(hooked, purged):
    """Django deletes the m2m rows without m2m_changed (cacheops #407)."""
    article = Article.objects.create(title="x")
    news = Category.objects.create(name="news")
    article.categories.add(news)
    news_pk = news.pk
    purged.clear()
    news.delete()
    assert f"testapp.article:{article.pk}" in purged.tags()
    assert f"testapp.category:{news_pk}" in purged.tags()


def test_through_model_rows_purge_both_sides(hooked, purged):
    """Creating or deleting a row of an explicit through model sends no m2m_changed."""
    article = Article.objects.create(title="x")
    reader = Reader.objects.create(name="ann")
    purged.clear()
    row = Subscription.objects.create(reader=reader, article=article)
    assert {f"testapp.article:{article.pk}", f"testapp.reader:{reader.pk}"} <= purged.tags()
    purged.clear()
    row.delete()
    assert {f"testapp.article:{article.pk}", f"testapp.reader:{reader.pk}"} <= purged.tags()


def test_through_model_add_via_manager(hooked, purged):
    article = Article.objects.create(title="x")
    reader = Reader.objects.create(name="ann")
    purged.clear()
    reader.articles.add(article)
    assert {f"testapp.article:{article.pk}", f"testapp.reader:{reader.pk}"} <= purged.tags()


def test_deleting_a_reader_purges_its_articles_through_the_through_model(hooked, purged):
    article = Article.objects.create(title="x")
    reader = Reader.objects.create(name="ann")
    Subscription.objects.create(reader=reader, article=article)
    purged.clear()
    reader.delete()
    assert f"testapp.article:{article.pk}" in purged.tags()


def test_register_adds_tags_from_a_callable(purged):
    article = Article.objects.create(title="x")
    pagecache.register(Comment, tags=lambda comment: comment.article)
    try:
        comment = Comment.objects.create(article=article, text="hi")
        assert {
            "testapp.comment",
            f"testapp.comment:{comment.pk}",
            f"testapp.article:{article.pk}",
        } <= purged.tags()
        purged.clear()
        comment.delete()
        assert f"testapp.article:{article.pk}" in purged.tags()
    finally:
        model_hooks._registered.pop(Comment, None)
        model_hooks._forget_models()


def test_register_rejects_non_models():
    with pytest.raises(TypeError, match="model class"):
        pagecache.register("testapp.Comment")
    with pytest.raises(TypeError, match="callable"):
        pagecache.register(Comment, tags="article")


def test_bulk_helpers_purge_model_and_instances(purged):
    notes = Note.objects.bulk_create([Note(text="a"), Note(text="b")])
    pks = {f"testapp.note:{n.pk}" for n in notes}
    assert {"testapp.note", *pks} <= purged.tags()
    purged.clear()
    Note.objects.filter(text="a").update(text="c")
    assert purged.tags() == {"testapp.note", f"testapp.note:{notes[0].pk}"}
    purged.clear()
    notes[1].text = "d"
    Note.objects.bulk_update([notes[1]], ["text"])
    assert purged.tags() == {"testapp.note", f"testapp.note:{notes[1].pk}"}
    purged.clear()
    Note.objects.all().delete()
    assert {"testapp.note", *pks} <= purged.tags()


def test_purge_queryset_after_plain_bulk_update(purged):
    article = Article.objects.create(title="x")
    Article.objects.filter(pk=article.pk).update(title="y")
    assert purged.calls == []  # no signals
    model_hooks.purge_queryset(Article.objects.filter(pk=article.pk))
    assert purged.tags() == {"testapp.article", f"testapp.article:{article.pk}"}


def test_a_saved_article_purges_its_cached_page(hooked, client):
    from tests.pages_urls import MIDDLEWARE, RENDERS

    article = Article.objects.create(title="first")
    with override_settings(
        ROOT_URLCONF="tests.pages_urls", MIDDLEWARE=MIDDLEWARE, PAGECACHE=HOOKED
    ):
        RENDERS.clear()
        assert client.get(f"/article/{article.pk}/").content == b"title=first"
        assert client.get(f"/article/{article.pk}/")["X-Cache"] == "HIT"
        article.title = "second"
        article.save()
        assert client.get(f"/article/{article.pk}/").content == b"title=second"


def test_a_failing_tags_purged_receiver_does_not_break_the_purge(caplog):
    def broken(sender, tags, soft, **kwargs):
        raise ConnectionError("CDN down")

    tags_purged.connect(broken)
    try:
        pagecache.purge_tags("x")  # no exception
    finally:
        tags_purged.disconnect(broken)
    assert "tags_purged receiver" in caplog.text
    from pagecache.purging import purge

    assert purge.pending_tags() == {}


def test_bulk_writes_purge_the_tags_register_adds_like_saves_do(purged):
    """A page about a row's text (a section's sidebar, say) is tagged with what
    ``register()`` says a change of the row purges: bulk writes must purge it too, for the
    row before (what it leaves) and after (what it joins)."""
    pagecache.register(Note, tags=lambda note: f"note-text:{note.text}")
    pagecache.register(Comment, tags=lambda comment: comment.article)
    try:
        notes = Note.objects.bulk_create([Note(text="a"), Note(text="b")])
        assert {"note-text:a", "note-text:b"} <= purged.tags()
        purged.clear()
        Note.objects.filter(text="a").update(text="c")
        assert {"note-text:a", "note-text:c"} <= purged.tags()
        purged.clear()
        notes[1].text = "d"
        Note.objects.bulk_update([notes[1]], ["text"])
        assert {"note-text:b", "note-text:d"} <= purged.tags()
        purged.clear()
        Note.objects.filter(text="d").delete()
        assert "note-text:d" in purged.tags()
        # After a plain update (no signal), purge_queryset purges them too.
        article = Article.objects.create(title="x")
        comment = Comment.objects.create(article=article, text="hi")
        purged.clear()
        Comment.objects.filter(pk=comment.pk).update(text="edited")
        model_hooks.purge_queryset(Comment.objects.filter(pk=comment.pk))
        assert f"testapp.article:{article.pk}" in purged.tags()
    finally:
        model_hooks._registered.pop(Note, None)
        model_hooks._registered.pop(Comment, None)
        model_hooks._forget_models()
