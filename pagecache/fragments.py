"""The fragment cache shared by the Django template tag, the Jinja2 extension and views.

:func:`cached_fragment` returns a block's HTML from the cache or renders it, with the
same entries, purge clock and failure handling as pages. Its one addition is
**bubbling**: a fragment's tags — its own, and those of fragments nested in it — are
stored with it and handed to the enclosing fragment or page, whether the fragment was
rendered or served from cache. Purging an inner fragment's tag therefore purges every
outer fragment and page that contains it.

Fragments are cached for every visitor, logged-in ones included: put whatever the block
depends on (user, language, page number) in ``vary_on``. A block that uses the CSRF token
is rendered but never stored, since its HTML holds one visitor's token.
"""

from __future__ import annotations

import asyncio
import hashlib
import inspect
import logging
import time
from collections.abc import Awaitable, Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from django.db.models import Model
from django.utils.functional import Promise, empty

from . import clock, dictionary, driver, observe, serve
from .conf import settings
from .core import entry as entries
from .core import keys
from .core.flow import Action, Outcome, Release, Save, StoreOps
from .core.render import RenderState, current_render, render_state
from .core.tags import normalize_tags, to_tag
from .purging import purge

if TYPE_CHECKING:
    from django.http import HttpRequest

logger = logging.getLogger("pagecache")


def source_digest(source: str) -> str:
    """A short digest of a block's template source, part of the fragment key.

    A deploy that changes the markup changes the digest, so the old fragment is never
    served for the new template and nothing needs flushing.
    """
    return hashlib.blake2b(source.encode("utf-8", "surrogatepass"), digest_size=8).hexdigest()


def vary_token(value: object) -> str:
    """A ``VARY_ON`` value as a key part: model instances by class and primary key, the
    anonymous user apart from any user (whatever their username), ``None``, strings and
    numbers apart — each kind with its own prefix, so no value of one kind can spell another.

    >>> from django.contrib.auth.models import AnonymousUser, User
    >>> vary_token(User(pk=3, username="AnonymousUser")), vary_token(AnonymousUser())
    ('m:auth.user:3', 'anonymous')
    >>> vary_token("AnonymousUser"), vary_token(None), vary_token("None"), vary_token(2)
    ('s:AnonymousUser', 'none', 's:None', 'i:2')
    """
    if value is None:
        return "none"
    if isinstance(value, str | Promise):  # lazy translations are text too
        return f"s:{value}"
    if isinstance(value, Model):
        return f"m:{value._meta.label_lower}:{value.pk}"
    if getattr(value, "is_anonymous", False) is True:
        return "anonymous"
    if isinstance(value, bool):
        return f"b:{value}"
    if isinstance(value, int):
        return f"i:{value}"
    return f"o:{type(value).__qualname__}:{value}"


def tags_from_value(value: object) -> tuple[str, ...]:
    """Tags from a template ``tags=`` value: a space-separated string, a model instance or
    class, or a list of those."""
    found: list[str] = []
    stack: list[Any] = [value]
    while stack:
        item = stack.pop()
        if item is None:
            continue
        if isinstance(item, str):
            found.extend(item.split())
        elif isinstance(item, list | tuple | set | frozenset):
            stack.extend(reversed(list(item)))
        else:
            found.append(to_tag(item))
    return normalize_tags(found)


def enclosing_state(request: HttpRequest | None) -> RenderState | None:
    """Where a fragment's tags bubble to: the fragment or page rendering around it."""
    state = current_render.get()
    if state is not None:
        return state
    return render_state(request) if request is not None else None


