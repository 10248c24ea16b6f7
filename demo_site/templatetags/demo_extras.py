"""``{% frag_stamp "name" %}``: a marker of when the fragment around it was rendered.

Put inside a ``{% cachetag %}`` block, it is stored with the fragment, so a cached copy
keeps its original time; the status strip's script (:mod:`demo_site.middleware`) labels
each marker "rendered now" or "cached, rendered 12 s ago".
"""

from __future__ import annotations

import time

from django import template
from django.utils.html import format_html
from django.utils.safestring import SafeString

register = template.Library()


@register.simple_tag
def frag_stamp(name: str) -> SafeString:
    rendered_ms = int(time.time() * 1000)
    return format_html(
        '<span class="frag-stamp" data-name="{}" data-rendered="{}"></span>', name, rendered_ms
    )
