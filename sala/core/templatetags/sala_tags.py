"""Template filters Sala's pages share."""

from collections.abc import Mapping
from typing import Any

from django import template

register = template.Library()


@register.filter
def lookup(mapping: Mapping[Any, Any] | None, key: Any) -> Any:
    """Return `mapping[key]`, or None: `{{ counts|lookup:topic.pk }}`."""
    return mapping.get(key) if mapping else None
