"""Cloudflare: pages name their tags in ``Cache-Tag`` (comma-separated cache-tags); a purge
is one ``purge_cache`` call per 30 tags.

Cloudflare's documented format (developers.cloudflare.com, "Purge cache by cache-tags"):
tags are separated by commas; spaces are not allowed in a tag and whitespace around tags
is removed; tags are case-insensitive (``Tag1`` and ``tag1`` are one tag, so two pagecache
tags differing only in case purge each other at Cloudflare: more is purged, never less);
the header holds at most 16 KB after its name ("approximately 1,000 unique tags"); a tag
named in a purge call is at most 1,024 characters. Tags per call: the API reference long
said 30 tags per call; the limits table now says 100 operations per request on every plan
(more for some Enterprise accounts). 30 is accepted under both.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from typing import Any
from urllib.parse import quote

from .base import Purger, PurgerError, http_request
from .encoding import bounded, checked_str, checked_url, fit_counted, percent_encode

logger = logging.getLogger("pagecache")

DEFAULT_API_URL = "https://api.cloudflare.com/client/v4"


class CloudflarePurger(Purger):
    """Purges a Cloudflare zone by cache-tag.

    OPTIONS: ``ZONE_ID`` and ``API_TOKEN`` (an API token with the Zone / Cache Purge / Purge
    permission), both required; ``API_URL`` (default
    ``https://api.cloudflare.com/client/v4``); ``TIMEOUT``, ``RETRIES``.

    Cloudflare has no soft purge: a soft purge is sent as a (hard) purge. That is safe:
    the pages leave Cloudflare's cache, and the next request for one reaches pagecache,
    which serves its stale copy (marked uncacheable downstream) while it re-renders, or
    the fresh page; nobody is served anything older than a soft purge would allow.
    """

    tag_header = "Cache-Tag"
    separator = ","
    # "16 KB": read as 16,000 bytes, which also holds if Cloudflare means 16,384.
    max_header_bytes = 16_000
    #: Cloudflare's "approximately 1,000 unique tags" per header, taken as a hard limit.
    max_header_tags = 1_000
    max_tags_per_call = 30
    #: The most characters one tag in a purge call may have.
    max_tag_length = 1_024

    def __init__(
        self,
        *,
        ZONE_ID: str | None = None,
        API_TOKEN: str | None = None,
        API_URL: str = DEFAULT_API_URL,
        **options: Any,
    ) -> None:
        super().__init__(**options)
        name = type(self).__name__
        self.zone_id = checked_str(name, "ZONE_ID", ZONE_ID, "the Cloudflare zone ID")
        self.api_token = checked_str(
            name, "API_TOKEN", API_TOKEN, "a Cloudflare API token with the Cache Purge permission"
        )
        self.api_url = checked_url(name, API_URL, DEFAULT_API_URL)
        self.purge_url = f"{self.api_url}/zones/{quote(self.zone_id, safe='')}/purge_cache"

    def __repr__(self) -> str:
        return f"<{type(self).__name__} zone {self.zone_id}>"

    def encode_tag(self, tag: str) -> str:
        """A cache-tag: ASCII without commas or spaces (``%``, ``,``, whitespace and non-ASCII
        percent-encoded), at most 1,024 characters (a longer one keeps its head and a digest).

        >>> p = CloudflarePurger(ZONE_ID="z", API_TOKEN="t")
        >>> p.encode_tag("blog.article:42"), p.encode_tag("a,b"), p.encode_tag("café")
        ('blog.article:42', 'a%2Cb', 'caf%C3%A9')
        """
        return bounded(percent_encode(tag, also=","), self.max_tag_length)

    def header_value(self, tags: Sequence[str]) -> str:
        """The tags comma-separated, rolled up to fit 16 KB and 1,000 tags (logged)."""
        value, rolled = fit_counted(
            tags, self.separator, self.max_header_bytes, self.max_header_tags
        )
        if rolled:
            logger.info(
                "pagecache: %d tags do not fit %s's %s header (%d bytes, %d tags): rolled up to %r",
                len(tags),
                type(self).__name__,
                self.tag_header,
                self.max_header_bytes,
                self.max_header_tags,
                value[:200],
            )
        return value

    def purge_batch(self, tags: Sequence[str], soft: bool) -> None:
        """Purge ``tags``; ``soft`` is ignored (see the class docstring)."""
        headers = {
            "Authorization": f"Bearer {self.api_token}",
            "Content-Type": "application/json",
            "Accept": "application/json",
            "User-Agent": "pagecache",
        }
        body = json.dumps({"tags": list(tags)}).encode()
        status, reply = http_request(
            "POST", self.purge_url, headers=headers, body=body, timeout=self.timeout
        )
        # Cloudflare's envelope: {"success": bool, "errors": [...], "messages": [...],
        # "result": ...}; "success": false is a failure whatever the HTTP status.
        try:
            answer = json.loads(reply)
        except ValueError:
            answer = None
        if isinstance(answer, dict) and answer.get("success") is True and 200 <= status < 300:
            return
        errors = answer.get("errors") if isinstance(answer, dict) else None
        detail = json.dumps(errors)[:300] if errors else repr(reply[:200])
        raise PurgerError(f"POST {self.purge_url}: HTTP {status}, not a success: {detail}")
