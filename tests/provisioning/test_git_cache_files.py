"""Reading a mirror cache's files instead of starting git: each answer equals git's, or is None (ask git)."""

from __future__ import annotations

from pathlib import Path

from provisioning.git.cache_files import is_ancestor_by_loose_commits, is_maintenance_due
from tests.support.gitrepos import WorkRepo, git, init_bare


def _cache_of(work: WorkRepo, tmp_path: Path, *, loose: bool = True) -> Path:
    cache = init_bare(tmp_path / "cache.git")
    work.publish(cache)
    if not loose:
        git("repack", "-a", "-d", "-q", cwd=cache)
        git("prune-packed", cwd=cache)
    return cache


def test_an_ancestor_among_loose_commits_is_found_without_git(tmp_path):
    work = WorkRepo.create(tmp_path / "work")
    old = work.commit("old")
    work.commit("middle")
    new = work.commit("new")
    cache = _cache_of(work, tmp_path)

    assert is_ancestor_by_loose_commits(cache, old, new) is True
    assert is_ancestor_by_loose_commits(cache, new, new) is True
    # Every ancestor of old is loose and none is new: a rewind, which git calls not an ancestor either.
    assert is_ancestor_by_loose_commits(cache, new, old) is False


def test_a_walk_that_meets_a_packed_commit_or_its_limit_leaves_the_answer_to_git(tmp_path):
    work = WorkRepo.create(tmp_path / "work")
    old = work.commit("old")
    new = work.commits(5)
    packed = _cache_of(work, tmp_path, loose=False)

    assert is_ancestor_by_loose_commits(packed, old, new) is None
    assert is_ancestor_by_loose_commits(packed, "0" * 40, new) is None
    loose = _cache_of(work, tmp_path / "loose")
    assert is_ancestor_by_loose_commits(loose, old, new, limit=3) is None
    assert is_ancestor_by_loose_commits(loose, old, new) is True


def test_maintenance_is_due_by_git_gc_auto_estimate(tmp_path):
    cache = init_bare(tmp_path / "cache.git")
    assert not is_maintenance_due(cache)
    sample = cache / "objects" / "17"
    sample.mkdir()
    for index in range(27):
        (sample / f"{index:038x}").write_bytes(b"")
    assert not is_maintenance_due(cache)  # git packs above ceil(gc.auto / 256) = ceil(6700 / 256) = 27 ...
    (sample / f"{27:038x}").write_bytes(b"")
    assert is_maintenance_due(cache)  # ... loose objects in the sampled folder
    for path in sample.iterdir():
        path.unlink()
    for index in range(51):
        (cache / "objects" / "pack" / f"pack-{index:040x}.pack").write_bytes(b"")
    assert is_maintenance_due(cache)
