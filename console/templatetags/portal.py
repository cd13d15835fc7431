"""Small display helpers the portal's run tables share."""

from __future__ import annotations

from django import template

register = template.Library()

CONSOLE = "DSO Console"
_CONSOLE_LABELS = {"dso-console", "dso console", "system"}


@register.filter
def run_by(run) -> str:
    """Who asked for a run, said once: never "DSO Console by DSO Console" nor "API by API".

    A sync the console asked for itself (after pushing a bump) names the bump and the person behind it.
    """
    detail = run.trigger_detail or {}
    by = run.actor.get_username() if getattr(run, "actor_id", None) and run.actor else detail.get("by", "")
    if detail.get("image_bump"):
        behind = "" if by.lower() in _CONSOLE_LABELS else f", asked by {by}"
        return f"{CONSOLE} after bump #{detail['image_bump']}{behind}"
    if detail.get("interface") == "system" and (not by or by.lower() in _CONSOLE_LABELS):
        return CONSOLE
    if by.lower() == run.get_trigger_display().lower():
        return ""
    return by
