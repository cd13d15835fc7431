"""History as a deployer reads it: registry moves, merges along the first-parent line, force-pushes."""

from __future__ import annotations

from provisioning.image_tags import DeployConfig, scan

HELM = DeployConfig(kind="helm", path="chart")
F = "chart/values.yaml"
MERGER = {"GIT_AUTHOR_NAME": "Merger", "GIT_AUTHOR_EMAIL": "m@example.com",
          "GIT_COMMITTER_NAME": "Merger", "GIT_COMMITTER_EMAIL": "m@example.com"}


def values(backend: str, worker: str = "reg/w:1") -> str:
    return f"image:\n  repository: {backend.rsplit(':', 1)[0]}\n  tag: '{backend.rsplit(':', 1)[1]}'\n" \
           f"worker:\n  image: {worker}\n"


def deploy_line(result) -> list[tuple]:
    return [(c.effective_sha, c.commit_sha, c.location, c.old_tag, c.new_tag, c.cause)
            for c in result.changes if c.on_deploy_line]


def chain_is_consistent(changes) -> bool:
    """Along the line, each change starts where the previous change of that place ended."""
    last: dict[tuple, tuple] = {}
    for c in changes:
        place = (c.file, c.location)
        before = (c.old_image or (c.image if c.old_tag or c.old_digest else None), c.old_tag, c.old_digest)
        if place in last and last[place] != before:
            return False
        last[place] = (c.image if c.new_tag or c.new_digest else None, c.new_tag, c.new_digest)
    return True


def test_a_registry_move_is_one_change_from_the_old_reference_to_the_new(work, tmp_path):
    work.write(F, "image:\n  repository: ghcr.io/a/x\n  tag: '1.0'\n")
    first = work.commit("on ghcr")
    work.write(F, "image:\n  repository: quay.io/a/x\n  tag: '1.1'\n")
    moved = work.commit("move to quay")

    result = scan(work.mirror(tmp_path / "m.git"), config=HELM, old_sha=None, new_sha=moved)

    assert [(c.commit_sha, c.kind, c.old_image, c.image, c.old_tag, c.new_tag) for c in result.changes] == [
        (first, "added", None, "ghcr.io/a/x", None, "1.0"),
        (moved, "changed", "ghcr.io/a/x", "quay.io/a/x", "1.0", "1.1"),
    ]
    # One row per commit and place: nothing a (commit, file, location) key could drop.
    keys = [(c.commit_sha, c.file, c.location) for c in result.changes]
    assert len(keys) == len(set(keys))


def test_merged_work_takes_effect_at_the_merge_and_reads_once_along_the_deploy_branch(work, tmp_path):
    work.write(F, values("reg/a:1"))
    base = work.commit("base")
    work.git("checkout", "-q", "-b", "feature")
    work.write(F, values("reg/a:2"))
    try_2 = work.commit("try a 2")
    work.write(F, values("reg/a:3"))
    settle_3 = work.commit("a 3")
    work.git("checkout", "-q", "-b", "abandoned")
    work.write(F, values("reg/a:99"))
    work.commit("never merged")
    work.git("checkout", "-q", "main")
    work.write(F, values("reg/a:1", "reg/w:2"))
    worker_2 = work.commit("worker 2 on main")
    work.git("merge", "-q", "--no-ff", "-m", "merge feature", "feature", env=MERGER)
    merge = work.head()
    work.git("checkout", "-q", "-b", "hotfix")
    work.write(F, values("reg/a:3", "reg/w:3"))
    hotfix = work.commit("worker 3")
    work.git("checkout", "-q", "main")
    work.git("merge", "-q", "--no-ff", "-m", "merge hotfix", "hotfix", env=MERGER)
    merge_hotfix = work.head()

    result = scan(work.mirror(tmp_path / "m.git"), config=HELM, old_sha=base, new_sha=merge_hotfix)

    # Each commit's own change is there once, with the line commit where it took effect.
    own = [(c.commit_sha, c.effective_sha, c.location, c.old_tag, c.new_tag) for c in result.changes if c.own_change]
    assert own == [
        (worker_2, worker_2, "worker.image", "1", "2"),
        (try_2, merge, "image", "1", "2"),
        (settle_3, merge, "image", "2", "3"),
        (hotfix, merge_hotfix, "worker.image", "2", "3"),
    ]
    # Along the deploy branch: 1 -> 3 once at the merge (authored by the commit that set 3); 2 never ran
    # there, and the abandoned branch's 99 is nowhere.
    assert deploy_line(result) == [
        (worker_2, worker_2, "worker.image", "1", "2", "commit"),
        (merge, settle_3, "image", "1", "3", "commit"),
        (merge_hotfix, hotfix, "worker.image", "2", "3", "commit"),
    ]
    assert chain_is_consistent([c for c in result.changes if c.on_deploy_line])
    assert "99" not in {c.new_tag for c in result.changes}
    merged = next(c for c in result.changes if c.effective_sha == merge and c.on_deploy_line)
    assert merged.effective_subject == "merge feature" and not merged.own_change


