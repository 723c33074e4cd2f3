"""Template filters Sala's pages share."""

from collections.abc import Mapping
from typing import Any

from django import template
from django.template import Engine
from django.template.base import NodeList
from django.utils.safestring import mark_safe

from sala.core import shared_pages

register = template.Library()


@register.filter
def lookup(mapping: Mapping[Any, Any] | None, key: Any) -> Any:
    """Return `mapping[key]`, or None: `{{ counts|lookup:topic.pk }}`."""
    return mapping.get(key) if mapping else None


@register.simple_tag(takes_context=True)
def personal(context: template.Context, template_name: str) -> str:
    """Include `template_name`, a part of the page that is each member's own (their menu,
    their messages); in a page members share (sala.core.shared_pages), leave its marker."""
    if context.get(shared_pages.SHARED):
        return mark_safe(shared_pages.personal(template_name))  # noqa: S308  (our marker)
    engine = context.template.engine if context.template else Engine.get_default()
    return engine.get_template(template_name).render(context)


@register.tag
def owner_only(parser: template.base.Parser, token: template.base.Token) -> "OwnerOnlyNode":
    """`{% owner_only post.author_id %}...{% endowner_only %}`: what only the author and
    moderators (`can_moderate`) see, such as Edit and Delete.

    `{% owner_only post.author_id when post.is_hidden %}`: only while the condition
    holds; otherwise everyone sees it.
    """
    bits = token.split_contents()
    if len(bits) not in (2, 4) or (len(bits) == 4 and bits[2] != "when"):
        raise template.TemplateSyntaxError(
            f"{bits[0]} takes the author's id, and maybe `when <condition>`"
        )
    nodelist = parser.parse(("endowner_only",))
    parser.delete_first_token()
    when = parser.compile_filter(bits[3]) if len(bits) == 4 else None
    return OwnerOnlyNode(parser.compile_filter(bits[1]), nodelist, when=when)


@register.tag
def not_owner(parser: template.base.Parser, token: template.base.Token) -> "OwnerOnlyNode":
    """`{% not_owner post.author_id %}...{% endnot_owner %}`: what everyone sees but the
    author and moderators (a hidden post's one-line notice, in its place)."""
    bits = token.split_contents()
    if len(bits) != 2:
        raise template.TemplateSyntaxError(f"{bits[0]} takes one argument: the author's id")
    nodelist = parser.parse(("endnot_owner",))
    parser.delete_first_token()
    return OwnerOnlyNode(parser.compile_filter(bits[1]), nodelist, others=True)


class OwnerOnlyNode(template.Node):
    def __init__(
        self,
        author_id: template.base.FilterExpression,
        nodelist: NodeList,
        *,
        when: template.base.FilterExpression | None = None,
        others: bool = False,
    ) -> None:
        self.author_id = author_id
        self.nodelist = nodelist
        self.when = when
        self.others = others

    def render(self, context: template.Context) -> str:
        if self.when is not None and not self.when.resolve(context):
            return self.nodelist.render(context)
        author_id = self.author_id.resolve(context)
        if context.get(shared_pages.SHARED):
            wrap = shared_pages.not_owner if self.others else shared_pages.owner_only
            return wrap(author_id, self.nodelist.render(context))
        user = context.get("user")
        is_owner = bool(context.get("can_moderate")) or (
            user is not None and user.pk is not None and user.pk == author_id
        )
        return self.nodelist.render(context) if is_owner != self.others else ""
