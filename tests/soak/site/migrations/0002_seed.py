"""Seed the articles and the reader account the soak logs in with."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.hashers import make_password
from django.db import migrations

ARTICLES = 20
READER = ("reader", "reader-password")


def seed(apps: Any, schema_editor: Any) -> None:
    article = apps.get_model("soaksite", "Article")
    article.objects.bulk_create(
        article(pk=pk, title=f"Article {pk}", version=1) for pk in range(1, ARTICLES + 1)
    )
    user = apps.get_model("auth", "User")
    user.objects.create(username=READER[0], password=make_password(READER[1]), is_active=True)


class Migration(migrations.Migration):
    dependencies = [("soaksite", "0001_initial"), ("auth", "0001_initial")]

    operations = [migrations.RunPython(seed, migrations.RunPython.noop)]
