"""The one git error translator, exercised through real git over real HTTP (``GitHttpServer``).

A pre-receive hook's words reach git's output as ``remote:`` lines; they must never be read as git's own
verdict. A hook rejecting a push to ``release-4011`` was once reported as "refused the credentials"
(a bare "401" matched), and one mentioning ``JIRA-4042`` as "not found".
"""

from __future__ import annotations

from pathlib import Path

import pytest

from provisioning.delivery import GitOpsDelivery
from provisioning.errors import AuthenticationFailed, PermissionDenied
from provisioning.forge.base import GitRemote
from provisioning.image_tags import DeployConfig, bump_image_tag
from tests.support.gitrepos import WorkRepo, init_bare, refs, serve

TOKEN = "write-token-for-hooks"
VALUES = 'image:\n  repository: registry.example.com/shop/backend\n  tag: "1.0.0"\n'


def _origin(tmp_path: Path, hook_message: str) -> tuple[Path, WorkRepo]:
    work = WorkRepo.create(tmp_path / "work")
    work.commit("seed", {"chart/values.yaml": VALUES})
    work.branch("release-4011")
    bare = init_bare(tmp_path / "served" / "team" / "infra.git")
    work.publish(bare)
    hook = bare / "hooks" / "pre-receive"
    hook.write_text(f"#!/bin/sh\necho '{hook_message}' >&2\nexit 1\n")
    hook.chmod(0o755)
    return bare, work


def _bump(remote: GitRemote, tmp_path: Path, branch: str = "release-4011"):
    return bump_image_tag(source=remote, branch=branch, config=DeployConfig("helm", "chart"),
                          image="registry.example.com/shop/backend", tag="1.1.0", work_dir=tmp_path / "bump",
                          requested_by="alice")


@pytest.mark.parametrize("hook_message", [
    "release-4011 is frozen: pushes are refused",
    "see JIRA-4042 before pushing to release branches",
    "error 403: policy says no (ticket 5031)",
])
def test_a_hook_rejecting_a_bump_is_reported_as_a_hook_rejection(tmp_path, hook_message):
    bare, _work = _origin(tmp_path, hook_message)
    before = refs(bare)
    with serve(tmp_path / "served", write_token=TOKEN) as server:
        remote = GitRemote(f"{server.url}/team/infra.git", "bot", TOKEN)
        with pytest.raises(PermissionDenied) as caught:
            _bump(remote, tmp_path)
    assert caught.value.code == "permission_denied"
    assert "rejected the push" in str(caught.value)
    assert hook_message in str(caught.value)  # the server's own words, for the person to act on
    assert TOKEN not in str(caught.value)
    assert refs(bare) == before


def test_a_hook_rejecting_a_delivery_is_reported_as_a_hook_rejection(tmp_path):
    bare, _work = _origin(tmp_path, "release-4011 is frozen")
    with serve(tmp_path / "served", write_token=TOKEN) as server:
        delivery = GitOpsDelivery(GitRemote(f"{server.url}/team/infra.git", "bot", TOKEN), tmp_path / "gitops",
                                  branch="release-4011")
        with pytest.raises(PermissionDenied, match="rejected the push"):
            delivery.deliver("apps/shop", {"app.yaml": "kind: Application\n"}, message="deliver shop")


def test_a_wrong_token_is_still_a_credentials_refusal(tmp_path):
    _origin(tmp_path, "unused")
    with serve(tmp_path / "served", write_token=TOKEN) as server:
        remote = GitRemote(f"{server.url}/team/infra.git", "bot", "wrong-" + TOKEN)
        with pytest.raises(AuthenticationFailed) as caught:
            _bump(remote, tmp_path)
    assert "wrong-" + TOKEN not in str(caught.value)
