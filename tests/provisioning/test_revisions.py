from __future__ import annotations

from provisioning.revisions import contains
from tests.support.gitrepos import WorkRepo


def test_contains_follows_history(tmp_path):
    work = WorkRepo.create(tmp_path / "work")
    first = work.commit("one", {"a.txt": "1\n"})
    second = work.commit("two", {"a.txt": "2\n"})
    git_dir = work.path / ".git"
    assert contains(git_dir, commit=first, tip=second) is True
    assert contains(git_dir, commit=second, tip=first) is False
    assert contains(git_dir, commit=second, tip=second) is True
    assert contains(git_dir, commit="ab" * 20, tip=second) is None
    assert contains(git_dir, commit="", tip=second) is None
    assert contains(tmp_path / "nothing", commit=first, tip="cd" * 20) is None
