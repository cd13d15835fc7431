"""The portal's own format_html (for the rows a history page repeats) escapes exactly as Django's does."""

from __future__ import annotations

import pytest
from django.utils import html as django_html
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import gettext_lazy, override

from console.templatetags.portal import format_html, format_html_join


class Marked:
    """An object with __html__ but no SafeData base: Django trusts it, so must we."""

    def __html__(self) -> str:
        return "<em>trusted</em>"


ARGUMENTS = [
    ("<script>alert('x')</script>", '"quoted" & <tags>'),
    (mark_safe("<b>safe</b>"), "a < b"),
    (42, None),
    (gettext_lazy("Run"), gettext_lazy("Status")),
    (Marked(), "'single'"),
]


@pytest.mark.parametrize("args", ARGUMENTS)
@pytest.mark.parametrize("language", ["en", "fr"])
def test_format_html_is_djangos(args, language):
    with override(language):
        ours = format_html('<td title="{}">{}</td>', *args)
        theirs = django_html.format_html('<td title="{}">{}</td>', *args)

    assert ours == theirs
    assert isinstance(ours, SafeString)


def test_format_html_join_is_djangos():
    rows = [("<a>", 1), (mark_safe("<b>"), "x&y")]

    assert format_html_join("", "<li>{}{}</li>", rows) == django_html.format_html_join("", "<li>{}{}</li>", rows)
