"""Choice labels read cheaply: a page of runs asks for a few labels per row."""

from __future__ import annotations

from django.utils.encoding import force_str
from django.utils.hashable import make_hashable


class CachedChoiceLabels:
    """``get_<field>_display()`` from a per-field dict built once.

    Django's own rebuilds ``dict(make_hashable(field.flatchoices))`` at every call: on a history page of 20
    runs that was a quarter of the page's rendering. The labels stay lazy in the dict, so each call still
    answers in the active language."""

    def _get_FIELD_display(self, field):
        labels = field.__dict__.get("_cached_choice_labels")
        if labels is None:
            labels = field._cached_choice_labels = dict(make_hashable(field.flatchoices))
        value = getattr(self, field.attname)
        return force_str(labels.get(make_hashable(value), value), strings_only=True)
