"""Fastly: pages name their tags in ``Surrogate-Key`` (space-separated surrogate keys); a
purge is one batch purge call per 256 keys, soft when the purge is soft.

Fastly's documented limits (developer.fastly.com, "Surrogate-Key" header and "VCL
constraints and limitations"): a key is at most 1,024 bytes and the header at most
16,384 bytes; Fastly ignores the key being parsed when either limit is reached *and every
key after it*, and purge calls citing a longer key fail. The batch purge API
(``POST /service/{service_id}/purge``) takes up to 256 keys per call.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any
from urllib.parse import quote

from .base import Purger, PurgerError, http_request
from .encoding import bounded, checked_str, checked_url, percent_encode

DEFAULT_API_URL = "https://api.fastly.com"


class FastlyPurger(Purger):
    """Purges a Fastly service by surrogate key.

    OPTIONS: ``SERVICE_ID`` and ``API_TOKEN`` (a token with the ``purge_select`` scope),
    both required; ``API_URL`` (default ``https://api.fastly.com``); ``TIMEOUT``,
    ``RETRIES``.
    """

    tag_header = "Surrogate-Key"
    separator = " "
    max_header_bytes = 16_384
    max_tags_per_call = 256
    #: The most bytes one surrogate key may have.
    max_tag_bytes = 1_024

    def __init__(
        self,
        *,
        SERVICE_ID: str | None = None,
        API_TOKEN: str | None = None,
        API_URL: str = DEFAULT_API_URL,
        **options: Any,
    ) -> None:
        super().__init__(**options)
        name = type(self).__name__
        self.service_id = checked_str(name, "SERVICE_ID", SERVICE_ID, "the Fastly service ID")
        self.api_token = checked_str(
            name, "API_TOKEN", API_TOKEN, "a Fastly API token with the purge_select scope"
        )
        self.api_url = checked_url(name, API_URL, DEFAULT_API_URL)
        self.purge_url = f"{self.api_url}/service/{quote(self.service_id, safe='')}/purge"

    def __repr__(self) -> str:
        return f"<{type(self).__name__} service {self.service_id}>"

    def encode_tag(self, tag: str) -> str:
        """A surrogate key: ASCII without spaces (``%``, spaces and non-ASCII
        percent-encoded), at most 1,024 bytes (a longer one keeps its head and a digest).

        >>> p = FastlyPurger(SERVICE_ID="s", API_TOKEN="t")
        >>> p.encode_tag("blog.article:42"), p.encode_tag("café"), len(p.encode_tag("é" * 250))
        ('blog.article:42', 'caf%C3%A9', 1024)
        """
        return bounded(percent_encode(tag), self.max_tag_bytes)

    def purge_batch(self, tags: Sequence[str], soft: bool) -> None:
        headers = {
            "Fastly-Key": self.api_token,
            "Accept": "application/json",
            "Content-Type": "application/json",
            "User-Agent": "pagecache",
        }
        if soft:
            # Marks the objects stale instead of removing them (served per stale-* rules).
            headers["Fastly-Soft-Purge"] = "1"
        body = json.dumps({"surrogate_keys": list(tags)}).encode()
        status, reply = http_request(
            "POST", self.purge_url, headers=headers, body=body, timeout=self.timeout
        )
        # Fastly answers a batch purge with {"<key>": "<purge id>", ...}.
        try:
            ok = 200 <= status < 300 and isinstance(json.loads(reply), dict)
        except ValueError:
            ok = False
        if not ok:
            raise PurgerError(
                f"POST {self.purge_url}: unexpected reply: HTTP {status} {reply[:200]!r}"
            )