@contextmanager
def rendering() -> Iterator[RenderState]:
    """Start a render here: fragments cached inside the block start now, not at their lookup.

    Outside a request, a fragment's data is read wherever the caller reads it; wrap those
    reads and the ``cached_fragment`` calls that use them::

        with pagecache.rendering():
            articles = list(Article.objects.all())
            html = pagecache.cached_fragment("list", lambda: render_list(articles), tags=...)

    (Inside a request the start is taken when the request reached pagecache; a
    ``rendering()`` block there changes nothing.) Costs one round trip to read the clock.
    """
    current = current_render.get()
    if current is not None:
        # Already inside a render: its start (or lack of one) holds for the whole of it.
        yield current
        return
    start = driver.current_clock()
    state = RenderState(start=start if start is not None else clock.latest())
    token = current_render.set(state)
    try:
        yield state
    finally:
        current_render.reset(token)


def cached_fragment(
    name: str,
    render: Callable[[], str],
    *,
    vary_on: Sequence[object] = (),
    ttl: int | None = None,
    stale_ttl: int | None = None,
    tags: Iterable[str] = (),
    source: str = "",
    request: HttpRequest | None = None,
    csrf_token: object = None,
) -> str:
    """Return the fragment ``name`` from the cache, or ``render()`` it and store it.

    ``source`` identifies the block's markup (see :func:`source_digest`); ``tags`` must be
    valid tags (see :func:`tags_from_value`); ``request``, when given, receives the
    fragment's tags if no page or fragment render is in progress. ``csrf_token`` is the
    template context's token, if any: a block whose HTML contains it is not stored.
    """
    parent = enclosing_state(request)
    key = _fragment_key(name, vary_on, source)
    outcome = driver.obtain(key)
    served = _served(outcome, parent)
    if served is not None:
        return served
    state = _begin(parent, outcome, tuple(tags))
    token = current_render.set(state)
    csrf_before = _csrf_flag(request, None)
    try:
        html = render()
    except BaseException:
        driver.release(key, outcome.token, uncacheable=True)
        raise
    finally:
        current_render.reset(token)
        csrf_handed_out = _csrf_flag(request, csrf_before)
    serve.run(
        _finish(
            name, key, html, state, outcome, parent, ttl, stale_ttl, csrf_handed_out, csrf_token
        )
    )
    return html


async def acached_fragment(
    name: str,
    render: Callable[[], str | Awaitable[str]],
    *,
    vary_on: Sequence[object] = (),
    ttl: int | None = None,
    stale_ttl: int | None = None,
    tags: Iterable[str] = (),
    source: str = "",
    request: HttpRequest | None = None,
    csrf_token: object = None,
) -> str:
    """:func:`cached_fragment` for async code: the same keys, entries, tags and rules, with
    the lookup and the store awaited on the async Redis store (no thread, no blocking call
    in the event loop). ``render`` may return the HTML or an awaitable of it.

    With a cache that has no async store (Django's other backends), the store calls run
    in a thread (``sync_to_async``), as the middleware's do.
    """
    from asgiref.sync import sync_to_async

    from . import adriver, aserve

    native = adriver.has_async_store()
    parent = enclosing_state(request)
    key = _fragment_key(name, vary_on, source)
    outcome = await (adriver.obtain(key) if native else sync_to_async(driver.obtain)(key))
    served = _served(outcome, parent)
    if served is not None:
        return served
    state = _begin(parent, outcome, tuple(tags))
    token = current_render.set(state)
    csrf_before = _csrf_flag(request, None)
    try:
        result = render()
        html = await result if inspect.isawaitable(result) else result
    except asyncio.CancelledError:
        # Awaiting a release here may be cancelled again: the deliverer frees the lock.
        if outcome.token:
            purge.release_later(key, outcome.token)
        raise
    except BaseException:
        if native:
            await adriver.release(key, outcome.token, uncacheable=True)
        else:
            await sync_to_async(driver.release)(key, outcome.token, uncacheable=True)
        raise
    finally:
        current_render.reset(token)
        csrf_handed_out = _csrf_flag(request, csrf_before)
    ops = _finish(
        name, key, html, state, outcome, parent, ttl, stale_ttl, csrf_handed_out, csrf_token
    )
    await (aserve.run(ops) if native else sync_to_async(serve.run)(ops))
    return html


