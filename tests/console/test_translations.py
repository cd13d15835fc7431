"""Every word the portal shows goes through Django i18n, and French has all of them.

* Templates: the text of every template under templates/ (outside {% translate %} / {% blocktranslate %},
  code samples and comments) and the attributes people read (title, aria-label, placeholder, alt,
  data-confirm) must hold no words; a new unmarked string fails here with its file and text.
* The French catalogue: no untranslated or fuzzy entry; the committed .mo is the compiled .po (the console
  runs without gettext tools); and, when xgettext is installed (.ci/run installs it), `makemessages` over a
  copy of the sources finds no string the catalogue lacks.
"""

from __future__ import annotations

import gettext
import re
import shutil
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import polib
import pytest
from django.template.base import Lexer, TokenType

ROOT = Path(__file__).resolve().parents[2]
TEMPLATES = ROOT / "templates"
CATALOGUE = ROOT / "console" / "locale" / "fr" / "LC_MESSAGES"
PO, MO = CATALOGUE / "django.po", CATALOGUE / "django.mo"

# Words that are names, not prose: the product, and what a reader types or copies as is.
NOT_PROSE = {"DSO Console"}
READ_ATTRIBUTES = {"title", "aria-label", "placeholder", "alt", "data-confirm"}
SKIPPED_ELEMENTS = {"code", "pre", "script", "style"}
WORD = re.compile(r"[^\W\d_]{2,}")
# Third-party pages we only restyle (the API docs are Swagger UI's).
NOT_OURS = {"drf_spectacular/swagger_ui.html"}


def visible_source(source: str) -> str:
    """The template with every variable replaced by a marker, tags by a space, translated blocks removed."""
    out, skip = [], None
    for token in Lexer(source).tokenize():
        if token.token_type == TokenType.BLOCK:
            name = token.contents.split()[0] if token.contents else ""
            if skip:
                if name == skip:
                    skip = None
                continue
            if name in ("blocktranslate", "blocktrans", "comment"):
                skip = "end" + name
                continue
            out.append(" ")  # a space, not the marker: {% if %} inside a tag must not break the tag
        elif token.token_type == TokenType.TEXT and not skip:
            out.append(token.contents)
        elif token.token_type == TokenType.VAR and not skip:
            out.append("\x00")
    return "".join(out)


class ProseFinder(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.skipping = 0
        self.found: list[str] = []

    def handle_starttag(self, tag, attrs):
        if tag in SKIPPED_ELEMENTS:
            self.skipping += 1
        for name, value in attrs:
            if name in READ_ATTRIBUTES and value:
                self._check(value, f"{tag}[{name}]")

    def handle_endtag(self, tag):
        if tag in SKIPPED_ELEMENTS and self.skipping:
            self.skipping -= 1

    def handle_data(self, data):
        if not self.skipping:
            self._check(data, "text")

    def _check(self, text: str, where: str):
        for part in text.split("\x00"):
            words = part.strip()
            for name in NOT_PROSE:
                words = words.replace(name, "")
            if WORD.search(words):
                self.found.append(f"{where}: {part.strip()!r}")


def unmarked(path: Path) -> list[str]:
    finder = ProseFinder()
    finder.feed(visible_source(path.read_text()))
    finder.close()
    return finder.found


def portal_templates() -> list[Path]:
    return sorted(p for p in TEMPLATES.rglob("*.html") if str(p.relative_to(TEMPLATES)) not in NOT_OURS)


@pytest.mark.parametrize("path", portal_templates(), ids=lambda p: str(p.relative_to(TEMPLATES)))
def test_every_template_string_is_marked_for_translation(path):
    assert unmarked(path) == [], f"{path.relative_to(ROOT)} shows text outside {{% translate %}}"


def test_the_checker_finds_an_unmarked_string(tmp_path):
    page = tmp_path / "page.html"
    page.write_text('{% load i18n %}<p>{% translate "Fine" %}</p><p>Not marked {{ x }}</p>'
                    '<button title="Also not">{% translate "ok" %}</button><code>git push</code>'
                    "{% blocktranslate %}Marked {{ x }}{% endblocktranslate %}")
    assert unmarked(page) == ["text: 'Not marked'", "button[title]: 'Also not'"]


def test_the_french_catalogue_is_complete():
    catalogue = polib.pofile(str(PO))
    untranslated = [entry.msgid for entry in catalogue.untranslated_entries()]
    fuzzy = [entry.msgid for entry in catalogue.fuzzy_entries()]
    assert untranslated == [] and fuzzy == [], {"untranslated": untranslated, "fuzzy": fuzzy}
    assert catalogue.percent_translated() == 100


def test_the_committed_mo_is_the_compiled_po():
    compiled = gettext.GNUTranslations(MO.open("rb"))._catalog
    expected = {}
    for entry in polib.pofile(str(PO)).translated_entries():
        key = f"{entry.msgctxt}\x04{entry.msgid}" if entry.msgctxt else entry.msgid
        if entry.msgid_plural:
            for index, text in entry.msgstr_plural.items():
                expected[(key, int(index))] = text
        else:
            expected[key] = entry.msgstr
    compiled = {k: v for k, v in compiled.items() if k != ""}
    assert compiled == expected, "recompile: python manage.py compilemessages -l fr (or see docs/development.md)"


@pytest.mark.skipif(shutil.which("xgettext") is None, reason="xgettext not installed (apt-get install gettext)")
def test_makemessages_finds_no_string_the_catalogue_lacks(tmp_path):
    copy = tmp_path / "src"
    for part in ("console", "provisioning", "templates", "manage.py"):
        source = ROOT / part
        if source.is_dir():
            shutil.copytree(source, copy / part, symlinks=True, ignore=shutil.ignore_patterns("__pycache__", "static"))
        else:
            shutil.copy(source, copy / part)
    subprocess.run([sys.executable, "manage.py", "makemessages", "-l", "fr", "--no-obsolete", "--no-location",
                    "--ignore", "static/*"], cwd=copy, check=True, capture_output=True)
    regenerated = polib.pofile(str(copy / "console" / "locale" / "fr" / "LC_MESSAGES" / "django.po"))
    missing = [entry.msgid for entry in regenerated.untranslated_entries()]
    fuzzy = [entry.msgid for entry in regenerated.fuzzy_entries()]
    assert missing == [] and fuzzy == [], (
        f"run `python manage.py makemessages -l fr` and translate: missing {missing}, fuzzy {fuzzy}")