def test_a_force_push_reports_what_it_removed_and_the_change_back(work, tmp_path):
    work.write(F, values("reg/a:1"))
    base = work.commit("base")
    work.write(F, values("reg/a:2"))
    work.commit("a 2")
    work.write(F, values("reg/a:3", "reg/w:5"))
    gone = work.commit("a 3, worker 5")
    mirror = work.mirror(tmp_path / "m.git")
    before = scan(mirror, config=HELM, old_sha=None, new_sha=gone)
    assert before.removed_commits is None

    work.git("reset", "-q", "--hard", base)
    work.write(F, values("reg/a:4"))
    replacement = work.commit("a 4 instead")
    mirror = work.mirror(mirror)

    result = scan(mirror, config=HELM, old_sha=gone, new_sha=replacement)

    assert len(result.removed_commits) == 2 and gone in result.removed_commits and base not in result.removed_commits
    assert deploy_line(result) == [
        (replacement, replacement, "image", "3", "1", "force_push"),
        (replacement, replacement, "worker.image", "5", "1", "force_push"),
        (replacement, replacement, "image", "1", "4", "commit"),
    ]
    back = result.changes[0]
    assert not back.own_change and gone[:12] in back.commit_subject
    assert chain_is_consistent(list(before.changes) + list(result.changes))
    assert [(r.location, r.tag) for r in result.inventory] == [("image", "4"), ("worker.image", "1")]

    # Going back to a commit already scanned is a change back with no new commit.
    work.git("reset", "-q", "--hard", base)
    reset = scan(work.mirror(mirror), config=HELM, old_sha=replacement, new_sha=base)
    assert deploy_line(reset) == [(base, base, "image", "4", "1", "force_push")]
    assert reset.removed_commits == (replacement,)


def test_a_side_commit_merged_again_after_a_force_push_is_recorded_at_its_new_merge(work, tmp_path):
    work.write(F, values("reg/a:1"))
    base = work.commit("base")
    work.git("checkout", "-q", "-b", "feature")
    work.write(F, values("reg/a:2"))
    feature = work.commit("a 2")
    work.git("checkout", "-q", "main")
    work.git("merge", "-q", "--no-ff", "-m", "first merge", "feature", env=MERGER)
    first_merge = work.head()
    mirror = work.mirror(tmp_path / "m.git")
    scan(mirror, config=HELM, old_sha=None, new_sha=first_merge)

    work.git("reset", "-q", "--hard", base)
    work.commit("docs", author="Carol")
    work.git("merge", "-q", "--no-ff", "-m", "second merge", "feature", env=MERGER)
    second_merge = work.head()

    result = scan(work.mirror(mirror), config=HELM, old_sha=first_merge, new_sha=second_merge)

    assert result.removed_commits == (first_merge,)
    assert deploy_line(result) == [
        (second_merge, second_merge, "image", "2", "1", "force_push"),
        (second_merge, feature, "image", "1", "2", "commit"),
    ]
