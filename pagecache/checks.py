"""System checks for pagecache's configuration (``manage.py check``).

One function per problem, each registered with Django's check framework and each
returning messages built from the module-level constants below, so tests compare ids
(``pagecache.E001``) rather than wording. Checks read the raw Django settings and must
never raise on bad input: reporting bad input is their whole job. Type validation of the
``PAGECACHE`` dict itself belongs to :func:`pagecache.conf.validate`; these functions only
turn its problems into messages.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.core.checks import CheckMessage, Error, register
from django.core.checks import Warning as CheckWarning

from . import conf

if TYPE_CHECKING:
    from django.apps import AppConfig

MIDDLEWARE_PATH = "pagecache.middleware.PageCacheMiddleware"
LOCMEM_BACKEND = "django.core.cache.backends.locmem.LocMemCache"

E001 = Error(
    "{problem}",
    hint="Fix the value in settings.PAGECACHE; until then pagecache uses that key's default.",
    id="pagecache.E001",
)
E002 = Error(
    "{problem}",
    hint="Remove the key or correct its spelling; known keys: {known}.",
    id="pagecache.E002",
)
E003 = Error(
    "PAGECACHE['CACHE'] is {alias!r}, but settings.CACHES has no cache with that alias.",
    hint="Add a {alias!r} entry to CACHES or set PAGECACHE['CACHE'] to one of: {aliases}.",
    id="pagecache.E003",
)
# pagecache.E004 is reserved: a PAGECACHE['MODELS'] entry that is not an installed model.
W001 = CheckWarning(
    "pagecache.middleware.PageCacheMiddleware is in MIDDLEWARE at position {index}, not first.",
    hint=(
        "Put it first (outermost), so that cache hits skip the other middleware and every "
        "response it stores has passed through all of them."
    ),
    id="pagecache.W001",
)
W002 = CheckWarning(
    "PAGECACHE['CACHE'] ({alias!r}) uses LocMemCache, which is not shared between processes: "
    "a purge in one process does not reach the pages and fragments cached by the others.",
    hint=(
        "Use Redis (django_redis.cache.RedisCache or django.core.cache.backends.redis."
        "RedisCache) if the site runs more than one process; otherwise silence pagecache.W002."
    ),
    id="pagecache.W002",
)


def _message(template: CheckMessage, obj: object = None, **values: object) -> CheckMessage:
    """A copy of ``template`` with its message and hint filled in from ``values``."""
    message = copy.copy(template)
    message.msg = template.msg.format(**values)
    message.hint = template.hint.format(**values) if template.hint else template.hint
    message.obj = obj
    return message


def _raw_pagecache() -> Mapping[str, Any]:
    raw = getattr(settings, "PAGECACHE", None)
    return raw if isinstance(raw, Mapping) else {}


def _cache_alias() -> str:
    """The alias pagecache will use: the configured one if valid, else the default."""
    alias = _raw_pagecache().get("CACHE")
    if conf.OPTIONS["CACHE"].is_valid(alias):
        return str(alias)
    return str(conf.OPTIONS["CACHE"].default())


def _caches() -> Mapping[str, Any]:
    caches = getattr(settings, "CACHES", None)
    return caches if isinstance(caches, Mapping) else {}


@register()
def check_setting_types(
    app_configs: Sequence[AppConfig] | None = None, **kwargs: Any
) -> list[CheckMessage]:
    """pagecache.E001: a ``PAGECACHE`` value of the wrong type."""
    problems = conf.validate(getattr(settings, "PAGECACHE", None))
    return [_message(E001, problem=p.message) for p in problems if not p.unknown]


@register()
def check_unknown_settings(
    app_configs: Sequence[AppConfig] | None = None, **kwargs: Any
) -> list[CheckMessage]:
    """pagecache.E002: a ``PAGECACHE`` key pagecache does not know."""
    problems = conf.validate(getattr(settings, "PAGECACHE", None))
    known = ", ".join(conf.OPTIONS)
    return [_message(E002, problem=p.message, known=known) for p in problems if p.unknown]


@register()
def check_cache_alias(
    app_configs: Sequence[AppConfig] | None = None, **kwargs: Any
) -> list[CheckMessage]:
    """pagecache.E003: ``PAGECACHE['CACHE']`` names no cache in ``CACHES``."""
    alias = _cache_alias()
    caches = _caches()
    if alias in caches:
        return []
    aliases = ", ".join(repr(str(a)) for a in caches) or "(none defined)"
    return [_message(E003, alias=alias, aliases=aliases)]


@register()
def check_middleware_first(
    app_configs: Sequence[AppConfig] | None = None, **kwargs: Any
) -> list[CheckMessage]:
    """pagecache.W001: the middleware is installed but not outermost."""
    middleware = getattr(settings, "MIDDLEWARE", None)
    if not isinstance(middleware, list | tuple) or MIDDLEWARE_PATH not in middleware:
        return []
    index = list(middleware).index(MIDDLEWARE_PATH)
    if index == 0:
        return []
    return [_message(W001, index=index)]


@register()
def check_cache_is_shared(
    app_configs: Sequence[AppConfig] | None = None, **kwargs: Any
) -> list[CheckMessage]:
    """pagecache.W002: the pagecache cache is process-local (LocMemCache)."""
    alias = _cache_alias()
    config = _caches().get(alias)
    if not isinstance(config, Mapping) or config.get("BACKEND") != LOCMEM_BACKEND:
        return []
    return [_message(W002, alias=alias)]
