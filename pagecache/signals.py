"""pagecache's own signals.

``tags_purged`` is sent after every delivered purge with ``tags`` (a tuple of str) and
``soft`` (bool), so CDN purgers, metrics or audit logs can follow purges.
"""

from __future__ import annotations

from django.dispatch import Signal

tags_purged = Signal()
