"""The sync's short paths: nothing new upstream touches only the source until the target is due a check;
a change is one fetch and one porcelain push, whose status lines give the same per-ref results."""

from __future__ import annotations

import pytest

from provisioning import mirror as mirror_module
from provisioning.githttp import GitAccess
from provisioning.mirror import RefChange
from tests.provisioning.test_mirror import Setup, _kinds
from tests.support.gitrepos import git, refs


@pytest.fixture
def setup(tmp_path, git_serve, token) -> Setup:
    return Setup(tmp_path, git_serve, token)


@pytest.fixture
def git_calls(monkeypatch) -> list[tuple[str, ...]]:
    calls: list[tuple[str, ...]] = []
    run = mirror_module.GitClient.run

    def recording(self, *args, **kwargs):
        calls.append(args)
        return run(self, *args, **kwargs)

    monkeypatch.setattr(mirror_module.GitClient, "run", recording)
    return calls


def test_nothing_new_is_one_listing_of_the_source_while_the_target_is_trusted(setup, git_calls):
    setup.mirror.verify_interval_seconds = 3600
    setup.upstream.commit("first")
    setup.publish()
    setup.sync()
    git_calls.clear()
    setup.target_server.authorize = lambda path, user, password: None  # any request to the target fails

    result = setup.sync()

    assert not result.changed and not result.pushed
    assert [call[0] for call in git_calls] == ["ls-remote"]


def test_a_drifted_target_is_repaired_once_it_is_due_a_check(setup):
    setup.mirror.verify_interval_seconds = 3600
    setup.upstream.commit("first")
    setup.publish()
    setup.sync()
    setup.upstream.branch("stray")
    setup.upstream.push(setup.target_dir, "refs/heads/stray:refs/heads/stray")

    trusted = setup.sync()
    assert not trusted.pushed and "refs/heads/stray" in refs(setup.target_dir)
    setup.mirror.verify_interval_seconds = 0
    checked = setup.sync()

    assert checked.pushed and _kinds(checked) == {"refs/heads/stray": "deleted"}
    assert refs(setup.target_dir) == refs(setup.source_dir)


def test_a_change_is_fetch_and_one_porcelain_push_without_merge_base(setup, git_calls):
    setup.mirror.verify_interval_seconds = 3600
    base = setup.upstream.commit("base")
    setup.upstream.branch("feature")
    setup.publish()
    setup.sync()
    new = setup.upstream.commit("new")
    setup.upstream.tag("v1")
    setup.upstream.git("branch", "-D", "feature")
    setup.publish()
    git_calls.clear()

    result = setup.sync()

    assert [call[0] for call in git_calls] == ["ls-remote", "fetch", "for-each-ref", "push"]
    assert result.changes == (
        RefChange("refs/heads/feature", base, None, "deleted"),
        RefChange("refs/heads/main", base, new, "updated"),
        RefChange("refs/tags/v1", None, new, "created"),
    )
    assert refs(setup.target_dir) == refs(setup.source_dir)


def test_a_force_push_upstream_is_reported_forced_from_the_push_itself(setup, git_calls):
    base = setup.upstream.commit("base")
    doomed = setup.upstream.commit("doomed")
    setup.publish()
    setup.sync()
    setup.upstream.reset_hard(base)
    rewritten = setup.upstream.commit("rewritten")
    setup.publish()
    git_calls.clear()

    result = setup.sync()

    assert result.changes == (RefChange("refs/heads/main", doomed, rewritten, "forced"),)
    assert "merge-base" not in [call[0] for call in git_calls]


def test_the_default_branch_is_set_only_when_it_changes(setup):
    moved = []
    setup.upstream.commit("first")
    setup.publish()
    setup.sync(set_default_branch=moved.append)
    setup.upstream.commit("second")
    setup.publish()
    setup.sync(set_default_branch=moved.append)
    setup.upstream.branch("trunk")
    git("symbolic-ref", "HEAD", "refs/heads/trunk", cwd=setup.source_dir)
    setup.publish()
    setup.sync(set_default_branch=moved.append)

    assert moved == ["main", "trunk"]


def test_a_lost_record_falls_back_to_listing_the_target(setup):
    setup.upstream.commit("first")
    setup.publish()
    setup.sync()
    (setup.mirror.cache_path("app") / "dso-mirror-state.json").write_text("{not json")
    setup.target_server.authorize = lambda path, user, password: GitAccess.READ

    result = setup.sync()

    assert not result.changed and not result.pushed
