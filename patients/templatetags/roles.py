"""``{% may "RECORD_PLACEMENTS" clinic as can_place %}``: whether the signed-in user's role allows an
action in a clinic (``patients.roles``), so that a page offers only what the user may do."""

from typing import Any

from django import template

from patients import roles

register = template.Library()


@register.simple_tag(takes_context=True)
def may(context: template.Context, action: str, clinic: Any = None) -> bool:
    """``action`` is the name of a ``patients.roles.Action``; an empty name is something anyone may do."""
    if not action:
        return True
    request = context.get("request")
    if request is None:
        return False
    return roles.may(request.user, roles.Action[action], clinic)
