"""Mirror: external source → internal target, both real bare repositories served over loopback smart HTTP."""

from __future__ import annotations

import fcntl
import os
import subprocess
import threading
from pathlib import Path

import pytest

from provisioning.errors import AuthenticationFailed, InvalidInput, NotFound, PermissionDenied, Unreachable
from provisioning.forge.base import GitRemote
from provisioning.githttp import GitAccess
from provisioning.mirror import Mirror, RefChange, ls_remote
from tests.support.gitrepos import WorkRepo, closed_port, git, grep_tree, init_bare, refs


class Setup:
    """An upstream work repo published to a bare source, a bare target, and the remotes reaching them."""

    def __init__(self, tmp_path: Path, git_serve, token: str, *, source_token: str | None = None):
        self.tmp_path = tmp_path
        self.upstream = WorkRepo.create(tmp_path / "upstream")
        self.source_dir = init_bare(tmp_path / "external" / "team" / "app.git")
        self.target_dir = init_bare(tmp_path / "internal" / "dso" / "app.git")
        self.source_server = git_serve(tmp_path / "external", read_token=source_token,
                                       public=source_token is None)
        self.target_server = git_serve(tmp_path / "internal", write_token=token)
        self.source = GitRemote(f"{self.source_server.url}/team/app.git", "reader", source_token)
        self.target = GitRemote(f"{self.target_server.url}/dso/app.git", "dso-console", token)
        self.mirror = Mirror(tmp_path / "cache")

    def publish(self) -> None:
        self.upstream.publish(self.source_dir)

    def sync(self, **overrides):
        params = {"cache_key": "app", "source": self.source, "target": self.target, **overrides}
        return self.mirror.sync(**params)


@pytest.fixture
def setup(tmp_path, git_serve, token) -> Setup:
    return Setup(tmp_path, git_serve, token)


def _kinds(result) -> dict[str, str]:
    return {change.ref: change.kind for change in result.changes}


def test_first_sync_creates_branches_and_tags(setup):
    main = setup.upstream.commit("first")
    setup.upstream.branch("develop")
    setup.upstream.tag("v1.0.0", message="release")
    setup.upstream.tag("light")
    setup.publish()

    result = setup.sync()

    assert result.changed
    assert _kinds(result) == {
        "refs/heads/develop": "created",
        "refs/heads/main": "created",
        "refs/tags/light": "created",
        "refs/tags/v1.0.0": "created",
    }
    assert [c.ref for c in result.changes] == sorted(c.ref for c in result.changes)
    assert all(c.old_sha is None for c in result.changes)
    assert result.default_branch == "main" and result.head_sha == main
    assert refs(setup.target_dir) == refs(setup.source_dir)
    assert ls_remote(setup.target) == refs(setup.source_dir)


def test_new_commits_are_updates(setup):
    old = setup.upstream.commit("first")
    setup.publish()
    setup.sync()
    new = setup.upstream.commit("second")
    setup.publish()

    result = setup.sync()

    assert result.changes == (RefChange("refs/heads/main", old, new, "updated"),)
    assert refs(setup.target_dir)["refs/heads/main"] == new


def test_deleted_branches_and_tags_are_pruned_in_target(setup):
    setup.upstream.commit("first")
    setup.upstream.branch("feature")
    setup.upstream.tag("v1", message="one")
    setup.upstream.tag("v2")
    setup.publish()
    setup.sync()
    setup.upstream.delete_branch("feature")
    setup.upstream.delete_tag("v1")
    setup.publish()

    result = setup.sync()

    assert _kinds(result) == {"refs/heads/feature": "deleted", "refs/tags/v1": "deleted"}
    assert all(c.new_sha is None for c in result.changes)
    assert set(refs(setup.target_dir)) == {"refs/heads/main", "refs/tags/v2"}


def test_rewritten_history_is_forced(setup):
    base = setup.upstream.commit("base")
    doomed = setup.upstream.commit("doomed")
    setup.publish()
    setup.sync()
    setup.upstream.reset_hard(base)
    rewritten = setup.upstream.commit("rewritten")
    setup.publish()

    result = setup.sync()

    assert result.changes == (RefChange("refs/heads/main", doomed, rewritten, "forced"),)
    assert refs(setup.target_dir)["refs/heads/main"] == rewritten


def test_target_history_the_cache_never_saw_counts_as_forced(setup, tmp_path):
    setup.upstream.commit("upstream")
    setup.publish()
    stranger = WorkRepo.create(tmp_path / "stranger")
    foreign = stranger.commit("pushed to the target by someone else")
    stranger.publish(setup.target_dir)

    result = setup.sync()

    assert result.changes[0].old_sha == foreign and result.changes[0].kind == "forced"
    assert refs(setup.target_dir) == refs(setup.source_dir)


