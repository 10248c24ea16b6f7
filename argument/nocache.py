"""A ``cachetag`` template library that caches nothing: ``{% cachetag ... %}`` renders its
body every time. The peer configurations load it instead of pagecache's (``TEMPLATES``
``OPTIONS["libraries"]``), so the demo's templates render unchanged without pagecache.
"""

from __future__ import annotations

from django import template
from django.template.base import NodeList, Parser, Token
from django.template.context import Context

register = template.Library()


class BodyNode(template.Node):
    def __init__(self, nodelist: NodeList) -> None:
        self.nodelist = nodelist

    def render(self, context: Context) -> str:
        return self.nodelist.render(context)


@register.tag("cachetag")
def cachetag(parser: Parser, token: Token) -> BodyNode:
    nodelist = parser.parse(("endcachetag",))
    parser.delete_first_token()
    return BodyNode(nodelist)
