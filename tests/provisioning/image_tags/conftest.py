"""Real git repositories with real histories, built commit by commit with the git CLI."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

_BASE_ENV = {
    "GIT_CONFIG_NOSYSTEM": "1",
    "GIT_CONFIG_GLOBAL": os.devnull,
    "GIT_TERMINAL_PROMPT": "0",
    "LC_ALL": "C",
}


def git(*args: str, cwd: Path, env: dict[str, str] | None = None) -> str:
    full = {**os.environ, **_BASE_ENV, **(env or {})}
    return subprocess.run(["git", *args], cwd=cwd, env=full, check=True, capture_output=True, text=True).stdout


class WorkRepo:
    """A non-bare repository whose commits carry distinct authors and increasing dates."""

    def __init__(self, path: Path):
        self.path = path
        self._clock = 1_700_000_000
        path.mkdir(parents=True, exist_ok=True)
        git("init", "-q", "-b", "main", cwd=path)

    def write(self, rel: str, content: str | bytes) -> None:
        target = self.path / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            target.write_bytes(content)
        else:
            target.write_text(content)

    def delete(self, rel: str) -> None:
        git("rm", "-q", "--", rel, cwd=self.path)

    def commit(self, subject: str, *, author: str = "Alice", email: str = "alice@example.com") -> str:
        self._clock += 60
        date = f"@{self._clock} +0000"
        env = {
            "GIT_AUTHOR_NAME": author,
            "GIT_AUTHOR_EMAIL": email,
            "GIT_COMMITTER_NAME": author,
            "GIT_COMMITTER_EMAIL": email,
            "GIT_AUTHOR_DATE": date,
            "GIT_COMMITTER_DATE": date,
        }
        git("add", "-A", cwd=self.path)
        git("commit", "-q", "--allow-empty", "-m", subject, cwd=self.path, env=env)
        return self.head()

    def head(self) -> str:
        return git("rev-parse", "HEAD", cwd=self.path).strip()

    def git(self, *args: str, env: dict[str, str] | None = None) -> str:
        return git(*args, cwd=self.path, env=env)

    def mirror(self, dest: Path) -> Path:
        """A bare mirror cache, as the console keeps one per external repository."""
        if dest.exists():
            git("remote", "update", "--prune", cwd=dest)
        else:
            git("clone", "-q", "--mirror", str(self.path), str(dest), cwd=self.path.parent)
        return dest


@pytest.fixture
def work(tmp_path: Path) -> WorkRepo:
    return WorkRepo(tmp_path / "infra")


def changes_as_tuples(result) -> list[tuple]:
    return [(c.commit_sha, c.file, c.location, c.image, c.kind, c.old_tag, c.new_tag) for c in result.changes]


@pytest.fixture(autouse=True)
def isolated_data():
    """These adapter tests touch no Django settings; overriding the suite-wide autouse fixture lets them
    also run with ``-p no:django`` (plain Python, as the package itself)."""
