"""Per-view controls: ``@cache_page(ttl, stale_ttl, tags)`` and ``@exempt``.

Under the middleware they only annotate the request's render state (the middleware
stores the page); without the middleware ``@cache_page`` drives the same flow itself.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from functools import wraps
from typing import TYPE_CHECKING, Any, TypeVar

from .pages import serve
from .tags import normalize_tags, render_state

if TYPE_CHECKING:
    from django.http import HttpRequest, HttpResponseBase

View = TypeVar("View", bound=Callable[..., Any])
TagSource = Iterable[object] | str | Callable[..., Iterable[object]]


def _check_seconds(name: str, value: int | None, minimum: int) -> None:
    if value is not None and (
        not isinstance(value, int) or isinstance(value, bool) or value < minimum
    ):
        raise ValueError(
            f"cache_page({name}=...) must be an int >= {minimum} or None, not {value!r}"
        )


def cache_page(
    ttl: int | None = None, stale_ttl: int | None = None, tags: TagSource = ()
) -> Callable[[View], View]:
    """Cache a view's page with its own TTL, stale window and tags.

    ``tags`` is a tag, a list of tags (str, model instance or class), or a callable
    ``(request, *args, **kwargs) -> tags`` for tags that depend on the URL.
    """
    _check_seconds("ttl", ttl, 1)
    _check_seconds("stale_ttl", stale_ttl, 0)
    fixed = () if callable(tags) else normalize_tags([tags])

    def decorator(view: View) -> View:
        @wraps(view)
        def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
            state = render_state(request)
            state.ttl, state.stale_ttl = ttl, stale_ttl
            state.add(fixed)
            if callable(tags):
                state.add(normalize_tags([tags(request, *args, **kwargs)]))
            if state.handled:
                return view(request, *args, **kwargs)  # type: ignore[no-any-return]
            state.handled = True
            return serve(request, lambda req: view(req, *args, **kwargs), outermost=False)

        return wrapper  # type: ignore[return-value]

    return decorator


def exempt(view: View) -> View:
    """Keep a view out of the page cache without touching its headers."""

    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> Any:
        render_state(request).exempt = True
        return view(request, *args, **kwargs)

    return wrapper  # type: ignore[return-value]
