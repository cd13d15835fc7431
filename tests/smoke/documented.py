"""Commands as the documentation shows them: fenced blocks of README.md, code blocks of a rendered page, and
a runner that executes them with the real `curl` while recording each request's status and headers."""

from __future__ import annotations

import html
import re
import subprocess
import textwrap
from dataclasses import dataclass, field
from pathlib import Path

from ruamel.yaml import YAML

from tests.smoke.stack import REPO

# Each curl call of a documented script leaves its arguments and response headers beside it; the script's
# own text runs unchanged (`command curl` is the real binary; -q first keeps a user's ~/.curlrc out).
CURL_RECORDER = r"""
curl() {
  _dso_call=$(mktemp "$DSO_SMOKE_CALLS/$(date +%s%N)-XXXXXX")
  printf '%s\n' "$@" > "$_dso_call.args"
  command curl -q --dump-header "$_dso_call.headers" "$@"
}
"""


def readme_section(title: str) -> str:
    text = (REPO / "README.md").read_text()
    match = re.search(rf"^## {re.escape(title)}\n(.*?)(?=^## |\Z)", text, re.M | re.S)
    assert match, f"README.md has no section {title!r}"
    return match.group(1)


def fenced_blocks(markdown: str, language: str) -> list[str]:
    """Fenced blocks of one language, also those indented inside a list item."""
    pattern = rf"^( *)```{language}\n(.*?)^\1```"
    return [textwrap.dedent(block) for _, block in re.findall(pattern, markdown, re.M | re.S)]


def page_code_blocks(page: str, section_id: str) -> list[str]:
    """The text of each <pre><code> in one section of a rendered page, as a reader would copy it."""
    match = re.search(rf'<section[^>]*id="{section_id}".*?</section>', page, re.S)
    assert match, f"the page has no section #{section_id}"
    blocks = re.findall(r"<pre(?![^>]*secret)[^>]*><code>(.*?)</code></pre>", match.group(0), re.S)
    return [html.unescape(re.sub(r"<[^>]+>", "", block)) for block in blocks]


def gitlab_jobs(block: str) -> dict:
    jobs = YAML(typ="safe", pure=True).load(block)
    assert isinstance(jobs, dict) and jobs, f"not a GitLab CI job definition:\n{block}"
    return jobs


def job_script(job: dict) -> str:
    """What a GitLab runner executes: the script lines in order (YAML already folded `- >` lines)."""
    return "\n".join(job["script"]) + "\n"


@dataclass
class Call:
    args: list[str]
    status: int
    headers: dict[str, str] = field(default_factory=dict)

    @property
    def location(self) -> str | None:
        return self.headers.get("location")


@dataclass
class Outcome:
    returncode: int
    stdout: str
    stderr: str
    calls: list[Call]

    def describe(self) -> str:
        calls = "\n".join(f"  {c.status} {' '.join(c.args)}" for c in self.calls)
        text = f"exit {self.returncode}\ncalls:\n{calls}\nstdout:\n{self.stdout}\nstderr:\n{self.stderr}"
        return re.sub(r"(Authorization: \w+) \S+", r"\1 <redacted>", text)  # the tokens stay out of reports


def run_documented(script: str, env: dict[str, str], calls_dir: Path) -> Outcome:
    """Run `script` with POSIX sh and `set -e` (as a GitLab runner does), recording every curl call."""
    calls_dir.mkdir(parents=True, exist_ok=True)
    for old in calls_dir.iterdir():
        old.unlink()
    done = subprocess.run(["sh", "-ec", CURL_RECORDER + script], capture_output=True, text=True, timeout=60,
                          env={**env, "DSO_SMOKE_CALLS": str(calls_dir)})
    calls = []
    for args_file in sorted(calls_dir.glob("*.args")):
        headers_file = args_file.with_suffix(".headers")
        raw = headers_file.read_text() if headers_file.exists() else ""
        # The last response of the dump (a 100 Continue may precede it).
        blocks = [b for b in re.split(r"\r?\n\r?\n", raw) if b.strip()]
        lines = blocks[-1].splitlines() if blocks else []
        status = int(lines[0].split()[1]) if lines else 0
        headers = {}
        for line in lines[1:]:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        calls.append(Call(args=args_file.read_text().splitlines(), status=status, headers=headers))
    return Outcome(done.returncode, done.stdout, done.stderr, calls)
