"""The sync's short paths: nothing new upstream touches only the source until the target is due a check;
a change is one fetch and one push posted by the console itself (``provisioning.git.receive_pack``), with
``git push --porcelain`` for whatever that post did not apply: the same per-ref results either way."""

from __future__ import annotations

import hashlib
import os

import pytest

from provisioning import mirror as mirror_module
from provisioning.errors import ProvisioningError
from provisioning.git import receive_pack, upload_pack
from provisioning.githttp import GitAccess
from provisioning.mirror import RefChange
from tests.provisioning.test_mirror import Setup, _kinds
from tests.support.gitrepos import WorkRepo, git, refs


@pytest.fixture
def setup(tmp_path, git_serve, token) -> Setup:
    return Setup(tmp_path, git_serve, token)


def _recording_requests(server) -> list[str]:
    """The repository path of every request ``server`` answers from now on (each is authorized once)."""
    asked: list[str] = []
    authorize = server.authorize
    server.authorize = lambda path, user, password: asked.append(path) or authorize(path, user, password)
    return asked


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
    asked = _recording_requests(setup.source_server)

    result = setup.sync()

    assert not result.changed and not result.pushed
    assert git_calls == []  # the source speaks protocol v2: its listing is one request and no process
    assert asked == ["team/app.git"]


def test_a_source_that_does_not_take_the_one_request_listing_is_listed_by_git(setup, git_calls, monkeypatch):
    setup.mirror.verify_interval_seconds = 3600
    setup.upstream.commit("first")
    setup.publish()
    setup.sync()
    git_calls.clear()
    monkeypatch.setattr(mirror_module, "list_refs", lambda *args, **kwargs: None)  # e.g. a v0-only server

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


def test_a_change_is_a_fetch_and_one_posted_push_without_git_push_nor_merge_base(setup, git_calls):
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

    asked = _recording_requests(setup.target_server)

    result = setup.sync()

    assert [call[0] for call in git_calls] == ["fetch", "pack-objects"]
    assert asked == ["dso/app.git"]  # one request to the target: the push itself, no listing first
    assert result.changes == (
        RefChange("refs/heads/feature", base, None, "deleted"),
        RefChange("refs/heads/main", base, new, "updated"),
        RefChange("refs/tags/v1", None, new, "created"),
    )
    assert refs(setup.target_dir) == refs(setup.source_dir)


def test_a_force_push_upstream_is_reported_forced_without_merge_base(setup, git_calls):
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


def _mirrored_then_one_commit_more(setup, git_calls) -> tuple[str, str]:
    """A first sync, then one new commit upstream: (the mirrored head, the new one); git calls cleared."""
    old = setup.upstream.commit("first")
    setup.publish()
    setup.sync()
    new = setup.upstream.commit("second")
    setup.publish()
    git_calls.clear()
    return old, new


def test_new_commits_are_fetched_by_sha_in_one_request_without_git_fetch(setup, git_calls):
    old, new = _mirrored_then_one_commit_more(setup, git_calls)
    asked = _recording_requests(setup.source_server)

    result = setup.sync()

    # The listing, then the fetch: its pack is unpacked and checked to connect before the ref moves.
    assert asked == ["team/app.git", "team/app.git"]
    assert [call[0] for call in git_calls] == ["unpack-objects", "rev-list", "pack-objects"]
    assert result.changes == (RefChange("refs/heads/main", old, new, "updated"),)
    assert refs(setup.mirror.cache_path("app")) == refs(setup.source_dir) == refs(setup.target_dir)


def test_without_the_one_request_fetch_new_commits_are_fetched_by_sha_without_a_second_listing(
        setup, git_calls, monkeypatch):
    old, new = _mirrored_then_one_commit_more(setup, git_calls)
    monkeypatch.setattr(mirror_module, "fetch_pack", lambda *args, **kwargs: False)  # e.g. a v0-only source

    result = setup.sync()

    fetch = next(call for call in git_calls if call[0] == "fetch")
    assert "--stdin" in fetch and "--prune" not in fetch
    assert result.changes == (RefChange("refs/heads/main", old, new, "updated"),)
    assert refs(setup.mirror.cache_path("app")) == refs(setup.source_dir) == refs(setup.target_dir)


def test_a_cache_whose_refs_were_packed_is_read_right(setup):
    old = setup.upstream.commit("first")
    setup.upstream.tag("v1", message="annotated")
    setup.publish()
    setup.sync()
    git("pack-refs", "--all", cwd=setup.mirror.cache_path("app"))
    new = setup.upstream.commit("second")
    setup.upstream.tag("v2")
    setup.publish()

    result = setup.sync()

    assert result.changes == (RefChange("refs/heads/main", old, new, "updated"),
                              RefChange("refs/tags/v2", None, new, "created"))
    assert refs(setup.mirror.cache_path("app")) == refs(setup.source_dir) == refs(setup.target_dir)


def test_a_source_that_refuses_the_listed_sha_gets_the_ordinary_fetch(setup, monkeypatch):
    base = setup.upstream.commit("base")
    setup.publish()
    setup.sync()
    setup.upstream.commit("listed")
    setup.publish()
    listed = mirror_module._advertised

    def rewritten_after_listing(remote, *, timeout):
        # The source is force-pushed and garbage-collected between the listing and the fetch: the listed
        # commit no longer exists there.
        answer = listed(remote, timeout=timeout)
        setup.upstream.reset_hard(base)
        setup.upstream.commit("replacement")
        git("push", "--force", str(setup.source_dir), "HEAD:refs/heads/main", cwd=setup.upstream.path)
        git("reflog", "expire", "--expire=now", "--all", cwd=setup.source_dir)
        git("gc", "--prune=now", "--quiet", cwd=setup.source_dir)
        return answer

    monkeypatch.setattr(mirror_module, "_advertised", rewritten_after_listing)
    result = setup.sync()

    replacement = refs(setup.source_dir)["refs/heads/main"]
    assert result.changes == (RefChange("refs/heads/main", base, replacement, "updated"),)
    assert refs(setup.target_dir) == refs(setup.source_dir)


