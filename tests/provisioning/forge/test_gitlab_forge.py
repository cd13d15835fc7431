"""GitLabForge against the loopback GitLab double: REST v4 for structure, real git smart HTTP for content."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from provisioning.errors import (
    AuthenticationFailed,
    Conflict,
    InvalidInput,
    NotFound,
    PermissionDenied,
    Unreachable,
)
from provisioning.forge.base import GitRemote
from provisioning.forge.gitlab import GitLabForge, GitLabSettings
from provisioning.git.env import git_environment
from provisioning.mirror import Mirror
from tests.doubles.gitlab import DEVELOPER, GitLabDouble
from tests.doubles.gitlab.fixtures import gitlab_double  # noqa: F401 - fixture
from tests.support.gitrepos import WorkRepo, closed_port, head_branch, init_bare, refs, serve

REPO = "dso/acme/shop/backend"


@pytest.fixture
def forge(gitlab_double: GitLabDouble) -> GitLabForge:
    return GitLabForge(GitLabSettings(url=gitlab_double.url, token=gitlab_double.admin_token,
                                      bot_token=gitlab_double.bot_token, git_http_url=gitlab_double.git.url))


@pytest.fixture
def repo(forge: GitLabForge) -> str:
    forge.ensure_group("dso/acme/shop", name="Shop")
    forge.ensure_repository(REPO, description="Backend")
    return REPO


def settings_for(double: GitLabDouble, token: str) -> GitLabSettings:
    return GitLabSettings(url=double.url, token=token, bot_token=double.bot_token)


def push(work: WorkRepo, remote: GitRemote, *refspecs: str) -> subprocess.CompletedProcess:
    """git push that may fail: returns the process so tests can read GitLab's refusal on stderr."""
    return subprocess.run(["git", "push", remote.url, *refspecs], cwd=work.path, capture_output=True,
                          text=True, env=git_environment(remote), timeout=60)


# --- structure, idempotency, adoption ----------------------------------------------------------------------

def test_creates_groups_and_project_once(forge: GitLabForge, gitlab_double: GitLabDouble):
    group = forge.ensure_group(forge.group_path_for("acme", "shop"), name="Shop", description="The shop")
    created = forge.ensure_repository(REPO, description="Backend")

    assert group.path == "dso/acme/shop" and group.created and group.name == "Shop"
    assert created.created and created.path == REPO and created.default_branch is None
    assert created.clone_url == gitlab_double.clone_url(REPO) == forge.clone_url(REPO)
    posted = [(r.path, r.body.get("parent_id")) for r in gitlab_double.state.writes()]
    dso, acme = gitlab_double.state.group("dso"), gitlab_double.state.group("dso/acme")
    assert posted == [("/groups", None), ("/groups", dso.id), ("/groups", acme.id), ("/projects", None)]
    project = gitlab_double.project(REPO)
    assert project.namespace_id == gitlab_double.state.group("dso/acme/shop").id
    assert "managed-by-dso-console" in project.topics
    assert project.description.startswith("Backend") and "managed-by-dso-console" in project.description

    gitlab_double.state.requests.clear()
    again_group = forge.ensure_group("dso/acme/shop", name="Shop")
    again = forge.ensure_repository(REPO, description="Backend")

    assert not again_group.created and not again.created and again.path == REPO
    assert gitlab_double.state.writes() == []


@pytest.mark.parametrize("marker", ["topic", "description"])
def test_adopts_a_project_carrying_the_marker(forge: GitLabForge, gitlab_double: GitLabDouble, marker: str):
    forge.ensure_group("dso/acme/shop", name="Shop")
    namespace = gitlab_double.state.group("dso/acme/shop")
    gitlab_double.state.create_project(gitlab_double.admin, {
        "path": "backend", "namespace_id": namespace.id,
        **({"topics": ["managed-by-dso-console"]} if marker == "topic"
           else {"description": "Imported. Managed by DSO Console (managed-by-dso-console)."}),
    })
    gitlab_double.state.requests.clear()

    adopted = forge.ensure_repository(REPO)

    assert not adopted.created and adopted.path == REPO
    assert gitlab_double.state.writes() == []


def test_refuses_a_project_it_does_not_manage(forge: GitLabForge, gitlab_double: GitLabDouble):
    forge.ensure_group("dso/acme/shop", name="Shop")
    namespace = gitlab_double.state.group("dso/acme/shop")
    gitlab_double.state.create_project(gitlab_double.admin, {"path": "backend", "namespace_id": namespace.id})
    gitlab_double.state.requests.clear()

    with pytest.raises(Conflict, match="path taken by a project DSO Console does not manage"):
        forge.ensure_repository(REPO)
    assert gitlab_double.state.writes() == []


