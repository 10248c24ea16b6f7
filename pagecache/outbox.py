"""Durable purge records in the database: the purges a process must not take to its grave.

A purge is recorded (a :class:`~pagecache.models.PurgeRecord` row) in two cases:

* inside ``transaction.atomic()``, always, in the same transaction as the data change: if
  the process dies after the commit but before its on-commit purge ran, the row is there.
  Such a row is *due* only after :data:`GRACE` seconds (database time): the committing
  process delivers and announces it itself at commit and deletes the row in the
  background, so the write path pays one ``INSERT`` and no extra commit;
* outside a transaction, when the purge could not be delivered after its retries — due at
  once. A row whose at-commit delivery failed is made due at once, too.

Any process delivers due rows: the background deliverer (:mod:`pagecache.deliverer`) looks
every half second, and ``manage.py pagecache deliver`` does it by hand. For a due row the
delete that removes it decides who announces it, so ``tags_purged`` is sent once. Database
errors never reach the caller of ``purge_tags``: they are logged, and the purge stays in
memory.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from django.db import connections, router, transaction
from django.db.models.functions import Now

from .health import log_failure

if TYPE_CHECKING:
    from .models import PurgeRecord

logger = logging.getLogger("pagecache")

#: Rows read per delivery round.
BATCH = 500
#: Seconds a row written in a transaction is left to the process that wrote it.
GRACE = 10.0


@dataclass(frozen=True, slots=True)
class Record:
    """Where a durable copy of a purge lives: a database alias and a row id."""

    alias: str
    id: int


@dataclass(frozen=True, slots=True)
class Recorded:
    """A recorded purge read back from the database."""

    record: Record
    tags: tuple[str, ...]
    soft: bool


def _model() -> type[PurgeRecord]:
    # Imported late: this module is imported by purge_tags' module, before apps are ready.
    from .models import PurgeRecord

    return PurgeRecord


def aliases() -> list[str]:
    """The databases that may hold purge records (where the model may be migrated)."""
    model = _model()
    return [
        alias
        for alias in connections
        if connections.settings[alias]["ENGINE"] != "django.db.backends.dummy"
        and router.allow_migrate_model(alias, model)
    ]


def record(alias: str, tags: Sequence[str], soft: bool, grace: bool = False) -> Record | None:
    """Write a purge record on ``alias``, inside its current transaction if there is one;
    with ``grace``, due only after :data:`GRACE` seconds.

    A savepoint keeps a failure (no table yet: ``migrate`` not run) from breaking the
    caller's transaction. ``None`` (logged) if the row could not be written.
    """
    model = _model()
    due = Now() + dt.timedelta(seconds=GRACE) if grace else Now()
    try:
        with transaction.atomic(using=alias):
            row = model.objects.using(alias).create(tags=" ".join(tags), soft=soft, due=due)
    except Exception as exc:  # a database error, or no usable database: never the caller's
        log_failure(
            f"record:{alias}",
            "pagecache: could not record the purge of %s in database %r (run migrate?): %s",
            ", ".join(tags),
            alias,
            exc,
            level=logging.ERROR,
        )
        return None
    return Record(alias, int(row.pk))


def make_due(records: Sequence[Record]) -> None:
    """Let any process deliver these records now (their writer could not)."""
    model = _model()
    try:
        for item in records:
            model.objects.using(item.alias).filter(pk=item.id).update(due=Now())
    except Exception as exc:
        log_failure("due", "pagecache: could not mark purge records due: %s", exc)


def claim(records: Sequence[Record]) -> bool | None:
    """Delete delivered records; True if this call removed any (then it announces them),
    False if others had, ``None`` if the database could not be asked (then the rows stay,
    and their next deliverer announces)."""
    model = _model()
    removed = 0
    try:
        for alias, ids in _by_alias(records).items():
            removed += model.objects.using(alias).filter(pk__in=ids).delete()[0]
    except Exception as exc:  # as in record(): never the caller's problem
        log_failure("claim", "pagecache: could not delete delivered purge records: %s", exc)
        return None
    return removed > 0


def recorded(alias: str, limit: int = BATCH) -> list[Recorded]:
    """The oldest due purge records on ``alias`` (raises ``DatabaseError``)."""
    model = _model()
    rows = (
        model.objects.using(alias)
        .filter(due__lte=Now())
        .order_by("id")
        .values_list("id", "tags", "soft")[:limit]
    )
    return [Recorded(Record(alias, pk), tuple(tags.split()), soft) for pk, tags, soft in rows]


def _by_alias(records: Sequence[Record]) -> dict[str, list[int]]:
    grouped: dict[str, list[int]] = {}
    for item in records:
        grouped.setdefault(item.alias, []).append(item.id)
    return grouped