def _fragment_key(name: str, vary_on: Sequence[object], source: str) -> str:
    return keys.fragment_key(
        settings.KEY_PREFIX, name, [vary_token(v) for v in vary_on], source_digest(source)
    )


def _served(outcome: Outcome, parent: RenderState | None) -> str | None:
    """The cached HTML if the lookup found a servable entry (else ``None``)."""
    if outcome.action not in (Action.HIT, Action.STALE) or outcome.entry is None:
        return None
    observe.served("fragment", outcome.key, outcome.action.name, outcome.entry)
    if parent is not None:
        # The cached part brings its tags with the starts they are judged against, and
        # its expiry: whatever embeds it is stale when it is (SPEC §6.2).
        parent.carry(outcome.entry.tag_starts())
        parent.embed(_fresh_until(outcome))
    return outcome.entry.body.decode("utf-8")


def _begin(parent: RenderState | None, outcome: Outcome, own_tags: tuple[str, ...]) -> RenderState:
    """The render state of a block about to be rendered."""
    # The block's data could be read as soon as the enclosing render began (a view reads
    # its rows before the template reaches the block): start there, not at this lookup —
    # or, with no enclosing render known, when Django started the request, if it did. An
    # enclosing render without a start (the cache was unusable when it began) stores
    # nothing: this lookup's clock may be later than rows the view read meanwhile.
    if parent is not None:
        if parent.open_start:
            parent.begin(outcome.start)  # nothing noted when it began: from here on
        start = parent.start
    else:
        start = clock.arrival_start(outside=outcome.start)
    state = RenderState(start=start)
    state.add(own_tags)
    return state


def _finish(
    name: str,
    key: str,
    html: str,
    state: RenderState,
    outcome: Outcome,
    parent: RenderState | None,
    ttl: int | None,
    stale_ttl: int | None,
    csrf_handed_out: bool,
    csrf_token: object,
) -> StoreOps:
    """What a rendered block asks of the store: save it, or release its render lock."""
    ttl = ttl if ttl is not None else settings.TTL
    render_ms = state.elapsed_ms()
    observe.rendered("fragment", name, key, "MISS", render_ms)
    if parent is not None:
        parent.embed_render(state, ttl)
    if outcome.start is None:
        observe.not_stored("fragment", name, key, "the cache was unusable")
        return []
    if state.start is None:
        observe.not_stored("fragment", name, key, "no start known for its data")
        return [Release(key, outcome.token, uncacheable=False)]  # the next render may store
    if csrf_handed_out or _contains_token(html, csrf_token):
        observe.not_stored("fragment", name, key, "a CSRF token was used in it")
        return [Release(key, outcome.token, uncacheable=True)]
    body = html.encode("utf-8")
    stale_ttl = stale_ttl if stale_ttl is not None else settings.STALE_TTL
    ttl = state.fresh_seconds(ttl)
    if len(body) > settings.MAX_ENTRY_BYTES or ttl + stale_ttl == 0:
        # Too big, or it embeds something already stale and may not be served stale.
        reason = "larger than MAX_ENTRY_BYTES" if ttl + stale_ttl else "it embeds a stale part"
        observe.not_stored("fragment", name, key, reason)
        return [Release(key, outcome.token, uncacheable=True)]
    own, carried = state.judged_tags(state.start)
    observe.stored("fragment", name, key, own + tuple(tag for tag, _ in carried))
    entry = entries.Entry(
        0, "", (), body, own, state.start, ttl, stale_ttl, carried, "", name, render_ms
    )
    value = entries.dumps(entry, dictionary=dictionary.for_writing())
    return [Save(key, value, ttl + stale_ttl, None, outcome.token)]


def _fresh_until(outcome: Outcome) -> float:
    """When an entry served from cache stops being fresh (``time.monotonic()``)."""
    assert outcome.found is not None and outcome.entry is not None
    fresh_ms = outcome.found.ttl_left_ms - outcome.entry.stale_ttl * 1000
    return time.monotonic() + fresh_ms / 1000