def test_set_default_branch_and_archive(forge: GitLabForge, gitlab_double: GitLabDouble, repo: str,
                                        tmp_path: Path):
    work = WorkRepo.create(tmp_path / "work")
    work.commit("first")
    work.branch("develop")
    assert push(work, forge.push_remote(repo), "refs/heads/*:refs/heads/*").returncode == 0

    forge.set_default_branch(repo, "develop")
    forge.archive_repository(repo)
    forge.archive_repository(repo)  # already archived: no second request

    assert forge.get_repository(repo).default_branch == "develop"
    assert head_branch(gitlab_double.repo_dir(repo)) == "develop"
    assert gitlab_double.project(repo).archived
    archive = f"/projects/{gitlab_double.project(repo).id}/archive"
    assert [r.path for r in gitlab_double.state.writes()].count(archive) == 1
    with pytest.raises(InvalidInput, match="Could not set the default branch"):
        forge.set_default_branch(repo, "nope")


# --- error translation -------------------------------------------------------------------------------------

def test_unknown_token_is_authentication_failed_without_leaking_it(gitlab_double: GitLabDouble):
    forge = GitLabForge(settings_for(gitlab_double, "glpat-not-a-real-token"))

    with pytest.raises(AuthenticationFailed) as caught:
        forge.ensure_group("dso", name="DSO")

    assert "DSO_GITLAB_TOKEN" in caught.value.message
    assert "glpat-not-a-real-token" not in caught.value.message
    assert caught.value.code == "authentication_failed" and not caught.value.transient
    assert "glpat-not-a-real-token" not in repr(forge.settings)
    assert gitlab_double.bot_token not in repr(forge.settings)


def test_token_without_api_scope_is_permission_denied(forge: GitLabForge, gitlab_double: GitLabDouble):
    forge.ensure_group("dso", name="DSO")
    _, read_only = gitlab_double.add_user("auditor", scopes=("read_api",))

    with pytest.raises(PermissionDenied,
                       match="token lacks api scope or Owner/Maintainer role on group dso/acme"):
        GitLabForge(settings_for(gitlab_double, read_only)).ensure_group("dso/acme", name="Acme")


def test_developer_role_is_permission_denied(forge: GitLabForge, gitlab_double: GitLabDouble):
    forge.ensure_group("dso/acme", name="Acme")
    _, developer = gitlab_double.add_user("dev", access_level=DEVELOPER)

    with pytest.raises(PermissionDenied, match="on project dso/acme/web"):
        GitLabForge(settings_for(gitlab_double, developer)).ensure_repository("dso/acme/web")


def test_missing_group_and_project_are_not_found(forge: GitLabForge):
    with pytest.raises(NotFound, match="group dso/ghost does not exist"):
        forge.ensure_repository("dso/ghost/backend")
    with pytest.raises(NotFound, match="project dso/ghost/backend does not exist"):
        forge.get_repository("dso/ghost/backend")


def test_group_path_taken_by_a_project_is_conflict(forge: GitLabForge, gitlab_double: GitLabDouble):
    forge.ensure_group("dso", name="DSO")
    forge.ensure_repository("dso/acme")

    with pytest.raises(Conflict, match="group dso/acme"):
        forge.ensure_group("dso/acme/shop", name="Shop")


def test_409_is_conflict(forge: GitLabForge, gitlab_double: GitLabDouble):
    gitlab_double.state.fail_next(409, path_contains="/groups")
    with pytest.raises(Conflict):
        forge.ensure_group("dso", name="DSO")


def test_server_errors_are_transient_and_a_rerun_completes(forge: GitLabForge, gitlab_double: GitLabDouble):
    forge.ensure_group("dso/acme/shop", name="Shop")
    gitlab_double.state.fail_next(502, path_contains="/projects")

    with pytest.raises(Unreachable) as caught:
        forge.ensure_repository(REPO)
    assert caught.value.transient

    assert forge.ensure_repository(REPO).created


def test_connection_refused_is_unreachable():
    forge = GitLabForge(GitLabSettings(url=f"http://127.0.0.1:{closed_port()}", token="glpat-x", timeout=5))
    with pytest.raises(Unreachable, match="unreachable"):
        forge.ensure_group("dso", name="DSO")


# --- deploy tokens and protected branches over real git ----------------------------------------------------

