"""The durable purge record: a purge that may not have reached the cache yet.

A row is written inside the transaction that changed the data (or, outside one, when a
purge could not be delivered), and deleted by whichever process delivers it; see
:mod:`pagecache.purging.outbox`. The table is empty except around faults and commits.
"""

from __future__ import annotations

from django.db import models


class PurgeRecord(models.Model):
    id = models.BigAutoField(primary_key=True)
    #: The purged tags, space-separated (tags never contain whitespace).
    tags = models.TextField()
    soft = models.BooleanField(default=False)
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        db_table = "pagecache_purgerecord"
        ordering = ["id"]
        verbose_name = "recorded purge"

    def __str__(self) -> str:
        return f"{'soft ' if self.soft else ''}purge of {self.tags}"
