"""README snippets marked ``<!-- readme-test: NAME -->`` run as written."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from django.contrib.auth.models import Group

import pagecache

README = (Path(__file__).resolve().parent.parent / "README.md").read_text()


def snippet(name: str) -> str:
    match = re.search(rf"<!-- readme-test: {name} -->\n```python\n(.*?)```", README, re.S)
    assert match, f"README has no snippet marked {name!r}"
    return match.group(1)


@pytest.mark.django_db
def test_rendering_snippet_caches_a_fragment_that_a_purge_removes():
    Group.objects.create(name="editors")
    namespace: dict[str, object] = {}
    exec(snippet("rendering"), namespace)
    assert namespace["html"] == "editors"
    Group.objects.create(name="authors")
    exec(snippet("rendering"), namespace)
    assert namespace["html"] == "editors"  # cached
    pagecache.purge_tags(Group)
    exec(snippet("rendering"), namespace)
    assert namespace["html"] == "authors, editors"