def _contains_token(html: str, csrf_token: object) -> bool:
    # The context's token may have been evaluated before the block (then get_token is not
    # called again inside it): look for it in the HTML. Never evaluate it here, which would
    # hand out a token and make the page uncacheable.
    if csrf_token is None:
        return False
    wrapped = getattr(csrf_token, "_wrapped", csrf_token)
    if wrapped is empty or not isinstance(wrapped, str) or not wrapped:
        return False
    return wrapped in html


def _csrf_flag(request: HttpRequest | None, before: bool | None) -> bool:
    """Detect a CSRF token handed out while the block rendered.

    Django's ``get_token`` sets ``CSRF_COOKIE_NEEDS_UPDATE``; it is cleared for the block
    and afterwards restored, so a token used earlier in the page is not mistaken for
    one used inside the block. Called first with ``before=None`` (returns the saved flag).
    """
    if request is None:
        return False
    meta = request.META
    if before is None:
        saved = bool(meta.pop("CSRF_COOKIE_NEEDS_UPDATE", False))
        return saved
    used = bool(meta.get("CSRF_COOKIE_NEEDS_UPDATE"))
    if before or used:
        meta["CSRF_COOKIE_NEEDS_UPDATE"] = True
    return used


def _seconds(keyword: str, value: object, minimum: int) -> int | None:
    """A template's ttl= / stale_ttl= value as seconds (an int, or a string of digits)."""
    if value is None:
        return None
    seconds: int | None = None
    if isinstance(value, int) and not isinstance(value, bool):
        seconds = value
    elif isinstance(value, str) and value.strip().isdigit():
        seconds = int(value)
    if seconds is None or seconds < minimum:
        raise ValueError(f"{keyword}= must be an integer >= {minimum}, not {value!r}")
    return seconds


def cache_block(
    name: object,
    render: Callable[[], str],
    *,
    vary_on: Sequence[object] = (),
    ttl: object = None,
    stale_ttl: object = None,
    tags: object = None,
    source: str = "",
    request: HttpRequest | None = None,
    csrf_token: object = None,
) -> str:
    """What ``{% cachetag %}`` does in either template engine, with template-level values.

    Validates the resolved arguments (``ValueError`` with a message fit for a template
    error) and calls :func:`cached_fragment`.
    """
    checked_name, options = _block_arguments(name, ttl, stale_ttl, tags)
    return cached_fragment(
        checked_name,
        render,
        vary_on=vary_on,
        source=source,
        request=request,
        csrf_token=csrf_token,
        **options,
    )


async def acache_block(
    name: object,
    render: Callable[[], str | Awaitable[str]],
    *,
    vary_on: Sequence[object] = (),
    ttl: object = None,
    stale_ttl: object = None,
    tags: object = None,
    source: str = "",
    request: HttpRequest | None = None,
    csrf_token: object = None,
) -> str:
    """:func:`cache_block` for a template rendered asynchronously (a Jinja2 environment
    with ``enable_async``, whose block bodies are coroutines)."""
    checked_name, options = _block_arguments(name, ttl, stale_ttl, tags)
    return await acached_fragment(
        checked_name,
        render,
        vary_on=vary_on,
        source=source,
        request=request,
        csrf_token=csrf_token,
        **options,
    )


def _block_arguments(
    name: object, ttl: object, stale_ttl: object, tags: object
) -> tuple[str, dict[str, Any]]:
    """A template block's name and options, validated (``ValueError`` fit for a template)."""
    if name is None or str(name) == "":
        raise ValueError("cachetag NAME resolved to an empty value")
    return str(name), {
        "ttl": _seconds("ttl", ttl, 1),
        "stale_ttl": _seconds("stale_ttl", stale_ttl, 0),
        "tags": tags_from_value(tags),
    }
