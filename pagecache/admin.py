"""``PurgeCacheMixin``: a "Purge cached pages" action and purge-on-save for the Django admin.

Add it in front of ``admin.ModelAdmin``::

    @admin.register(Article)
    class ArticleAdmin(PurgeCacheMixin, admin.ModelAdmin):
        ...
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.contrib import admin, messages

from .purging.model_hooks import hooked_models, tags_for
from .purging.purge import purge_tags

if TYPE_CHECKING:
    from django.db.models import Model, QuerySet
    from django.http import HttpRequest

    _Base = admin.ModelAdmin[Any]
else:
    _Base = object


class PurgeCacheMixin(_Base):
    """Adds the "Purge cached pages" action; saves and deletes in the admin purge too."""

    def __init_subclass__(cls, **kwargs: Any) -> None:
        # Add the action next to the admin's own ones (without overriding get_actions(),
        # whose signature differs between Django versions); `actions = None` still means none.
        super().__init_subclass__(**kwargs)
        actions = getattr(cls, "actions", ())
        if actions is not None and "purge_cached_pages" not in actions:
            cls.actions = [*actions, "purge_cached_pages"]

    # Purging is a change to what visitors see: only for those who may change the objects.
    @admin.action(description="Purge cached pages", permissions=["change"])
    def purge_cached_pages(self, request: HttpRequest, queryset: QuerySet[Any]) -> None:
        tags = [tag for obj in queryset for tag in tags_for(obj)]
        purge_tags(*tags)
        self.message_user(
            request, f"Purged the cached pages of {len(queryset)} object(s).", messages.SUCCESS
        )

    # Hooked models purge through their signals already; others purge here.
    def save_model(self, request: HttpRequest, obj: Model, form: Any, change: bool) -> None:
        super().save_model(request, obj, form, change)
        if type(obj) not in hooked_models():
            purge_tags(*tags_for(obj))

    def delete_model(self, request: HttpRequest, obj: Model) -> None:
        tags = tags_for(obj)
        super().delete_model(request, obj)
        if type(obj) not in hooked_models():
            purge_tags(*tags)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> None:
        tags = [tag for obj in queryset for tag in tags_for(obj)]
        super().delete_queryset(request, queryset)
        if queryset.model not in hooked_models():
            purge_tags(*tags)
