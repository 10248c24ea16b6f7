"""Durable purge records in the database: the purges a process must not take to its grave.

A purge is recorded (a :class:`~pagecache.models.PurgeRecord` row) in two cases:

* inside ``transaction.atomic()``, always, in the same transaction as the data change: if
  the process dies after the commit but before its on-commit purge ran, the row is there;
* outside a transaction, when the purge could not be delivered after its retries.

Whoever delivers a recorded purge deletes its row; the delete that removes it decides who
announces it (``tags_purged`` is sent once). Any process may deliver: the background
deliverer (:mod:`pagecache.purging.deliverer`) looks for rows every half second, and
``manage.py pagecache deliver`` does it by hand. Database errors never reach the caller of
``purge_tags``: they are logged, and the purge stays in memory.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from django.db import connections, router, transaction

from ..outage import log_failure

if TYPE_CHECKING:
    from ..models import PurgeRecord

logger = logging.getLogger("pagecache")

#: Rows read, and ids deleted, per statement.
BATCH = 500


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
    from ..models import PurgeRecord

    return PurgeRecord


def holds_records(alias: str) -> bool:
    """Whether ``alias`` may hold purge records (the table is migrated there)."""
    return connections.settings[alias][
        "ENGINE"
    ] != "django.db.backends.dummy" and router.allow_migrate_model(alias, _model())


def aliases() -> list[str]:
    """The databases that may hold purge records."""
    return [alias for alias in connections if holds_records(alias)]


def record(alias: str, tags: Sequence[str], soft: bool) -> Record | None:
    """Write a purge record on ``alias``, inside its current transaction if there is one.

    A savepoint keeps a failure (no table yet: ``migrate`` not run) from breaking the
    caller's transaction. ``None`` (logged) if the row could not be written, or ``alias``
    holds no records (a database the router keeps the table off).
    """
    model = _model()
    try:
        if not holds_records(alias):
            return None
        with transaction.atomic(using=alias):
            row = model.objects.using(alias).create(tags=" ".join(tags), soft=soft)
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


def claim(records: Sequence[Record]) -> bool | None:
    """Delete delivered records; True if this call removed any (then it announces them),
    False if others had, ``None`` if the database could not be asked (then the rows stay,
    and their next deliverer announces)."""
    model = _model()
    grouped: dict[str, list[int]] = {}
    for item in records:
        grouped.setdefault(item.alias, []).append(item.id)
    removed = 0
    try:
        for alias, ids in grouped.items():
            for first in range(0, len(ids), BATCH):
                chunk = ids[first : first + BATCH]
                removed += model.objects.using(alias).filter(pk__in=chunk).delete()[0]
    except Exception as exc:  # as in record(): never the caller's problem
        log_failure("claim", "pagecache: could not delete delivered purge records: %s", exc)
        return None
    return removed > 0


def recorded(alias: str, limit: int = BATCH) -> list[Recorded]:
    """The oldest recorded purges on ``alias`` (raises ``DatabaseError``)."""
    model = _model()
    rows = model.objects.using(alias).order_by("id").values_list("id", "tags", "soft")[:limit]
    return [Recorded(Record(alias, pk), tuple(tags.split()), soft) for pk, tags, soft in rows]
