"""The stores: the only code that talks to a cache (see :mod:`pagecache.stores.base`)."""

from .base import Store
from .select import get_store

__all__ = ["Store", "get_store"]
