"""pagecache: page and fragment caching for Django on Redis, with tag-based purging."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__all__ = [
    # caching views
    "cache_page",
    "exempt",
    # caching fragments
    "cached_fragment",
    "acached_fragment",
    "rendering",
    # tags and purging
    "add_tags",
    "model_tag",
    "purge_tags",
    "apurge_tags",
    # purge hooks
    "register",
    "PurgingManager",
    "PurgingQuerySet",
    "purge_queryset",
    # errors
    "PageCacheError",
    "PurgeError",
    "InvalidTag",
]

# Imported lazily so that `import pagecache` (e.g. from settings.py) never loads Django models.
_LAZY = {
    "cache_page": "pagecache.decorators",
    "exempt": "pagecache.decorators",
    "cached_fragment": "pagecache.fragments",
    "acached_fragment": "pagecache.fragments",
    "rendering": "pagecache.fragments",
    "add_tags": "pagecache.core.render",
    "model_tag": "pagecache.core.tags",
    "purge_tags": "pagecache.purging.purge",
    "apurge_tags": "pagecache.purging.purge",
    "register": "pagecache.purging.model_hooks",
    "PurgingManager": "pagecache.purging.model_hooks",
    "PurgingQuerySet": "pagecache.purging.model_hooks",
    "purge_queryset": "pagecache.purging.model_hooks",
    "PageCacheError": "pagecache.exceptions",
    "PurgeError": "pagecache.exceptions",
    "InvalidTag": "pagecache.exceptions",
}

if TYPE_CHECKING:
    from .core.render import add_tags
    from .core.tags import model_tag
    from .decorators import cache_page, exempt
    from .exceptions import InvalidTag, PageCacheError, PurgeError
    from .fragments import acached_fragment, cached_fragment, rendering
    from .purging.model_hooks import PurgingManager, PurgingQuerySet, purge_queryset, register
    from .purging.purge import apurge_tags, purge_tags


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'pagecache' has no attribute {name!r}")
    from importlib import import_module

    return getattr(import_module(module), name)