def test_deploy_token_reads_but_cannot_push_and_rotates(forge: GitLabForge, gitlab_double: GitLabDouble,
                                                        repo: str, tmp_path: Path):
    work = WorkRepo.create(tmp_path / "work")
    sha = work.commit("first")
    assert push(work, forge.push_remote(repo), "main").returncode == 0

    deploy = forge.ensure_deploy_token(repo)
    token = next(t for t in gitlab_double.state.deploy_tokens.values() if t.token == deploy.password)
    assert token.scopes == ["read_repository"] and deploy.url == gitlab_double.clone_url(repo)
    clone = tmp_path / "clone"
    subprocess.run(["git", "clone", "--quiet", deploy.url, str(clone)], check=True,
                   env=git_environment(deploy))
    assert (clone / "first.txt").exists()

    work.commit("second")
    refused = push(work, deploy, "main")
    assert refused.returncode != 0
    assert refs(gitlab_double.repo_dir(repo))["refs/heads/main"] == sha

    rotated = forge.read_remote(repo)
    assert rotated.password != deploy.password
    stale = subprocess.run(["git", "ls-remote", deploy.url], capture_output=True, env=git_environment(deploy))
    fresh = subprocess.run(["git", "ls-remote", rotated.url], capture_output=True,
                           env=git_environment(rotated))
    assert stale.returncode != 0 and fresh.returncode == 0


def test_read_remote_reuses_a_stored_deploy_token_and_replaces_a_revoked_one(
        forge: GitLabForge, gitlab_double: GitLabDouble, repo: str):  # repo: its groups exist
    first = forge.read_remote("dso/acme")
    stored = GitRemote("", first.username, first.password)
    gitlab_double.state.requests.clear()

    again = forge.read_remote("dso/acme", stored=stored)
    assert (again.username, again.password) == (first.username, first.password)
    assert gitlab_double.state.writes() == []  # nothing minted, nothing revoked
    assert len([t for t in gitlab_double.state.deploy_tokens.values() if not t.revoked]) == 1

    next(t for t in gitlab_double.state.deploy_tokens.values() if t.token == first.password).revoked = True
    replaced = forge.read_remote("dso/acme", stored=stored)
    assert replaced.password and replaced.password != first.password

    rotated = forge.rotate_deploy_token("dso/acme")  # on purpose, e.g. a leaked secret
    assert rotated.password not in (first.password, replaced.password)
    assert [t.token for t in gitlab_double.state.deploy_tokens.values() if not t.revoked] == [rotated.password]


def test_a_repository_is_found_again_by_its_id(forge: GitLabForge, gitlab_double: GitLabDouble, repo: str):
    created = forge.get_repository(repo)
    gitlab_double.state.requests.clear()
    found = forge.find_repository_by_id(created.id)
    assert found == created and len(gitlab_double.state.requests) == 1
    assert forge.find_repository_by_id(created.id + 10_000) is None
    assert forge.push_remote_for(found).url == created.clone_url


def test_group_deploy_token_reads_every_project_below(forge: GitLabForge, repo: str):
    deploy = forge.ensure_deploy_token("dso/acme", name="argocd-acme")
    clone_url = forge.get_repository(repo).clone_url
    # The credentials are given for the repository's own URL: askpass answers only for that origin.
    listed = subprocess.run(["git", "ls-remote", clone_url], capture_output=True,
                            env=git_environment(GitRemote(clone_url, deploy.username, deploy.password)))
    assert listed.returncode == 0


def test_only_the_bot_pushes_and_force_pushes_a_protected_branch(
        forge: GitLabForge, gitlab_double: GitLabDouble, repo: str, tmp_path: Path):
    work = WorkRepo.create(tmp_path / "work")
    base = work.commit("first")
    bot = forge.push_remote(repo)
    assert push(work, bot, "main").returncode == 0
    forge.set_default_branch(repo, "main")

    forge.protect_for_mirror(repo)
    gitlab_double.state.requests.clear()
    forge.protect_for_mirror(repo)  # already as wanted: nothing rewritten
    assert gitlab_double.state.writes() == []

    _, alice_token = gitlab_double.add_user("alice")  # a Maintainer, but not the bot
    alice = GitRemote(bot.url, "oauth2", alice_token)
    work.commit("by alice")
    refused = push(work, alice, "main")
    assert refused.returncode != 0 and "not allowed to push code to protected branches" in refused.stderr

    work.reset_hard(base)
    rewritten = work.commit("rewritten history")
    assert "not allowed" in push(work, alice, "+main").stderr
    assert push(work, bot, "+main").returncode == 0
    assert refs(gitlab_double.repo_dir(repo))["refs/heads/main"] == rewritten

    deleted = push(work, bot, ":main")
    assert "only delete protected branches using the web interface" in deleted.stderr


def test_protect_for_mirror_replaces_a_rule_that_lets_maintainers_push(forge: GitLabForge,
                                                                      gitlab_double: GitLabDouble, repo: str):
    project = gitlab_double.project(repo)
    gitlab_double.state.protect(gitlab_double.admin, project, {"name": "main", "push_access_level": 40})

    forge.protect_for_mirror(repo)

    (rule,) = [r for r in gitlab_double.state.protected.values() if r.project_id == project.id]
    assert rule.allow_force_push
    assert [(lvl["access_level"], lvl["user_id"]) for lvl in rule.push_access_levels] == [
        (0, None), (40, gitlab_double.bot.id)]


