"""The one place pagecache reads its configuration.

Users write a single ``PAGECACHE`` dict in their Django settings; every key is
optional. :data:`settings` holds the validated, typed result and is rebuilt when
Django's ``setting_changed`` signal fires for ``PAGECACHE``, ``CACHES`` or
``SESSION_COOKIE_NAME`` (so ``override_settings`` works in tests).

Validation lives here too, as :func:`validate`, which returns problems instead of
raising: the system checks report them by key, and at run time an invalid value
falls back to its default, because a typo in settings must never turn every page
into a 500.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from django.conf import settings as django_settings
from django.core.signals import setting_changed
from django.dispatch import receiver

logger = logging.getLogger("pagecache")

DEFAULT_STATUS_CODES = (200, 203, 300, 301, 308, 404, 410)
#: Analytics and advertising cookies: set by scripts in the browser, never read by the site.
DEFAULT_IGNORED_COOKIES = (
    "_ga*",  # Google Analytics (_ga, _ga_<id>)
    "_gid",
    "_gat*",
    "_gcl_*",  # Google Ads
    "_dc_gtm_*",
    "__utm*",  # Urchin / old Google Analytics
    "_fbp",  # Meta
    "_fbc",
    "_hj*",  # Hotjar
    "_pk_*",  # Matomo
    "_clck",  # Microsoft Clarity
    "_clsk",
    "_uet*",  # Microsoft Ads
    "ajs_*",  # Segment
    "mp_*",  # Mixpanel
    "__hs*",  # HubSpot
    "hubspotutk",
    "_ttp",  # TikTok
    "_tt_*",
    "_pin_unauth",  # Pinterest
    "_scid*",  # Snap
)


def _default_bypass_cookies() -> tuple[str, ...]:
    # The messages framework's cookie: a visitor with a pending flash message must get the
    # page rendered for them, or the message is lost on a cached page.
    return (str(getattr(django_settings, "SESSION_COOKIE_NAME", "sessionid")), "messages")


def _is_int(value: object, minimum: int) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= minimum


def _is_positive_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and value > 0


def _is_str_seq(value: object) -> bool:
    return isinstance(value, list | tuple) and all(isinstance(v, str) for v in value)


def _is_status_codes(value: object) -> bool:
    return isinstance(value, list | tuple) and all(_is_int(c, 100) and c <= 599 for c in value)


def _is_optional_header(value: object) -> bool:
    return value is None or (isinstance(value, str) and value.strip() != "" and ":" not in value)


def _is_cache_control(value: object) -> bool:
    return value is None or (
        isinstance(value, str) and value.strip() != "" and not any(c in value for c in "\r\n")
    )


def _is_purgers(value: object) -> bool:
    def item(v: object) -> bool:
        if isinstance(v, str):
            return v != ""
        return (
            isinstance(v, dict)
            and isinstance(v.get("BACKEND"), str)
            and isinstance(v.get("OPTIONS", {}), dict)
            and set(v) <= {"BACKEND", "OPTIONS"}
        )

    return isinstance(value, list | tuple) and all(item(v) for v in value)


def _is_model_labels(value: object) -> bool:
    return isinstance(value, list | tuple) and all(
        isinstance(v, str) and v.count(".") == 1 and all(v.split(".")) for v in value
    )


@dataclass(frozen=True)
class Option:
    """One ``PAGECACHE`` key: its default, a validity test, and what a valid value looks like."""

    default: Callable[[], object]
    is_valid: Callable[[object], bool]
    expected: str


OPTIONS: dict[str, Option] = {
    "CACHE": Option(
        lambda: "default", lambda v: isinstance(v, str) and v != "", "a cache alias (str)"
    ),
    "KEY_PREFIX": Option(
        lambda: "pc",
        lambda v: isinstance(v, str) and v != "" and not any(c.isspace() for c in v),
        "a non-empty str without whitespace",
    ),
    "TTL": Option(lambda: 30, lambda v: _is_int(v, 1), "a positive int (seconds)"),
    "STALE_TTL": Option(lambda: 30, lambda v: _is_int(v, 0), "an int >= 0 (seconds)"),
    "LOCK_TIMEOUT": Option(lambda: 10, _is_positive_number, "a positive number (seconds)"),
    "ANONYMOUS_ONLY": Option(lambda: True, lambda v: isinstance(v, bool), "a bool"),
    "BYPASS_COOKIES": Option(_default_bypass_cookies, _is_str_seq, "a list of cookie names"),
    "STATUS_CODES": Option(
        lambda: DEFAULT_STATUS_CODES,
        _is_status_codes,
        "a list of HTTP status codes (int)",
    ),
    "IGNORED_QUERY_PARAMS": Option(
        lambda: ("utm_*", "gclid", "fbclid"), _is_str_seq, "a list of glob patterns (str)"
    ),
    "IGNORED_COOKIES": Option(
        lambda: DEFAULT_IGNORED_COOKIES, _is_str_seq, "a list of glob patterns (str)"
    ),
    "VARY_ON_REQUEST": Option(
        lambda: (), _is_str_seq, "a list of dotted paths of callables f(request) -> str"
    ),
    "CACHE_CONTROL": Option(
        lambda: "auto",
        _is_cache_control,
        '"auto", a Cache-Control value (str) or None',
    ),
    "PURGERS": Option(
        lambda: (),
        _is_purgers,
        'a list of dotted paths or {"BACKEND": dotted path, "OPTIONS": dict}',
    ),
    "MAX_ENTRY_BYTES": Option(lambda: 1_048_576, lambda v: _is_int(v, 1), "a positive int"),
    "COMPRESSION_DICTIONARY": Option(lambda: True, lambda v: isinstance(v, bool), "a bool"),
    "STATS": Option(lambda: False, lambda v: isinstance(v, bool), "a bool"),
    "STATUS_HEADER": Option(lambda: "X-Cache", _is_optional_header, "a header name (str) or None"),
    "TAG_HEADER": Option(lambda: None, _is_optional_header, "a header name (str) or None"),
    "MODELS": Option(lambda: (), _is_model_labels, 'a list of "app_label.ModelName" strings'),
}


@dataclass(frozen=True)
class Problem:
    """A ``PAGECACHE`` key that is unknown or holds a value of the wrong type."""

    key: str
    message: str
    unknown: bool = False


def validate(raw: object) -> list[Problem]:
    """Return every problem in a ``PAGECACHE`` value; an empty list means it is valid."""
    if raw is None:
        return []
    if not isinstance(raw, Mapping):
        return [Problem("PAGECACHE", f"PAGECACHE must be a dict, not {type(raw).__name__}.")]
    problems = []
    for key, value in raw.items():
        option = OPTIONS.get(key)
        if option is None:
            problems.append(Problem(str(key), f"PAGECACHE[{key!r}] is not a known setting.", True))
        elif not option.is_valid(value):
            problems.append(
                Problem(key, f"PAGECACHE[{key!r}] must be {option.expected}, not {value!r}.")
            )
    return problems


class PageCacheSettings:
    """Typed, validated view of ``settings.PAGECACHE``; attributes are the spec's key names."""

    CACHE: str
    KEY_PREFIX: str
    TTL: int
    STALE_TTL: int
    LOCK_TIMEOUT: float
    ANONYMOUS_ONLY: bool
    BYPASS_COOKIES: tuple[str, ...]
    STATUS_CODES: frozenset[int]
    IGNORED_QUERY_PARAMS: tuple[str, ...]
    IGNORED_COOKIES: tuple[str, ...]
    VARY_ON_REQUEST: tuple[str, ...]
    CACHE_CONTROL: str | None
    PURGERS: tuple[object, ...]
    MAX_ENTRY_BYTES: int
    STATS: bool
    COMPRESSION_DICTIONARY: bool
    STATUS_HEADER: str | None
    TAG_HEADER: str | None
    MODELS: tuple[str, ...]

    def __init__(self) -> None:
        self._loaded = False

    def __getattr__(self, name: str) -> Any:
        # Only reached for attributes not set yet: load lazily, once per reload, so importing
        # pagecache never touches Django settings before they are configured.
        if name.startswith("_") or name not in OPTIONS or self._loaded:
            raise AttributeError(name)
        self._load()
        return getattr(self, name)

    def _load(self) -> None:
        raw = getattr(django_settings, "PAGECACHE", None) or {}
        bad = {p.key for p in validate(raw)}
        if bad:
            logger.warning(
                "pagecache: ignoring invalid settings %s; run manage.py check", sorted(bad)
            )
        if not isinstance(raw, Mapping):
            raw = {}
        for key, option in OPTIONS.items():
            value = raw[key] if key in raw and key not in bad else option.default()
            setattr(self, key, _normalise(key, value))
        self._loaded = True

    def reload(self) -> None:
        """Forget the loaded values; the next attribute access reads Django settings again."""
        for key in OPTIONS:
            self.__dict__.pop(key, None)
        self._loaded = False


