"""Choice labels read cheaply: a page of runs asks for a few labels per row."""

from __future__ import annotations

from django.utils.encoding import force_str
from django.utils.hashable import make_hashable
from django.utils.translation import get_language


class CachedChoiceLabels:
    """``get_<field>_display()`` from a per-field, per-language dict built once.

    Django's own rebuilds ``dict(make_hashable(field.flatchoices))`` at every call, then translates the lazy
    label: on a history page of 20 runs that was a quarter of the page's rendering. A language's catalogue
    does not change while the process runs, so each label is translated once per language."""

    def _get_FIELD_display(self, field):
        by_language = field.__dict__.get("_choice_labels_by_language")
        if by_language is None:
            by_language = field._choice_labels_by_language = {}
        language = get_language()
        labels = by_language.get(language)
        if labels is None:
            labels = by_language[language] = {
                make_hashable(value): force_str(label) for value, label in field.flatchoices}
        value = getattr(self, field.attname)
        return labels.get(make_hashable(value), value)
