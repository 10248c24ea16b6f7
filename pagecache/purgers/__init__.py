"""Purgers for the caches in front of Django (``PAGECACHE["PURGERS"]``, SPEC §11)."""

from __future__ import annotations

from .base import ALL, Purger, PurgerError
from .cloudflare import CloudflarePurger
from .fastly import FastlyPurger
from .varnish import VarnishXkeyPurger

__all__ = [
    "ALL",
    "CloudflarePurger",
    "FastlyPurger",
    "Purger",
    "PurgerError",
    "VarnishXkeyPurger",
]
