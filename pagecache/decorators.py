"""Per-view controls: ``@cache_page(ttl, stale_ttl, tags)`` and ``@exempt``.

Under the middleware they only annotate the request's render state (the middleware
stores the page); without the middleware ``@cache_page`` drives the same flow itself.

Both keep an ``async def`` view a coroutine function, as Django's own decorators do, and
both raise a ``TypeError`` naming the mistake when put on a class-based view's method
without ``method_decorator`` (they would receive ``self`` where the request belongs).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from functools import wraps
from typing import Any, TypeVar

from asgiref.sync import async_to_sync, iscoroutinefunction, sync_to_async
from django.http import HttpRequest, HttpResponseBase

from .core.render import HANDLED_ATTR, render_state
from .core.tags import normalize_tags
from .serve import serve

View = TypeVar("View", bound=Callable[..., Any])
TagSource = Iterable[object] | str | Callable[..., Iterable[object]]


def _check_seconds(name: str, value: int | None, minimum: int) -> None:
    if value is not None and (
        not isinstance(value, int) or isinstance(value, bool) or value < minimum
    ):
        raise ValueError(
            f"cache_page({name}=...) must be an int >= {minimum} or None, not {value!r}"
        )


def _request_of(decorator: str, view: Callable[..., Any], request: object) -> HttpRequest:
    if not isinstance(request, HttpRequest):
        raise TypeError(
            f"@pagecache.{decorator} on {view.__qualname__} didn't receive an HttpRequest "
            f"(it got {type(request).__name__}). On a class-based view's method, use "
            f"@method_decorator(pagecache.{decorator}) instead."
        )
    return request


def _response_of(view: Callable[..., Any], response: object) -> HttpResponseBase:
    if not isinstance(response, HttpResponseBase):
        raise TypeError(
            f"The view {view.__module__}.{view.__qualname__} didn't return an HttpResponse "
            f"object. It returned {type(response).__name__} instead."
        )
    return response


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

    def annotate(request: HttpRequest, args: Any, kwargs: Any) -> None:
        state = render_state(request)
        state.ttl, state.stale_ttl = ttl, stale_ttl
        state.add(fixed)
        if callable(tags):
            state.add(normalize_tags([tags(request, *args, **kwargs)]))

    def decorator(view: View) -> View:
        if iscoroutinefunction(view):

            @wraps(view)
            async def async_wrapper(request: Any, *args: Any, **kwargs: Any) -> Any:
                annotate(_request_of("cache_page", view, request), args, kwargs)
                if getattr(request, HANDLED_ATTR, False):
                    return _response_of(view, await view(request, *args, **kwargs))
                setattr(request, HANDLED_ATTR, True)
                # The page flow is sync for now: run it in a thread, the view in the loop.
                sync_view = async_to_sync(view)
                return await sync_to_async(serve)(
                    request,
                    lambda req: _response_of(view, sync_view(req, *args, **kwargs)),
                    outermost=False,
                )

            return async_wrapper  # type: ignore[return-value]

        @wraps(view)
        def wrapper(request: Any, *args: Any, **kwargs: Any) -> HttpResponseBase:
            annotate(_request_of("cache_page", view, request), args, kwargs)
            if getattr(request, HANDLED_ATTR, False):
                return _response_of(view, view(request, *args, **kwargs))
            setattr(request, HANDLED_ATTR, True)
            return serve(
                request,
                lambda req: _response_of(view, view(req, *args, **kwargs)),
                outermost=False,
                in_view=True,
            )

        return wrapper  # type: ignore[return-value]

    return decorator


def exempt(view: View) -> View:
    """Keep a view out of the page cache without touching its headers."""
    if iscoroutinefunction(view):

        @wraps(view)
        async def async_wrapper(request: Any, *args: Any, **kwargs: Any) -> Any:
            render_state(_request_of("exempt", view, request)).exempt = True
            return await view(request, *args, **kwargs)

        return async_wrapper  # type: ignore[return-value]

    @wraps(view)
    def wrapper(request: Any, *args: Any, **kwargs: Any) -> Any:
        render_state(_request_of("exempt", view, request)).exempt = True
        return view(request, *args, **kwargs)

    return wrapper  # type: ignore[return-value]