# --- end to end: an external repository mirrored into a GitLab project -------------------------------------

def test_mirror_from_an_external_forge_into_gitlab(forge: GitLabForge, gitlab_double: GitLabDouble, repo: str,
                                                   tmp_path: Path):
    external_root = tmp_path / "external"
    upstream = init_bare(external_root / "team" / "backend.git", branch="trunk")
    work = WorkRepo.create(tmp_path / "work", branch="trunk")
    work.commits(3)
    work.branch("feature/x")
    work.tag("v1.0", message="release")
    work.publish(upstream)

    with serve(external_root, read_token="ext-read-token") as external:
        source = GitRemote(f"{external.url}/team/backend.git", "reader", "ext-read-token")
        mirror = Mirror(tmp_path / "cache")
        result = mirror.sync(cache_key="backend", source=source, target=forge.push_remote(repo))
        forge.set_default_branch(repo, result.default_branch)
        forge.protect_for_mirror(repo)

        landed = refs(gitlab_double.repo_dir(repo))
        assert landed == refs(upstream)
        assert {c.ref for c in result.changes} == set(landed)
        assert forge.get_repository(repo).default_branch == "trunk"

        # Upstream rewrites its history: the bot may force the protected branch to follow.
        work.git("reset", "--quiet", "--hard", "HEAD~1")
        work.commit("rewritten")
        work.publish(upstream)
        again = mirror.sync(cache_key="backend", source=source, target=forge.push_remote(repo))

    assert [c.kind for c in again.changes] == ["forced"]
    assert refs(gitlab_double.repo_dir(repo)) == refs(upstream)


def test_rotation_revokes_stale_tokens_across_pages(forge: GitLabForge, gitlab_double: GitLabDouble,
                                                    repo: str):
    project = gitlab_double.project(repo)
    for _ in range(25):  # more than one page (20) of GET /deploy_tokens
        gitlab_double.state.create_deploy_token(gitlab_double.admin, {"name": "argocd",
                                                                      "scopes": ["read_repository"]},
                                                project=project)

    fresh = forge.ensure_deploy_token(repo)

    active = [t for t in gitlab_double.state.deploy_tokens.values() if not t.revoked]
    assert [t.token for t in active] == [fresh.password]
    pages = [r for r in gitlab_double.state.requests
             if r.method == "GET" and r.path.endswith("/deploy_tokens")]
    assert len(pages) == 2


def test_retire_repository_renames_then_archives_and_frees_the_path(forge: GitLabForge, gitlab_double: GitLabDouble,
                                                                    repo: str, tmp_path: Path):
    work = WorkRepo.create(tmp_path / "work")
    work.commit("first")
    assert push(work, forge.push_remote(repo), "refs/heads/*:refs/heads/*").returncode == 0
    project_id = gitlab_double.project(repo).id
    retired = f"{repo}-removed-7"

    assert forge.retire_repository(repo, new_path=retired) == retired
    assert forge.retire_repository(repo, new_path=retired) == retired  # a retried run finds it done

    project = gitlab_double.project(retired)
    assert project.id == project_id and project.archived  # the same GitLab project, renamed in place
    assert refs(gitlab_double.repo_dir(retired))["refs/heads/main"] == work.sha("main")
    with pytest.raises(NotFound):
        forge.get_repository(repo)
    assert push(work, forge.push_remote(retired), "refs/heads/main:refs/heads/other").returncode != 0
    writes = [(r.method, r.path) for r in gitlab_double.state.writes()]
    assert writes.count(("PUT", f"/projects/{project_id}")) == 1
    assert writes.count(("POST", f"/projects/{project_id}/archive")) == 1
    assert forge.ensure_repository(repo).created  # the name is free for a new registration
    assert forge.retire_repository("dso/acme/shop/gone", new_path="dso/acme/shop/gone-removed-8") is None


def test_retire_repository_leaves_unmanaged_projects_alone(forge: GitLabForge, gitlab_double: GitLabDouble):
    forge.ensure_group("dso/acme/shop", name="Shop")
    gitlab_double.state.create_project(gitlab_double.admin, {
        "path": "theirs", "namespace_id": gitlab_double.state.group("dso/acme/shop").id})

    with pytest.raises(Conflict, match="not managed by DSO Console"):
        forge.retire_repository("dso/acme/shop/theirs", new_path="dso/acme/shop/theirs-removed-1")
    assert not gitlab_double.project("dso/acme/shop/theirs").archived
