"""Real bare repositories for the GitOps delivery tests (local to them, to avoid a shared conftest)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from provisioning.delivery import GitOpsDelivery
from provisioning.forge.base import GitRemote
from provisioning.git.env import git_environment


def git(*args: str, git_dir: Path) -> str:
    """Inspect a repository with the same isolated configuration production code uses."""
    proc = subprocess.run(
        ["git", "--git-dir", str(git_dir), *args],
        env=git_environment(), capture_output=True, text=True, check=True,
    )
    return proc.stdout


class BareRepo:
    def __init__(self, path: Path):
        self.path = path
        init = ["git", "init", "-q", "--bare", "-b", "main", str(path)]
        subprocess.run(init, env=git_environment(), check=True)
        self.remote = GitRemote(url=path.as_uri())

    def tip(self, branch: str = "main") -> str | None:
        out = subprocess.run(
            ["git", "--git-dir", str(self.path), "rev-parse", "--verify", "-q", f"refs/heads/{branch}"],
            env=git_environment(), capture_output=True, text=True,
        )  # fmt: skip
        return out.stdout.strip() or None

    def commit_count(self) -> int:
        return int(git("rev-list", "--count", "main", git_dir=self.path)) if self.tip() else 0

    def files(self, directory: str = "") -> dict[str, str]:
        """Every file under ``directory`` at the tip, keyed by path relative to it."""
        if not self.tip():
            return {}
        prefix = f"{directory.strip('/')}/" if directory else ""
        names = git("ls-tree", "-r", "--name-only", "-z", "main", git_dir=self.path).split("\0")
        return {
            n[len(prefix):]: git("show", f"main:{n}", git_dir=self.path)
            for n in names
            if n and n.startswith(prefix)
        }

    def changed_paths(self, commit: str) -> list[str]:
        out = git("diff-tree", "--root", "--no-commit-id", "-r", "--name-only", commit, git_dir=self.path)
        return sorted(filter(None, out.splitlines()))


@pytest.fixture
def bare_repo(tmp_path: Path) -> BareRepo:
    return BareRepo(tmp_path / "platform.git")


@pytest.fixture
def delivery(bare_repo: BareRepo, tmp_path: Path) -> GitOpsDelivery:
    return GitOpsDelivery(bare_repo.remote, tmp_path / "work")
