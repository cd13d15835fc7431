"""Small display helpers the portal's pages share: who asked for a run, and dates people read at a glance."""

from __future__ import annotations

import functools
from datetime import date, datetime
from html import escape

from django import template
from django.contrib.humanize.templatetags.humanize import NaturalTimeFormatter
from django.utils import formats, timezone
from django.utils.safestring import SafeString
from django.utils.translation import get_language, gettext as _

register = template.Library()


def format_html(format_string: str, *args) -> SafeString:
    """Django's ``format_html`` for the rows a history page repeats: each argument escaped unless it is safe
    (has ``__html__``), as Django does, without the lazy-string dispatch Django's ``escape`` goes through on
    every call (a fifth of a 20-row page's rendering)."""
    return SafeString(format_string.format(*(
        arg.__html__() if hasattr(arg, "__html__") else escape(str(arg)) for arg in args)))


def format_html_join(sep: str, format_string: str, args_generator) -> SafeString:
    return SafeString(sep.join(format_html(format_string, *args) for args in args_generator))


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
        if by.lower() in _CONSOLE_LABELS:
            return _("%(console)s after bump #%(bump)s") % {"console": CONSOLE, "bump": detail["image_bump"]}
        return _("%(console)s after bump #%(bump)s, asked by %(by)s") % {
            "console": CONSOLE, "bump": detail["image_bump"], "by": by}
    if detail.get("interface") == "system" and (not by or by.lower() in _CONSOLE_LABELS):
        return CONSOLE
    if by.lower() == str(run.get_trigger_display()).lower():
        return ""
    return by


@functools.lru_cache(maxsize=1024)
def _local_date(language: str | None, day: date) -> str:
    # A history page repeats the same few days; formatting one costs more than the rest of its date.
    return formats.date_format(day, "DATE_FORMAT")


def exact_time(value: datetime) -> str:
    """The exact local time with its zone, in the active language's format ("2 déc. 2026 07:05:12 UTC")."""
    local = timezone.localtime(value)
    return f"{_local_date(get_language(), local.date())} {local:%H:%M:%S} {local.tzname()}"


class _FormattedOnce:
    """One of Django's naturaltime messages, translated and formatted once per language and count.

    Each ``%`` on Django's lazy plural messages translates them again; three dates a history row made that
    a third of the row."""

    __slots__ = ("message", "formatted")

    def __init__(self, message):
        self.message, self.formatted = message, {}

    def _text(self, key, make):
        text = self.formatted.get(key)
        if text is None:
            if len(self.formatted) > 10_000:  # counts and deltas are few; bound it all the same
                self.formatted.clear()
            text = self.formatted[key] = make()
        return text

    def __mod__(self, params: dict) -> str:
        return self._text((get_language(), *params.values()), lambda: self.message % params)

    def __str__(self) -> str:
        return self._text((get_language(),), lambda: str(self.message))


class _NaturalTime(NaturalTimeFormatter):
    """Django's naturaltime, same algorithm and messages, each formatted once (``_FormattedOnce``)."""

    time_strings = {name: _FormattedOnce(m) for name, m in NaturalTimeFormatter.time_strings.items()}
    past_substrings = {name: _FormattedOnce(m) for name, m in NaturalTimeFormatter.past_substrings.items()}
    future_substrings = {name: _FormattedOnce(m) for name, m in NaturalTimeFormatter.future_substrings.items()}


def naturaltime(value) -> str:
    return str(_NaturalTime.string_for(value))


@register.simple_tag
def when(value, empty="—"):
    """A date as people read it ("3 minutes ago", "il y a 3 minutes") with the exact local time and zone on
    hover; the machine-readable instant stays in `datetime` (portal.js rewrites the title in the browser's
    own zone)."""
    if not value:
        return empty
    return format_html('<time datetime="{}" title="{}">{}</time>', value.isoformat(), exact_time(value),
                       naturaltime(value))


@register.simple_tag
def field_widget(field):
    """The field's input, tied to what the page says about it: aria-describedby names the ids of its help
    text and of its errors (both rendered by portal/partials/field.html), aria-invalid marks it invalid."""
    described = []
    if field.help_text:
        described.append(f"{field.auto_id}_helptext")
    if field.errors:
        described.append(f"{field.auto_id}-error")
    attrs = {"aria-describedby": " ".join(described)} if described else {}
    if field.errors:
        attrs["aria-invalid"] = "true"
    return field.as_widget(attrs=attrs)


@register.filter
def deployment_health_label(state: str) -> str:
    """A DeploymentHealth value ("out_of_sync") as people read it, in the page's language."""
    from console.models import DeploymentHealth

    try:
        return str(DeploymentHealth(state).label)
    except ValueError:
        return state


@register.filter
def run_status_label(status: str) -> str:
    """A run status value ("no_change") as people read it, in the page's language."""
    from console.models import RunStatus

    try:
        return str(RunStatus(status).label)
    except ValueError:
        return status
