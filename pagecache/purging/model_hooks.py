"""Purges that follow data changes: model signals, ``register()`` and bulk helpers.

A model is *hooked* when it is named in ``PAGECACHE["MODELS"]`` or passed to
:func:`register`. Then:

* ``post_save`` / ``post_delete`` purge ``model_tag(instance)``, ``model_tag(Model)`` and
  whatever the model's registered callables return;
* ``m2m_changed`` (add, remove, clear, from either side) purges the instances on both
  sides and both models, and saves and deletes of an explicit ``through`` model do the same
  for the two rows they link (Django sends no ``m2m_changed`` for those);
* deleting an instance also purges the instances it was linked to through many-to-many
  relations (Django sends no ``m2m_changed`` when it deletes those rows either).

The receivers are connected once and look the model up in a small table derived from
the settings, so ``override_settings(PAGECACHE={"MODELS": ...})`` works at once. Every
purge goes through :func:`pagecache.purge_tags`, so it is transaction-aware.

Bulk operations send no signals: use :class:`PurgingQuerySet` / :data:`PurgingManager`,
or call :func:`purge_queryset` after them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any, TypeVar

from django.apps import apps
from django.db import models
from django.db.models.signals import m2m_changed, post_delete, post_save, pre_delete

from ..conf import on_reload, settings
from ..core.tags import model_tag, normalize_tags
from .purge import purge_tags

if TYPE_CHECKING:
    from django.db.models.fields.related import ForeignKey

ModelT = TypeVar("ModelT", bound=models.Model)
TagsFor = Callable[[Any], Iterable[object] | object]

_registered: dict[type[models.Model], list[TagsFor]] = {}
_hooked: dict[type[models.Model], list[TagsFor]] | None = None
#: Explicit through model -> its foreign keys to the two sides.
_throughs: dict[type[models.Model], list[ForeignKey[Any, Any]]] | None = None

_LINKED_ATTR = "_pagecache_linked_tags"


def register(model: type[ModelT], tags: TagsFor | None = None) -> type[ModelT]:
    """Hook ``model``: its changes purge its tags, plus ``tags(instance)`` if given.

    ``tags`` returns a tag, a model instance or class, or a list of those::

        pagecache.register(Comment, tags=lambda comment: comment.article)

    Returns the model, so it also works as a class decorator (``@register``).
    """
    if not (isinstance(model, type) and issubclass(model, models.Model)):
        raise TypeError(f"register() needs a model class, not {model!r}")
    if tags is not None and not callable(tags):
        raise TypeError(f"register(tags=...) must be a callable, not {tags!r}")
    callables = _registered.setdefault(model, [])
    if tags is not None:
        callables.append(tags)
    _forget_models()
    return model


def hooked_models() -> dict[type[models.Model], list[TagsFor]]:
    """Hooked model -> its extra-tag callables, from MODELS and register() (cached)."""
    global _hooked
    if _hooked is None:
        table: dict[type[models.Model], list[TagsFor]] = {}
        for label in settings.MODELS:
            try:
                table.setdefault(apps.get_model(label), [])
            except (LookupError, ValueError):
                continue  # reported by system check pagecache.E004
        for model, callables in _registered.items():
            table.setdefault(model, []).extend(callables)
        _hooked = table
    return _hooked


def _through_models() -> dict[type[models.Model], list[ForeignKey[Any, Any]]]:
    global _throughs
    if _throughs is None:
        table: dict[type[models.Model], list[ForeignKey[Any, Any]]] = {}
        for model in hooked_models():
            for through in _m2m_throughs(model):
                if not through._meta.auto_created:
                    table[through] = [
                        f for f in through._meta.fields if isinstance(f, models.ForeignKey)
                    ]
        _throughs = table
    return _throughs


def _m2m_throughs(model: type[models.Model]) -> list[type[models.Model]]:
    forward = [f.remote_field.through for f in model._meta.many_to_many]
    reverse = [r.through for r in model._meta.related_objects if r.many_to_many]  # type: ignore[attr-defined]
    return [t for t in forward + reverse if isinstance(t, type)]


@on_reload
def _forget_models() -> None:
    global _hooked, _throughs
    _hooked = None
    _throughs = None


def tags_for(instance: models.Model) -> tuple[str, ...]:
    """The tags a change of ``instance`` purges: itself, its model, registered extras."""
    found: list[object] = [type(instance)]
    if instance.pk is not None:
        found.append(instance)
    for extra in hooked_models().get(type(instance), ()):
        found.append(extra(instance))
    return normalize_tags(found)


# -- receivers ------------------------------------------------------------------------------


def _on_save(sender: type[models.Model], instance: models.Model, **kwargs: Any) -> None:
    if sender in hooked_models():
        purge_tags(*tags_for(instance))
    elif sender in _through_models():
        purge_tags(*_through_row_tags(sender, instance))


def _on_pre_delete(sender: type[models.Model], instance: models.Model, **kwargs: Any) -> None:
    # Django deletes m2m rows without m2m_changed: note the linked instances now.
    if sender in hooked_models():
        setattr(instance, _LINKED_ATTR, _linked_tags(instance))


def _on_delete(sender: type[models.Model], instance: models.Model, **kwargs: Any) -> None:
    if sender in hooked_models():
        purge_tags(*tags_for(instance), *getattr(instance, _LINKED_ATTR, ()))
    elif sender in _through_models():
        purge_tags(*_through_row_tags(sender, instance))


def _on_m2m_changed(
    sender: type[models.Model],
    instance: models.Model,
    action: str,
    model: type[models.Model],
    pk_set: set[Any] | None,
    **kwargs: Any,
) -> None:
    hooked = hooked_models()
    if type(instance) not in hooked and model not in hooked:
        return
    if action == "pre_clear":
        # The rows are about to go: remember who was on the other side.
        setattr(instance, _LINKED_ATTR, _linked_tags(instance))
        return
    if action not in ("post_add", "post_remove", "post_clear"):
        return
    other = (
        [f"{model_tag(model)}:{pk}" for pk in pk_set]
        if pk_set is not None
        else list(getattr(instance, _LINKED_ATTR, ()))
    )
    purge_tags(*tags_for(instance), model, *other)


def _linked_tags(instance: models.Model) -> tuple[str, ...]:
    """Tags of every instance linked to ``instance`` through a many-to-many relation."""
    found: list[str] = []
    for through in _m2m_throughs(type(instance)):
        fks = [f for f in through._meta.fields if isinstance(f, models.ForeignKey)]
        for fk in fks:
            if fk.related_model is not type(instance):
                continue
            for other in fks:
                if other is fk:
                    continue
                target = other.related_model
                pks = through._default_manager.filter(**{fk.name: instance.pk}).values_list(
                    other.attname, flat=True
                )
                found.extend(f"{model_tag(target)}:{pk}" for pk in pks)
                found.append(model_tag(target))
    return tuple(dict.fromkeys(found))


def _through_row_tags(through: type[models.Model], row: models.Model) -> list[str]:
    found: list[str] = []
    for fk in _through_models()[through]:
        target = fk.related_model
        pk = getattr(row, fk.attname)
        found.append(model_tag(target))
        if pk is not None:
            found.append(f"{model_tag(target)}:{pk}")
    return found


def connect() -> None:
    """Connect the receivers (once; called from the app's ``ready()``)."""
    post_save.connect(_on_save, dispatch_uid="pagecache.hooks.save")
    pre_delete.connect(_on_pre_delete, dispatch_uid="pagecache.hooks.pre_delete")
    post_delete.connect(_on_delete, dispatch_uid="pagecache.hooks.delete")
    m2m_changed.connect(_on_m2m_changed, dispatch_uid="pagecache.hooks.m2m")


# -- bulk operations ------------------------------------------------------------------------


def purge_queryset(queryset: models.QuerySet[Any]) -> None:
    """Purge what saving each row ``queryset`` selects would: the model tag, every
    instance tag, and the tags ``register(model, tags=...)`` adds for each row."""
    model = queryset.model
    pks = list(queryset.values_list("pk", flat=True))
    _purge_pks(model, pks, _registered_tags(model, pks))


class PurgingQuerySet(models.QuerySet[ModelT]):
    """A QuerySet whose bulk writes purge like saves do (they send no signals)."""

    def update(self, **kwargs: Any) -> int:
        pks = list(self.values_list("pk", flat=True))
        before = _registered_tags(self.model, pks)  # e.g. the section a row leaves
        count = super().update(**kwargs)
        _purge_pks(self.model, pks, before + _registered_tags(self.model, pks))
        return count

    def delete(self) -> tuple[int, dict[str, int]]:
        pks = list(self.values_list("pk", flat=True))
        before = _registered_tags(self.model, pks)
        result = super().delete()
        _purge_pks(self.model, pks, before)
        return result

    def bulk_create(self, objs: Iterable[ModelT], *args: Any, **kwargs: Any) -> list[ModelT]:
        created = super().bulk_create(objs, *args, **kwargs)
        _purge_pks(
            self.model,
            [obj.pk for obj in created if obj.pk is not None],
            _registered_tags_of(self.model, created),
        )
        return created

    def bulk_update(self, objs: Iterable[ModelT], fields: Any, *args: Any, **kwargs: Any) -> int:
        objs = list(objs)
        pks = [obj.pk for obj in objs]
        before = _registered_tags(self.model, pks)
        count = super().bulk_update(objs, fields, *args, **kwargs)
        _purge_pks(self.model, pks, before + _registered_tags_of(self.model, objs))
        return count


def _purge_pks(model: type[models.Model], pks: Iterable[Any], extra: Iterable[object] = ()) -> None:
    label = model_tag(model)
    purge_tags(model, *(f"{label}:{pk}" for pk in pks), *normalize_tags(extra))


def _registered_tags(model: type[models.Model], pks: list[Any]) -> list[object]:
    """The ``register(model, tags=...)`` tags of the rows with ``pks`` as they are now (a
    query only when the model has such callables)."""
    if not pks or not hooked_models().get(model):
        return []
    rows = model._default_manager.filter(pk__in=pks).iterator(chunk_size=2000)
    return _registered_tags_of(model, rows)


def _registered_tags_of(model: type[models.Model], rows: Iterable[models.Model]) -> list[object]:
    callables = hooked_models().get(model, [])
    return [extra(row) for row in rows for extra in callables] if callables else []


#: ``objects = PurgingManager()`` gives a model bulk writes that purge.
PurgingManager = models.Manager.from_queryset(PurgingQuerySet)
