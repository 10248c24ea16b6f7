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
from .middleware import MIDDLEWARE_PATH

if TYPE_CHECKING:
    from django.apps import AppConfig

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
E004 = Error(
    "PAGECACHE['MODELS'] names {label!r}, which is not an installed model.",
    hint='Use "app_label.ModelName" of a model in INSTALLED_APPS, or remove the entry.',
    id="pagecache.E004",
)
E005 = Error(
    "PAGECACHE['VARY_ON_REQUEST'] names {path!r}, which is not an importable callable: {problem}",
    hint="Give the dotted path of a function f(request) -> str, e.g. 'mysite.keys.time_zone'.",
    id="pagecache.E005",
)
E006 = Error(
    "PAGECACHE['PURGERS'] item {item!r} cannot be used: {problem}",
    hint=(
        'Give a dotted path, or {{"BACKEND": "pagecache.purgers.VarnishXkeyPurger", '
        '"OPTIONS": {{...}}}} with the options that purger takes (see docs/edge.md).'
    ),
    id="pagecache.E006",
)
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
W003 = CheckWarning(
    "PAGECACHE['KEY_PREFIX'] ({prefix!r}) contains '{{': on a Redis Cluster it is a hash tag, "
    "so every key pagecache writes lands in one slot, on one node.",
    hint="Use a prefix without braces; pagecache spreads its keys over the cluster itself.",
    id="pagecache.W003",
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


@register()
def check_key_prefix(
    app_configs: Sequence[AppConfig] | None = None, **kwargs: Any
) -> list[CheckMessage]:
    """pagecache.W003: a KEY_PREFIX that would be a Redis Cluster hash tag."""
    prefix = _raw_pagecache().get("KEY_PREFIX", "pc")
    if isinstance(prefix, str) and "{" in prefix and "}" in prefix.split("{", 1)[1]:
        return [_message(W003, prefix=prefix)]
    return []


@register()
def check_models(
    app_configs: Sequence[AppConfig] | None = None, **kwargs: Any
) -> list[CheckMessage]:
    """pagecache.E004: a ``PAGECACHE['MODELS']`` entry that is not an installed model."""
    from django.apps import apps

    labels = _raw_pagecache().get("MODELS")
    if not isinstance(labels, list | tuple) or not conf.OPTIONS["MODELS"].is_valid(labels):
        return []  # E001 reports the type
    messages = []
    for label in labels:
        try:
            apps.get_model(label)
        except (LookupError, ValueError):
            messages.append(_message(E004, label=label))
    return messages


@register()
def check_vary_on_request(
    app_configs: Sequence[AppConfig] | None = None, **kwargs: Any
) -> list[CheckMessage]:
    """pagecache.E005: a ``VARY_ON_REQUEST`` entry that does not import as a callable."""
    from django.utils.module_loading import import_string

    paths = _raw_pagecache().get("VARY_ON_REQUEST")
    if paths is None or not conf.OPTIONS["VARY_ON_REQUEST"].is_valid(paths):
        return []  # E001 reports the type
    messages = []
    for path in paths:
        try:
            found = import_string(path)
        except ImportError as exc:
            messages.append(_message(E005, path=path, problem=str(exc)))
            continue
        if not callable(found):
            messages.append(_message(E005, path=path, problem="it is not callable"))
    return messages


@register()
def check_purgers(
    app_configs: Sequence[AppConfig] | None = None, **kwargs: Any
) -> list[CheckMessage]:
    """pagecache.E006: a ``PURGERS`` item that does not build a purger."""
    from .purging import edge

    items = _raw_pagecache().get("PURGERS")
    if items is None or not conf.OPTIONS["PURGERS"].is_valid(items):
        return []  # E001 reports the type
    messages = []
    for item in items:
        try:
            edge.load(item)
        except Exception as exc:
            messages.append(_message(E006, item=item, problem=f"{type(exc).__name__}: {exc}"))
    return messages


# -- deploy checks: the Redis server behind the cache ---------------------------------------

MIN_REDIS_VERSION = (6, 2)

W010 = CheckWarning(
    "The pagecache Redis server runs version {version}; pagecache needs Redis 6.2 or newer.",
    hint="Upgrade Redis to 6.2 or newer (7.x recommended).",
    id="pagecache.W010",
)
W011 = CheckWarning(
    "The pagecache Redis server has maxmemory 0: the cache grows without bound.",
    hint=(
        "Set maxmemory (e.g. CONFIG SET maxmemory 1gb, or in redis.conf) with "
        "maxmemory-policy allkeys-lru, so old pages are evicted instead of filling memory."
    ),
    id="pagecache.W011",
)
W012 = CheckWarning(
    "The pagecache Redis server's maxmemory-policy is noeviction: once it is full, every "
    "cache write fails.",
    hint="Set maxmemory-policy allkeys-lru (or volatile-lru); pagecache is safe under eviction.",
    id="pagecache.W012",
)
E007 = Error(
    "CACHES[{alias!r}] points at a Redis Cluster node through a single-server client: "
    "nothing can be cached there and every purge fails.",
    hint=(
        "Use BACKEND 'pagecache.backends.RedisClusterCache' with the cluster's nodes as "
        "LOCATION (docs/scaling.md)."
    ),
    id="pagecache.E007",
)
E008 = Error(
    "The client of CACHES[{alias!r}] cannot be built, so nothing is cached: {error}",
    hint=(
        "For a Redis Cluster use BACKEND 'pagecache.backends.RedisClusterCache' "
        "(django-redis has no cluster client); see docs/scaling.md."
    ),
    id="pagecache.E008",
)
W013 = CheckWarning(
    "The pagecache Redis server could not be reached to check its configuration: {error}",
    hint="Check the LOCATION of CACHES[{alias!r}] and that Redis is running.",
    id="pagecache.W013",
)


def _unreachable(exc: Exception) -> bool:
    """Whether building a client failed because no server answered (not a bad setup)."""
    from redis.exceptions import ConnectionError, TimeoutError

    return isinstance(exc, ConnectionError | TimeoutError | OSError) or (
        "cannot be connected" in str(exc)
    )


def redis_version(text: str) -> tuple[int, ...]:
    """``"7.0.15"`` -> ``(7, 0, 15)``; unparsable parts count as 0.

    >>> redis_version("6.0.9") < MIN_REDIS_VERSION
    True
    """
    return tuple(int(part) if part.isdigit() else 0 for part in text.split("."))


@register(deploy=True)
def check_redis_server(
    app_configs: Sequence[AppConfig] | None = None, **kwargs: Any
) -> list[CheckMessage]:
    """pagecache.W010-W013, E007, E008: the Redis server's version and memory settings, and a
    cluster node reached through a single-server client."""
    from django.core.cache import caches

    from .stores.select import built_redis_client

    alias = _cache_alias()
    if alias not in _caches():
        return []  # E003
    try:
        client = built_redis_client(caches[alias])
    except Exception as exc:
        error = f"{type(exc).__name__}: {exc}"
        if _unreachable(exc):  # a cluster client connects as it is built
            return [_message(W013, error=error, alias=alias)]
        return [_message(E008, alias=alias, error=error)]
    if client is None:
        return []  # not Redis: nothing to check
    from .exceptions import StoreUnavailable
    from .stores.redis import is_cluster, probe_server

    try:
        version, config, cluster_node = probe_server(client)
    except StoreUnavailable as exc:
        return [_message(W013, error=exc, alias=alias)]
    messages = []
    if cluster_node and not is_cluster(client):
        messages.append(_message(E007, alias=alias))
    if redis_version(version) < MIN_REDIS_VERSION:
        messages.append(_message(W010, version=version))
    if str(config.get("maxmemory", "")) == "0":
        messages.append(_message(W011))  # its hint covers the policy too
    elif config.get("maxmemory-policy") == "noeviction":
        messages.append(_message(W012))
    return messages
