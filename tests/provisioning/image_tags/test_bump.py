"""bump_image_tag against a bare repository reached over a real transport (file://)."""

from __future__ import annotations

import stat

import pytest

from provisioning.errors import Conflict, InvalidInput, NotFound, Unreachable
from provisioning.forge.base import GitRemote
from provisioning.image_tags import DeployConfig, bump_image_tag, scan

from .conftest import WorkRepo, git

VALUES = """\
# Shop backend values — keep the comments!
replicaCount: 2
image:
  repository: registry.example.com/shop/backend   # the app
  tag: "1.0.0"      # bumped by DSO Console
  pullPolicy: IfNotPresent
worker:
  image: 'registry.example.com/shop/worker:1.0.0'  # string form, single quotes
resources: {limits: {cpu: 500m}}
"""


@pytest.fixture
def origin(work, tmp_path):
    """A bare 'external' repository seeded from ``work``; returns (bare path, remote)."""
    work.write("chart/values.yaml", VALUES)
    work.write("deploy/kustomization.yaml", "images:\n  - name: api   # overridden\n    newTag: v1\n  - {name: db}\n")
    work.commit("seed")
    bare = tmp_path / "origin.git"
    git("init", "-q", "--bare", str(bare), cwd=tmp_path)
    work.git("push", "-q", str(bare), "main")
    return bare, GitRemote(url=bare.as_uri())


def _bump(remote, tmp_path, **kwargs):
    defaults = dict(
        source=remote,
        branch="main",
        config=DeployConfig("helm", "chart"),
        image="registry.example.com/shop/backend",
        tag="1.1.0",
        work_dir=tmp_path / "bump-cache",
        requested_by="alice",
        reason="release 1.1.0",
    )
    return bump_image_tag(**{**defaults, **kwargs})


def _show(bare, path: str, ref: str = "main") -> str:
    return git("show", f"{ref}:{path}", cwd=bare)


def test_bump_changes_only_the_value_and_writes_a_structured_commit(origin, tmp_path):
    bare, remote = origin
    result = _bump(remote, tmp_path)

    assert (result.changed, result.file, result.location, result.old_tag, result.new_tag) == (
        True, "chart/values.yaml", "image", "1.0.0", "1.1.0",
    )  # fmt: skip
    assert _show(bare, "chart/values.yaml") == VALUES.replace('tag: "1.0.0"', 'tag: "1.1.0"')
    assert git("rev-parse", "main", cwd=bare).strip() == result.commit_sha
    message = git("log", "-1", "--format=%B", "main", cwd=bare)
    assert message.splitlines()[0] == "chore(deploy): bump registry.example.com/shop/backend 1.0.0 -> 1.1.0"
    for trailer in ("Image: registry.example.com/shop/backend", "Old-Tag: 1.0.0", "New-Tag: 1.1.0",
                    "Requested-By: alice", "Reason: release 1.1.0", "File: chart/values.yaml", "Location: image"):
        assert trailer in message.splitlines()
    assert git("log", "-1", "--format=%an <%ae>", "main", cwd=bare).strip() == "DSO Console <dso-console@localhost>"
    # The scan sees the bump as a change made by that commit.
    change = scan(bare, config=DeployConfig("helm", "chart"), old_sha="main~1", new_sha="main").changes
    assert [(c.commit_sha, c.old_tag, c.new_tag) for c in change] == [(result.commit_sha, "1.0.0", "1.1.0")]


def test_bump_string_form_keeps_quotes(origin, tmp_path):
    bare, remote = origin
    _bump(remote, tmp_path, image="registry.example.com/shop/worker", tag="2.0.0")
    expected = VALUES.replace("'registry.example.com/shop/worker:1.0.0'", "'registry.example.com/shop/worker:2.0.0'")
    assert _show(bare, "chart/values.yaml") == expected


def test_bump_kustomize_new_tag_and_insert_missing_one(origin, tmp_path):
    bare, remote = origin
    config = DeployConfig("kustomize", "deploy")
    _bump(remote, tmp_path, config=config, image="api", tag="v2")
    _bump(remote, tmp_path, config=config, image="db", tag="15")
    assert _show(bare, "deploy/kustomization.yaml") == (
        "images:\n  - name: api   # overridden\n    newTag: v2\n  - {name: db, newTag: \"15\"}\n"
    )


