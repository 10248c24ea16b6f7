"""Varnish with vmod xkey: ``PURGE`` requests naming tags in ``xkey-purge`` (hard) or
``xkey-softpurge`` (soft: objects stay for grace, revalidated), to one or more servers.
docs/varnish.vcl is the VCL these requests expect."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from .base import Purger, PurgerError, http_request


class VarnishXkeyPurger(Purger):
    # Varnish refuses a response header over http_resp_hdr_len (8 KB by default) with a 503.
    tag_header = "xkey"
    separator = " "
    max_header_bytes = 7000
    max_tags_per_call = 500

    def __init__(self, *, SERVERS: Sequence[str] = (), **options: Any) -> None:
        super().__init__(**options)
        if isinstance(SERVERS, str) or not SERVERS or not all(
            isinstance(s, str) and s.startswith(("http://", "https://")) for s in SERVERS
        ):
            raise ValueError(f"SERVERS must be a list of http(s):// URLs, not {SERVERS!r}")
        self.servers = [s.rstrip("/") + "/" for s in SERVERS]

    def batches(self, tags: Sequence[str]) -> list[list[str]]:
        # The PURGE request's header has the same 8 KB limit (http_req_hdr_len).
        out: list[list[str]] = [[]]
        size = 0
        for tag in tags:
            if out[-1] and (size + len(tag) + 1 > self.max_header_bytes):
                out.append([])
                size = 0
            out[-1].append(tag)
            size += len(tag) + 1
        return out if out[0] else []

    def purge_batch(self, tags: Sequence[str], soft: bool) -> None:
        header = "xkey-softpurge" if soft else "xkey-purge"
        failures = []
        for server in self.servers:  # every server, even after one failed
            try:
                http_request(
                    "PURGE", server, headers={header: " ".join(tags)}, timeout=self.timeout
                )
            except PurgerError as exc:
                failures.append(str(exc))
        if failures:
            raise PurgerError("; ".join(failures))
