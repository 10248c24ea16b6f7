"""``{% cachetag %}`` for Jinja2: the same block, keys and bubbling as the Django tag.

Enable it in the Jinja2 backend's environment::

    TEMPLATES = [{"BACKEND": "django.template.backends.jinja2.Jinja2",
                  "OPTIONS": {"extensions": ["templatetags_ext.jinja2.cachetag"]}}]

Syntax: ``{% cachetag "sidebar", request.LANGUAGE_CODE, ttl=120, tags="articles" %}…
{% endcachetag %}`` (commas between arguments are optional).
"""

from __future__ import annotations

from collections.abc import Coroutine
from typing import Any

from jinja2 import nodes
from jinja2.exceptions import TemplateNotFound, TemplateRuntimeError
from jinja2.ext import Extension
from jinja2.parser import Parser
from jinja2.runtime import Context
from markupsafe import Markup

from pagecache.fragments import acache_block, cache_block

KEYWORDS = ("ttl", "stale_ttl", "tags")


class CacheTagExtension(Extension):
    tags = {"cachetag"}

    def parse(self, parser: Parser) -> nodes.Node:
        lineno = next(parser.stream).lineno
        if parser.stream.current.type == "block_end":
            parser.fail("'cachetag' needs a fragment name", lineno)
        name = parser.parse_expression()
        vary_on: list[nodes.Expr] = []
        options: dict[str, nodes.Expr] = {}
        while parser.stream.current.type != "block_end":
            parser.stream.skip_if("comma")
            if parser.stream.current.type == "name" and parser.stream.look().type == "assign":
                keyword = next(parser.stream).value
                if keyword not in KEYWORDS:
                    parser.fail(
                        f"'cachetag' got an unknown keyword {keyword!r}; it accepts ttl=, "
                        "stale_ttl= and tags=",
                        lineno,
                    )
                if keyword in options:
                    parser.fail(f"'cachetag' got {keyword}= more than once", lineno)
                next(parser.stream)  # the '='
                options[keyword] = parser.parse_expression()
            else:
                if options:
                    parser.fail(
                        "'cachetag' VARY_ON values must come before ttl=, stale_ttl= and tags=",
                        lineno,
                    )
                vary_on.append(parser.parse_expression())
        body = parser.parse_statements(("name:endcachetag",), drop_needle=True)
        # The parsed body's repr is a faithful, deterministic picture of the block's source;
        # templates it includes by constant name are part of its markup too.
        source = repr(body) + self._included_sources(body)
        call = self.call_method(
            "_render",
            [
                nodes.ContextReference(),
                name,
                nodes.List(vary_on),
                options.get("ttl", nodes.Const(None)),
                options.get("stale_ttl", nodes.Const(None)),
                options.get("tags", nodes.Const(None)),
                nodes.Const(source),
            ],
        )
        return nodes.CallBlock(call, [], [], body).set_lineno(lineno)

    def _included_sources(self, body: list[nodes.Node]) -> str:
        sources = []
        loader = self.environment.loader
        for node in body:
            # find_all() looks below a node only, so the node itself is checked too.
            for include in (node, *node.find_all(nodes.Include)):
                if not isinstance(include, nodes.Include):
                    continue
                if isinstance(include.template, nodes.Const) and loader is not None:
                    name = include.template.value
                    try:
                        sources.append(loader.get_source(self.environment, name)[0])
                    except TemplateNotFound:
                        sources.append(f"missing:{name}")
        return "\0".join(sources)

    def _render(
        self,
        context: Context,
        name: Any,
        vary_on: list[Any],
        ttl: Any,
        stale_ttl: Any,
        tags: Any,
        source: str,
        caller: Any,
    ) -> Markup | Coroutine[Any, Any, Markup]:
        arguments = {
            "vary_on": vary_on,
            "ttl": ttl,
            "stale_ttl": stale_ttl,
            "tags": tags,
            "source": source,
            "request": context.get("request"),
            "csrf_token": context.get("csrf_token"),
        }
        if self.environment.is_async:
            # An async environment renders block bodies as coroutines (and awaits what
            # this returns): stringifying caller() would store "<coroutine ...>".
            return self._arender(name, caller, arguments)
        try:
            html = cache_block(name, lambda: str(caller()), **arguments)
        except ValueError as exc:
            raise TemplateRuntimeError(f"cachetag: {exc}") from exc
        return Markup(html)

    async def _arender(self, name: Any, caller: Any, arguments: dict[str, Any]) -> Markup:
        async def body() -> str:
            return str(await caller())

        try:
            html = await acache_block(name, body, **arguments)
        except ValueError as exc:
            raise TemplateRuntimeError(f"cachetag: {exc}") from exc
        return Markup(html)


#: The dotted path users put in ``extensions``: ``templatetags_ext.jinja2.cachetag``.
cachetag = CacheTagExtension