def _normalise(key: str, value: Any) -> object:
    # Only called with values that passed validation (or defaults), so the shapes are known.
    if key == "STATUS_CODES":
        return frozenset(value)
    if key in (
        "BYPASS_COOKIES",
        "IGNORED_QUERY_PARAMS",
        "IGNORED_COOKIES",
        "VARY_ON_REQUEST",
        "MODELS",
        "PURGERS",
    ):
        return tuple(value)
    if key == "LOCK_TIMEOUT":
        return float(value)
    return value


settings = PageCacheSettings()

#: Callbacks run after :data:`settings` is reloaded (the store drops its client, for example).
_reload_hooks: list[Callable[[], None]] = []


def on_reload(hook: Callable[[], None]) -> Callable[[], None]:
    """Register ``hook`` to run whenever pagecache's settings or caches change."""
    _reload_hooks.append(hook)
    return hook


#: Django settings whose change invalidates something pagecache derived from settings.
_RELOAD_ON = frozenset(
    (
        "PAGECACHE",
        "CACHES",
        "SESSION_COOKIE_NAME",
        "ALLOWED_HOSTS",
        "DEBUG",
        "USE_X_FORWARDED_HOST",
        "MIDDLEWARE",
        "USE_I18N",
    )
)


@receiver(setting_changed)
def _reload_on_setting_changed(*, setting: str, **kwargs: object) -> None:
    if setting in _RELOAD_ON:
        settings.reload()
        for hook in _reload_hooks:
            hook()
