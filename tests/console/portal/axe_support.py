"""axe-core in the browser tests: the npm package pinned by package.json / package-lock.json, installed by
`make` (npm ci) or, failing that, by this module the first time a test needs it.

Playwright injects it with `page.evaluate` (DevTools, so the console's Content-Security-Policy is not
loosened for it) and `violations()` returns what axe finds at the `critical` and `serious` impacts.
Screenshots: `shoot()` saves the page under $DSO_SCREENSHOTS (docs/screenshots when refreshing the README's
pictures) or the test's tmp folder.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
AXE = ROOT / "node_modules" / "axe-core" / "axe.min.js"
BLOCKING = ("critical", "serious")
DESKTOP, PHONE = {"width": 1280, "height": 900}, {"width": 390, "height": 844}

RUN_AXE = """async () => {
  const result = await axe.run(document, { resultTypes: ["violations"] });
  return result.violations.map((v) => ({
    id: v.id, impact: v.impact, help: v.help,
    nodes: v.nodes.slice(0, 5).map((n) => n.target.join(" ") + " :: " + n.failureSummary.split("\\n")[1]),
  }));
}"""

# The page scrolls sideways when its content is wider than the window (a table or a URL that does not fit).
PAGE_OVERFLOW = """() => {
  const width = document.documentElement.clientWidth;
  const wide = Array.from(document.querySelectorAll("body *"))
    .filter((e) => e.getBoundingClientRect().right > width + 1 && getComputedStyle(e).position !== "absolute")
    .filter((e) => !e.closest("pre, .secret-box, [hidden]"))
    .slice(0, 5).map((e) => e.tagName.toLowerCase() + (e.id ? "#" + e.id : "") + "." + e.className);
  return { scroll: document.documentElement.scrollWidth, width, wide };
}"""


def axe_source() -> str:
    if not AXE.exists():
        npm = shutil.which("npm")
        if npm is None:
            pytest.skip("axe-core is not installed and npm is missing (apt-get install npm; npm ci)")
        subprocess.run([npm, "ci", "--no-audit", "--no-fund"], cwd=ROOT, check=True, capture_output=True)
    return AXE.read_text()


def violations(page) -> list[dict]:
    if not page.evaluate("() => typeof window.axe === 'object'"):
        page.evaluate(axe_source())
    return [v for v in page.evaluate(RUN_AXE) if v["impact"] in BLOCKING]


def overflow(page) -> dict | None:
    """None when the page fits its window, else what sticks out."""
    measured = page.evaluate(PAGE_OVERFLOW)
    return None if measured["scroll"] <= measured["width"] else measured


def shoot(page, name: str, fallback: Path) -> Path:
    folder = Path(os.environ.get("DSO_SCREENSHOTS") or fallback)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.png"
    page.screenshot(path=str(path), full_page=False)
    return path