def test_same_tag_is_a_recorded_no_op(origin, tmp_path):
    bare, remote = origin
    before = git("rev-parse", "main", cwd=bare).strip()
    result = _bump(remote, tmp_path, tag="1.0.0")
    assert (result.changed, result.commit_sha, result.old_tag) == (False, None, "1.0.0")
    assert git("rev-parse", "main", cwd=bare).strip() == before


def test_ambiguous_and_unknown_images_are_refused(origin, work, tmp_path):
    bare, remote = origin
    work.write("chart/values.yaml", VALUES + "canary:\n  image:\n    repository: registry.example.com/shop/backend\n    tag: '1.0.0'\n")
    work.commit("canary")
    work.git("push", "-q", str(bare), "main")
    with pytest.raises(InvalidInput) as exc:
        _bump(remote, tmp_path)
    assert "chart/values.yaml:image" in exc.value.message and "chart/values.yaml:canary.image" in exc.value.message
    result = _bump(remote, tmp_path, location="canary.image")
    assert result.changed and result.location == "canary.image"
    with pytest.raises(InvalidInput, match="not set"):
        _bump(remote, tmp_path, image="registry.example.com/other")
    with pytest.raises(InvalidInput):
        _bump(remote, tmp_path, tag="bad tag!")
    with pytest.raises(NotFound):
        _bump(remote, tmp_path, branch="no-such-branch")


def _racing_hook(clone, bare, tmp_path, times: int) -> None:
    """A pre-push hook that lets another writer push to the origin first, ``times`` times."""
    rival = WorkRepo(tmp_path / "rival")
    rival.git("pull", "-q", str(bare), "main")
    counter = tmp_path / "races"
    counter.write_text("0")
    hook = clone / "hooks" / "pre-push"
    hook.write_text(
        "#!/bin/sh\n"
        "unset GIT_DIR GIT_WORK_TREE GIT_INDEX_FILE\n"
        "export GIT_AUTHOR_NAME=Rival GIT_AUTHOR_EMAIL=r@example.com\n"
        "export GIT_COMMITTER_NAME=Rival GIT_COMMITTER_EMAIL=r@example.com\n"
        f'n=$(cat "{counter}")\n'
        f'[ "$n" -ge {times} ] && exit 0\n'
        f'echo $((n + 1)) > "{counter}"\n'
        f'cd "{rival.path}" && echo "$n" > "rival-$n.txt" && git add -A && '
        'git commit -q -m "rival change" && '
        f'git pull -q --rebase "{bare}" main && git push -q "{bare}" HEAD:main >&2\n'
    )
    hook.chmod(hook.stat().st_mode | stat.S_IXUSR)


def test_non_fast_forward_is_redone_once_on_the_new_tip(origin, tmp_path):
    bare, remote = origin
    _bump(remote, tmp_path, tag="1.0.1")  # creates the cache clone
    _racing_hook(tmp_path / "bump-cache", bare, tmp_path, times=1)

    result = _bump(remote, tmp_path, tag="1.1.0")

    assert result.changed and result.old_tag == "1.0.1"
    log = git("log", "--format=%s", "main", cwd=bare).splitlines()
    assert log[:2] == ["chore(deploy): bump registry.example.com/shop/backend 1.0.1 -> 1.1.0", "rival change"]
    assert 'tag: "1.1.0"' in _show(bare, "chart/values.yaml")


def test_second_rejection_is_a_conflict(origin, tmp_path):
    bare, remote = origin
    _bump(remote, tmp_path, tag="1.0.1")
    _racing_hook(tmp_path / "bump-cache", bare, tmp_path, times=2)
    with pytest.raises(Conflict):
        _bump(remote, tmp_path, tag="1.1.0")
    assert "1.0.1" in _show(bare, "chart/values.yaml")


def test_unreachable_source_is_translated_without_leaking_the_password(tmp_path):
    secret = "s3cret-token-value"
    remote = GitRemote(url="http://127.0.0.1:9/infra.git", username="bot", password=secret)
    with pytest.raises(Unreachable) as exc:
        _bump(remote, tmp_path)
    assert secret not in str(exc.value)
    assert secret not in (tmp_path / "bump-cache" / "config").read_text()