def test_a_target_that_moved_since_the_record_refuses_the_post_and_git_push_repairs_it(setup):
    setup.mirror.verify_interval_seconds = 3600
    base = setup.upstream.commit("base")
    setup.publish()
    setup.sync()
    stray = WorkRepo.create(setup.tmp_path / "stray")
    stray.git("fetch", "--quiet", str(setup.target_dir), "main")
    stray.git("reset", "--quiet", "--hard", "FETCH_HEAD")
    drifted = stray.commit("pushed to the mirror by someone")
    stray.push(setup.target_dir, "HEAD:refs/heads/main")
    new = setup.upstream.commit("new")
    setup.publish()

    result = setup.sync(recorded_refs={"refs/heads/main": base})

    # The post named base as main's old SHA: the target refused it, and git push overwrote the drift.
    assert result.changes == (RefChange("refs/heads/main", base, new, "updated"),)
    assert refs(setup.target_dir) == refs(setup.source_dir)
    assert drifted not in refs(setup.target_dir).values()


def test_a_ref_the_target_declines_is_left_to_git_push_whose_error_is_raised_after_the_rest_landed(setup):
    setup.upstream.commit("base")
    setup.upstream.branch("locked")
    setup.publish()
    setup.sync()
    hook = setup.target_dir / "hooks" / "update"
    hook.write_text('#!/bin/sh\n[ "$1" = refs/heads/locked ] && { echo "locked is frozen" >&2; exit 1; }\nexit 0\n')
    hook.chmod(0o755)
    new = setup.upstream.commit("new")
    setup.upstream.git("branch", "-f", "locked", "HEAD")
    setup.publish()

    with pytest.raises(ProvisioningError) as raised:
        setup.sync()

    assert "locked" in raised.value.message
    assert refs(setup.target_dir)["refs/heads/main"] == new  # accepted by the post, not undone
    assert refs(setup.target_dir)["refs/heads/locked"] != new


def test_an_answer_lost_after_the_target_applied_the_post_still_reports_every_change(setup, monkeypatch):
    base = setup.upstream.commit("base")
    setup.publish()
    setup.sync()
    new = setup.upstream.commit("new")
    setup.upstream.tag("v2")
    setup.publish()
    monkeypatch.setattr(receive_pack, "_accepted", lambda body, asked: set())  # the answer never arrived

    result = setup.sync(recorded_refs={"refs/heads/main": base})

    # git push found both refs up to date; the changes come from the record, as after a retried attempt.
    assert result.changes == (
        RefChange("refs/heads/main", base, new, "updated"),
        RefChange("refs/tags/v2", None, new, "created"),
    )
    assert refs(setup.target_dir) == refs(setup.source_dir)


def test_a_pack_that_leaves_a_hole_moves_no_ref_and_git_fetch_does_it_right(setup, git_calls, monkeypatch):
    old = setup.upstream.commit("first")
    setup.publish()
    setup.sync()
    new = setup.upstream.commit("second")
    setup.publish()
    received = []

    def emptied(body):
        pack = unpacked(body)
        received.append(pack)
        header = pack[:8] + (0).to_bytes(4, "big")
        return header + hashlib.sha1(header).digest()  # a valid pack, of no objects: the new commit is missing

    unpacked = upload_pack._packfile
    monkeypatch.setattr(upload_pack, "_packfile", emptied)
    git_calls.clear()

    result = setup.sync()

    assert received
    assert [call[0] for call in git_calls][:3] == ["unpack-objects", "rev-list", "fetch"]  # checked, then git
    assert result.changes == (RefChange("refs/heads/main", old, new, "updated"),)
    assert refs(setup.mirror.cache_path("app")) == refs(setup.source_dir) == refs(setup.target_dir)


def test_a_pack_too_large_to_hold_is_pushed_by_git_push_which_streams_it(setup, git_calls, monkeypatch):
    base = setup.upstream.commit("base")
    setup.publish()
    setup.sync()
    new = setup.upstream.commit("large", {"large.bin": os.urandom(50_000)})  # incompressible
    setup.publish()
    monkeypatch.setattr(receive_pack, "MAX_PACK_BYTES", 1_000)
    git_calls.clear()

    result = setup.sync()

    assert [call[0] for call in git_calls][-2:] == ["pack-objects", "push"]
    assert result.changes == (RefChange("refs/heads/main", base, new, "updated"),)
    assert refs(setup.target_dir) == refs(setup.source_dir)


def test_an_annotated_tag_and_a_new_branch_take_the_one_request_fetch_and_push(setup, git_calls):
    setup.upstream.commit("base")
    setup.publish()
    setup.sync()
    new = setup.upstream.commit("release")
    setup.upstream.tag("v2.0.0", message="annotated")
    setup.upstream.branch("hotfix")
    setup.publish()
    git_calls.clear()

    result = setup.sync()

    assert [call[0] for call in git_calls] == ["unpack-objects", "rev-list", "pack-objects"]
    assert {(c.ref, c.kind) for c in result.changes} == {
        ("refs/heads/main", "updated"), ("refs/heads/hotfix", "created"), ("refs/tags/v2.0.0", "created")}
    assert refs(setup.target_dir) == refs(setup.source_dir) == refs(setup.mirror.cache_path("app"))
    assert git("cat-file", "-t", "refs/tags/v2.0.0", cwd=setup.target_dir).strip() == "tag"
    assert refs(setup.target_dir)["refs/heads/hotfix"] == new