def test_second_sync_without_news_changes_nothing_and_does_not_push(setup):
    setup.upstream.commit("first")
    setup.upstream.tag("v1", message="one")
    setup.publish()
    setup.sync()
    before = refs(setup.target_dir)
    # From now on the target refuses writes: any push attempt would raise PermissionDenied.
    setup.target_server.authorize = lambda path, user, password: GitAccess.READ

    result = setup.sync()

    assert not result.changed and result.changes == ()
    assert result.default_branch == "main" and result.head_sha == before["refs/heads/main"]
    assert refs(setup.target_dir) == before


def test_default_branch_follows_the_source(setup):
    setup.upstream.commit("first")
    setup.upstream.branch("trunk")
    setup.publish()
    git("symbolic-ref", "HEAD", "refs/heads/trunk", cwd=setup.source_dir)

    result = setup.sync()

    assert result.default_branch == "trunk"
    assert result.head_sha == refs(setup.source_dir)["refs/heads/trunk"]


def test_empty_source_syncs_to_nothing(setup):
    result = setup.sync()
    assert result.changes == () and result.head_sha is None


def test_deleting_the_targets_default_branch_is_refused(setup):
    setup.upstream.commit("first")
    setup.upstream.tag("v1")
    setup.publish()
    setup.sync()
    git("update-ref", "-d", "refs/heads/main", cwd=setup.source_dir)

    with pytest.raises(PermissionDenied, match="rejected the push"):
        setup.sync()


def test_renamed_default_branch_moves_the_targets_head_before_pruning(setup):
    setup.upstream.commit("first")
    setup.publish()
    setup.sync()
    setup.upstream.git("branch", "--move", "main", "trunk")
    git("symbolic-ref", "HEAD", "refs/heads/trunk", cwd=setup.source_dir)
    setup.publish()
    moved = []

    def set_default_branch(branch):
        moved.append((branch, set(refs(setup.target_dir))))
        git("symbolic-ref", "HEAD", f"refs/heads/{branch}", cwd=setup.target_dir)

    result = setup.sync(set_default_branch=set_default_branch)

    assert _kinds(result) == {"refs/heads/main": "deleted", "refs/heads/trunk": "created"}
    assert moved == [("trunk", {"refs/heads/main", "refs/heads/trunk"})]  # called between the two pushes
    assert set(refs(setup.target_dir)) == {"refs/heads/trunk"}


def test_private_source_with_the_right_token(tmp_path, git_serve, token):
    setup = Setup(tmp_path, git_serve, token, source_token="src-" + token)
    sha = setup.upstream.commit("private")
    setup.publish()

    result = setup.sync()

    assert result.head_sha == sha
    assert refs(setup.target_dir)["refs/heads/main"] == sha
    assert ("team/app.git", "reader") in setup.source_server.authorize.calls


def test_wrong_source_token_is_authentication_failed_without_the_token(tmp_path, git_serve, token):
    setup = Setup(tmp_path, git_serve, token, source_token="src-" + token)
    setup.upstream.commit("private")
    setup.publish()
    wrong = GitRemote(setup.source.url, "reader", "wrong-" + token)

    with pytest.raises(AuthenticationFailed) as caught:
        setup.sync(source=wrong)

    error = caught.value
    assert error.code == "authentication_failed" and not error.transient
    assert str(error) == f"authentication failed for {setup.source.url}: check the username and token"
    for text in (str(error), repr(error), repr(error.args), repr(wrong)):
        assert token not in text
    assert refs(setup.target_dir) == {}


def test_missing_source_credentials_are_authentication_failed(tmp_path, git_serve, token):
    setup = Setup(tmp_path, git_serve, token, source_token="src-" + token)
    with pytest.raises(AuthenticationFailed):
        setup.sync(source=GitRemote(setup.source.url))


def test_wrong_target_token_is_authentication_failed(setup):
    setup.upstream.commit("first")
    setup.publish()
    with pytest.raises(AuthenticationFailed, match="check the username and token"):
        setup.sync(target=GitRemote(setup.target.url, "dso-console", "nope"))


def test_read_only_target_token_is_permission_denied(tmp_path, git_serve, token):
    setup = Setup(tmp_path, git_serve, token)
    setup.target_server.authorize.read_token = "read-" + token
    setup.upstream.commit("first")
    setup.publish()
    with pytest.raises(PermissionDenied):
        setup.sync(target=GitRemote(setup.target.url, "argocd", "read-" + token))


