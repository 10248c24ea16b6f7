"""The admin mixin, through Django's test client logged in as staff."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User
from django.test import override_settings

from tests.test_hooks import purged  # noqa: F401  (fixture)
from tests.testapp.models import Article, Category

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def staff(client):
    user = User.objects.create_superuser("admin", "admin@example.com", "pw")
    client.force_login(user)
    with override_settings(ROOT_URLCONF="tests.admin_urls"):
        yield client


def test_purge_action_purges_selected_objects(staff, purged):  # noqa: F811
    a, _, c = (Article.objects.create(title=t) for t in "abc")
    purged.clear()
    response = staff.post(
        "/admin/testapp/article/",
        {"action": "purge_cached_pages", "_selected_action": [a.pk, c.pk]},
        follow=True,
    )
    assert response.status_code == 200
    assert "Purged the cached pages of 2 object(s)." in response.content.decode()
    assert purged.tags() == {
        "testapp.article",
        f"testapp.article:{a.pk}",
        f"testapp.article:{c.pk}",
    }


def test_purge_action_needs_the_change_permission(client, purged):  # noqa: F811
    from django.contrib.auth.models import Permission

    viewer = User.objects.create_user("viewer", password="pw", is_staff=True)
    viewer.user_permissions.add(Permission.objects.get(codename="view_article"))
    client.force_login(viewer)
    article = Article.objects.create(title="a")
    purged.clear()
    with override_settings(ROOT_URLCONF="tests.admin_urls"):
        listing = client.get("/admin/testapp/article/")
        assert listing.status_code == 200
        assert "purge_cached_pages" not in listing.content.decode()
        client.post(
            "/admin/testapp/article/",
            {"action": "purge_cached_pages", "_selected_action": [article.pk]},
        )
    assert purged.tags() == set()


def test_action_is_listed_next_to_the_models_own_actions(staff):
    Category.objects.create(name="news")
    page = staff.get("/admin/testapp/category/").content.decode()
    assert 'value="purge_cached_pages"' in page
    assert 'value="make_uppercase"' in page


def test_admin_save_of_an_unhooked_model_purges(staff, purged):  # noqa: F811
    category = Category.objects.create(name="news")
    purged.clear()
    response = staff.post(f"/admin/testapp/category/{category.pk}/change/", {"name": "sport"})
    assert response.status_code == 302
    assert purged.tags() == {"testapp.category", f"testapp.category:{category.pk}"}


def test_admin_delete_purges(staff, purged):  # noqa: F811
    category = Category.objects.create(name="news")
    pk = category.pk
    purged.clear()
    response = staff.post(f"/admin/testapp/category/{pk}/delete/", {"post": "yes"})
    assert response.status_code == 302
    assert f"testapp.category:{pk}" in purged.tags()


def test_admin_save_of_a_hooked_model_purges_once(staff, purged):  # noqa: F811
    article = Article.objects.create(title="x")
    purged.clear()
    with override_settings(
        ROOT_URLCONF="tests.admin_urls", PAGECACHE={"MODELS": ["testapp.Article"]}
    ):
        staff.post(f"/admin/testapp/article/{article.pk}/change/", {"title": "y"})
    assert len(purged.calls) == 1
