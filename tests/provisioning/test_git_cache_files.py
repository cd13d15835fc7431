"""Reading a mirror cache's files instead of starting git: each answer equals git's, or is None (ask git)."""

from __future__ import annotations

from pathlib import Path

import pytest

from provisioning.git.cache_files import is_ancestor_by_loose_commits, is_maintenance_due, write_refs
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


def test_refs_are_written_as_git_writes_loose_refs_and_read_back_by_git(tmp_path):
    work = WorkRepo.create(tmp_path / "work")
    sha = work.commit("one")
    cache = _cache_of(work, tmp_path)

    assert write_refs(cache, {"refs/heads/feature/x-1.2": sha, "refs/tags/v1.0+build": sha})

    assert git("rev-parse", "refs/heads/feature/x-1.2", "refs/tags/v1.0+build", cwd=cache).split() == [sha, sha]
    assert not list(cache.rglob("*.lock"))


@pytest.mark.parametrize("ref", [
    "refs/heads/../../config", "refs/heads/a..b", "refs/heads/.hidden", "refs/heads/x.lock", "refs/heads/end.",
    "refs/heads/", "refs/heads//double", "refs/heads/sp ace", "refs/heads/é", "refs/remotes/origin/main", "HEAD",
])
def test_a_ref_name_it_would_not_write_itself_leaves_every_ref_to_git(tmp_path, ref):
    work = WorkRepo.create(tmp_path / "work")
    sha = work.commit("one")
    cache = _cache_of(work, tmp_path)
    before = sorted(p.relative_to(cache) for p in cache.rglob("*"))

    assert not write_refs(cache, {"refs/heads/fine": sha, ref: sha})

    assert sorted(p.relative_to(cache) for p in cache.rglob("*")) == before