def test_push_rejected_by_a_hook_is_permission_denied(setup):
    hook = setup.target_dir / "hooks" / "pre-receive"
    hook.write_text("#!/bin/sh\necho 'protected: no pushes today' >&2\nexit 1\n")
    hook.chmod(0o755)
    setup.upstream.commit("first")
    setup.publish()
    with pytest.raises(PermissionDenied, match="rejected the push"):
        setup.sync()


def test_unknown_source_repository_is_not_found(setup):
    with pytest.raises(NotFound):
        setup.sync(source=GitRemote(f"{setup.source_server.url}/team/missing.git"))


def test_unreachable_source_is_transient(setup):
    source = GitRemote(f"http://127.0.0.1:{closed_port()}/team/app.git", "reader", "secret-xyz")
    with pytest.raises(Unreachable) as caught:
        setup.sync(source=source)
    assert caught.value.transient and caught.value.code == "unreachable"
    assert "secret-xyz" not in str(caught.value)


def test_ls_remote_lists_heads_and_tags_without_peeled_entries(setup):
    sha = setup.upstream.commit("first")
    setup.upstream.tag("v1", message="annotated")
    setup.publish()
    listed = ls_remote(setup.source)
    assert listed["refs/heads/main"] == sha
    assert set(listed) == {"refs/heads/main", "refs/tags/v1"}


def test_secrets_are_never_stored_or_shown(tmp_path, git_serve, token):
    source_token = "src-" + token
    setup = Setup(tmp_path, git_serve, token, source_token=source_token)
    setup.upstream.commit("first")
    setup.upstream.tag("v1", message="one")
    setup.publish()
    setup.sync()
    setup.upstream.commit("second")
    setup.publish()
    setup.sync()

    cache = setup.mirror.cache_path("app")
    for secret in (token, source_token):
        assert grep_tree(cache, secret) == []
        assert grep_tree(setup.target_dir, secret) == []
        objects = subprocess.run(["git", "cat-file", "--batch-all-objects", "--batch"], cwd=cache,
                                 capture_output=True, check=True).stdout
        assert secret.encode() not in objects
    assert "remote" not in (cache / "config").read_text()


def test_cache_is_reused_and_rebuilt_after_removal(setup):
    setup.upstream.commit("first")
    setup.publish()
    setup.sync()
    cache = setup.mirror.cache_path("app")
    assert (cache / "HEAD").is_file()

    setup.mirror.remove_cache("app")
    assert not cache.exists()
    # A fresh cache against an up-to-date target: nothing to push.
    assert not setup.sync().changed
    assert (cache / "HEAD").is_file()


def test_invalid_cache_key_is_rejected(setup):
    for key in ("../escape", "a/b", "", ".hidden"):
        with pytest.raises(InvalidInput):
            setup.mirror.cache_path(key)


def _blocked_flock_waiters(lock_file: Path) -> int:
    """How many waiters are blocked on a flock of ``lock_file``, read from /proc/locks (no sleeping)."""
    inode = str(os.stat(lock_file).st_ino)
    count = 0
    for line in Path("/proc/locks").read_text().splitlines():
        fields = line.split()
        if "->" in fields and "FLOCK" in fields and any(f.count(":") == 2 and f.rsplit(":", 1)[1] == inode
                                                        for f in fields):
            count += 1
    return count


def test_sync_waits_for_the_cache_lock(setup):
    setup.upstream.commit("first")
    setup.publish()
    lock_file = setup.mirror.cache_root / "app.lock"
    lock_file.parent.mkdir(parents=True, exist_ok=True)
    results = []
    with open(lock_file, "a") as held:
        fcntl.flock(held, fcntl.LOCK_EX)  # as another worker process would
        worker = threading.Thread(target=lambda: results.append(setup.sync()))
        worker.start()
        while _blocked_flock_waiters(lock_file) == 0:
            assert worker.is_alive(), "sync finished although the cache was locked"
            threading.Event().wait(0.01)
        assert setup.source_server.authorize.calls == []  # nothing fetched while the lock was held
        fcntl.flock(held, fcntl.LOCK_UN)
    worker.join(timeout=60)
    assert results and results[0].changed


def test_concurrent_syncs_of_one_cache_are_serialized(setup):
    setup.upstream.commit("first")
    setup.upstream.tag("v1")
    setup.publish()
    results, errors = [], []

    def run():
        try:
            results.append(Mirror(setup.mirror.cache_root).sync(
                cache_key="app", source=setup.source, target=setup.target))
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == []
    # Serialized: the first pushes everything, the others find the target already up to date.
    assert sorted(r.changed for r in results) == [False, False, True]
    assert refs(setup.target_dir) == refs(setup.source_dir)
