"""Which commit contains which, read from a local clone's history (the mirror cache of a repository)."""

from __future__ import annotations

import re
from pathlib import Path

from provisioning.git.client import GitClient

_SHA = re.compile(r"^[0-9a-f]{7,64}$")


def contains(git_dir: Path, *, commit: str, tip: str) -> bool | None:
    """Whether ``tip`` has ``commit`` in its history (``commit`` itself included).

    None when the clone does not know one of them (not fetched yet, or garbage-collected): the caller
    cannot tell yet, which is not the same as "no"."""
    if not (_SHA.match(commit or "") and _SHA.match(tip or "")):
        return None
    if tip.startswith(commit) or commit.startswith(tip):
        return True
    if not (Path(git_dir) / "HEAD").exists():
        return None
    proc = GitClient(git_dir=Path(git_dir), timeout_seconds=30).run(
        "merge-base", "--is-ancestor", commit, tip, check=False)
    if proc.returncode == 0:
        return True
    if proc.returncode == 1:
        return False
    return None
