"""``{% cachetag NAME [VARY_ON ...] [ttl=EXPR] [stale_ttl=EXPR] [tags=EXPR] %}…{% endcachetag %}``.

Parsing only; caching, tag bubbling and failure handling are ``pagecache.fragments``.
The fragment key includes a digest of the block's own template source and of templates
it includes by constant name, so a deploy that changes the markup gets new keys.
"""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING

from django import template
from django.db.models import Model
from django.template.base import FilterExpression, Node, NodeList, Parser, Token, kwarg_re
from django.template.loader_tags import IncludeNode
from django.utils.safestring import SafeString, mark_safe

from pagecache.exceptions import InvalidTag
from pagecache.fragments import cache_block

if TYPE_CHECKING:
    from django.template.context import Context

register = template.Library()

KEYWORDS = ("ttl", "stale_ttl", "tags")


class CacheTagNode(Node):
    def __init__(
        self,
        nodelist: NodeList,
        name: FilterExpression,
        vary_on: list[FilterExpression],
        options: dict[str, FilterExpression],
        source: str,
    ) -> None:
        self.nodelist = nodelist
        self.name = name
        self.vary_on = vary_on
        self.options = options
        self.source = source
        self._included: str | None = None

    def render(self, context: Context) -> SafeString:
        resolved = {key: expr.resolve(context) for key, expr in self.options.items()}
        try:
            html = cache_block(
                self.name.resolve(context),
                lambda: self.nodelist.render(context),
                vary_on=[expr.resolve(context) for expr in self.vary_on],
                ttl=resolved.get("ttl"),
                stale_ttl=resolved.get("stale_ttl"),
                tags=_classes_for_unsaved(resolved.get("tags")),
                source=self.source + self._included_sources(context),
                request=context.get("request"),
                csrf_token=context.get("csrf_token"),
            )
        except InvalidTag as exc:
            raise template.TemplateSyntaxError(f"{{% cachetag %}} tags=: {exc}") from exc
        except ValueError as exc:
            raise template.TemplateSyntaxError(f"{{% cachetag %}}: {exc}") from exc
        return mark_safe(html)

    def _included_sources(self, context: Context) -> str:
        # Templates included by a constant name are part of the block's markup (as Rails'
        # cache digests follow render calls). Computed once per process: a deploy restarts it.
        if self._included is None:
            sources = []
            for node in self.nodelist.get_nodes_by_type(IncludeNode):
                if not isinstance(node, IncludeNode):
                    continue
                name = node.template.var
                if isinstance(name, str) and not node.template.filters:
                    try:
                        sources.append(context.template.engine.get_template(name).source)  # type: ignore[union-attr]
                    except template.TemplateDoesNotExist:
                        sources.append(f"missing:{name}")
            self._included = hashlib.blake2b("\0".join(sources).encode(), digest_size=8).hexdigest()
        return self._included


def _classes_for_unsaved(value: object) -> object:
    """Django templates call a model class found in the context, giving a new unsaved
    instance; map such instances back to their class, which is what ``tags=Model`` meant."""
    if isinstance(value, list | tuple):
        return [_classes_for_unsaved(item) for item in value]
    if isinstance(value, Model) and value.pk is None and value._state.adding:
        return type(value)
    return value


@register.tag("cachetag")
def do_cachetag(parser: Parser, token: Token) -> CacheTagNode:
    bits = token.split_contents()
    if len(bits) < 2:
        raise template.TemplateSyntaxError(
            "'cachetag' needs a fragment name: {% cachetag NAME [VARY_ON ...] [ttl=...] "
            "[stale_ttl=...] [tags=...] %}"
        )
    name = parser.compile_filter(bits[1])
    vary_on: list[FilterExpression] = []
    options: dict[str, FilterExpression] = {}
    for bit in bits[2:]:
        match = kwarg_re.match(bit)
        keyword, value = (match.group(1), match.group(2)) if match else (None, bit)
        if keyword is None:
            if options:
                raise template.TemplateSyntaxError(
                    f"'cachetag' VARY_ON value {bit!r} must come before ttl=, stale_ttl= and tags="
                )
            vary_on.append(parser.compile_filter(bit))
        elif keyword not in KEYWORDS:
            raise template.TemplateSyntaxError(
                f"'cachetag' got an unknown keyword {keyword!r}; it accepts ttl=, stale_ttl= "
                "and tags="
            )
        elif keyword in options:
            raise template.TemplateSyntaxError(f"'cachetag' got {keyword}= more than once")
        else:
            options[keyword] = parser.compile_filter(value)
    # The parser keeps pending tokens reversed; what parse() pops is the block's source.
    pending: list[Token] = list(parser.tokens)  # type: ignore[arg-type]
    nodelist = parser.parse(("endcachetag",))
    consumed = pending[len(parser.tokens) :][::-1]
    parser.delete_first_token()
    source = "\0".join(f"{t.token_type.value}:{t.contents}" for t in consumed)
    return CacheTagNode(nodelist, name, vary_on, options, source)
