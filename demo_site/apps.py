"""The demo app: what each data change purges, and the log of recent purges.

``settings.PAGECACHE["MODELS"]`` makes every save, delete and many-to-many change of the
five models purge the instance's tag (``demo_site.article:42``) and its model's tag
(``demo_site.article``). Pages also show things *about* an object elsewhere; those are
added here with ``pagecache.register``:

* an article is listed on its section's pages and its topics' pages: saving it purges
  ``demo_site.category:<pk>`` (its section, and the section it left) and
  ``demo_site.tag:<pk>`` for each of its topics;
* a comment purges its article's comments fragment (``demo_site.article-comments:<pk>``),
  and with it, by bubbling, the article's page, but not the story fragment.
"""

from __future__ import annotations

from typing import Any

from django.apps import AppConfig


class DemoSiteConfig(AppConfig):
    name = "demo_site"
    verbose_name = "The Daily Cache"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from django.db.models.signals import pre_save

        import pagecache
        from pagecache.signals import tags_purged

        from . import purge_log
        from .models import Article, Comment, comments_tag

        pagecache.register(Article, tags=_article_pages)
        pagecache.register(Comment, tags=lambda comment: comments_tag(comment.article_id))
        pre_save.connect(_note_old_category, sender=Article, dispatch_uid="demo.old_category")
        tags_purged.connect(purge_log.record, dispatch_uid="demo.purge_log")


_OLD_CATEGORY = "_demo_old_category_id"


def _note_old_category(sender: type[Any], instance: Any, **kwargs: Any) -> None:
    # An article moved to another section leaves the old section's pages too.
    if instance.pk is not None:
        old = sender.objects.filter(pk=instance.pk).values_list("category_id", flat=True)
        setattr(instance, _OLD_CATEGORY, old.first())


def _article_pages(article: Any) -> list[str]:
    """Tags of the list pages that show ``article``, beyond its own and its model's."""
    sections = {article.category_id, getattr(article, _OLD_CATEGORY, None)} - {None}
    tags = [f"demo_site.category:{pk}" for pk in sorted(sections)]
    if article.pk is not None:
        tags += [f"demo_site.tag:{pk}" for pk in article.tags.values_list("pk", flat=True)]
    return tags
