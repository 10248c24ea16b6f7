"""The async page driver: :func:`pagecache.serve.serve` for the middleware under ASGI.

The same steps as the sync driver, each one the same function — the page's facts, the
bypass and render preparation, the hit's response, the store decision — with only the
store calls awaited (:mod:`pagecache.adriver`) and the rest of the chain awaited. A hit
is one round trip on a pooled ``redis.asyncio`` connection, in the event loop: no thread.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from . import adriver, observe
from .core import csrf, request_facts
from .core import entry as entries
from .core.flow import Action, Outcome, Save, StoreOps
from .core.render import current_render
from .core.responses import hit_parts
from .purging import purge
from .serve import (
    bypassed,
    finish_render,
    page_of,
    remember_vary,
    restore_conditions,
    start_bypass,
    start_render,
    to_response,
    variant_key,
    vary_names,
    withhold_conditions,
)

if TYPE_CHECKING:
    from django.http import HttpRequest, HttpResponseBase

AsyncGetResponse = Callable[["HttpRequest"], Awaitable["HttpResponseBase"]]


async def aserve(
    request: HttpRequest, get_response: AsyncGetResponse, *, outermost: bool = True
) -> HttpResponseBase:
    """Answer ``request`` from the page cache, or render it and store the result
    (``outermost`` as for :func:`pagecache.serve.serve`)."""
    report = observe.begin_request() if observe.current.get() is None else None
    try:
        return await _aserve(request, get_response, outermost)
    finally:
        observe.end_request(report)


async def _aserve(
    request: HttpRequest, get_response: AsyncGetResponse, outermost: bool
) -> HttpResponseBase:
    page = page_of(request)
    if isinstance(page, str):
        token = current_render.set(start_bypass(request, page, may_block=False))
        try:
            return bypassed(request, await get_response(request), page)
        finally:
            current_render.reset(token)
    outcome = await obtain(page)
    if outcome.action in (Action.HIT, Action.STALE):
        observe.served("page", outcome.key, outcome.action.name, outcome.entry)
        return to_response(hit_parts(page, outcome))
    state = start_render(request, outcome, outermost, may_block=False)
    lock_key = outcome.key or page.base_key
    withheld = withhold_conditions(request, outcome)
    token = current_render.set(state)
    watching = csrf.watch()
    try:
        response = await get_response(request)
    except asyncio.CancelledError:
        # The client went away (Django cancels the task): nothing says the page cannot be
        # stored, and awaiting here may be cancelled again. The deliverer releases the lock.
        if outcome.token:
            purge.release_later(lock_key, outcome.token)
        raise
    except BaseException:
        await adriver.release(lock_key, outcome.token, uncacheable=True)
        raise
    finally:
        state.csrf_minted = csrf.unwatch(watching)
        current_render.reset(token)
        restore_conditions(request, withheld)
    response, ops = finish_render(request, response, state, page, outcome, withheld)
    await run(ops)
    return response


async def obtain(page: request_facts.PageRequest, *, lock: bool = True) -> Outcome:
    """:func:`pagecache.serve.obtain`, awaited."""
    lock = lock and page.method == "GET"
    key = variant_key(page, vary_names(page.base_key))
    outcome = await adriver.obtain(key, lock=lock)
    if outcome.action is Action.VARY and outcome.found is not None:
        names = entries.loads_vary(outcome.found.value) or ()
        remember_vary(page.base_key, names)
        key = variant_key(page, names)
        outcome = await adriver.obtain(key, lock=lock)
        if outcome.action is Action.VARY and outcome.found is not None:
            outcome = Outcome(Action.RENDER, key, outcome.found, start=outcome.found.clock)
    return outcome


async def run(ops: StoreOps) -> None:
    """Carry out a render's store operations with the async driver."""
    for done, op in enumerate(ops):
        try:
            if isinstance(op, Save):
                stored = await adriver.save(op.key, op.value, op.timeout, op.vary, op.lock_token)
                if stored and op.remember:
                    remember_vary(*op.remember)
            else:
                await adriver.release(op.key, op.lock_token, uncacheable=op.uncacheable)
        except asyncio.CancelledError:
            for left in ops[done:]:  # locks this request still holds: the deliverer frees them
                if left.lock_token:
                    purge.release_later(left.key, left.lock_token)
            raise
