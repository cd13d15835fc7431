"""LocalForge: groups and bare repositories on disk, served by GitHttpServer with its two tokens."""

from __future__ import annotations

import json
import threading

import pytest

from provisioning.errors import InvalidInput, NotFound, PermissionDenied
from provisioning.forge.base import GitRemote
from provisioning.forge.local import GROUP_MARKER, LocalForge
from provisioning.githttp import GitAccess, GitHttpServer
from provisioning.mirror import Mirror, ls_remote
from tests.support.gitrepos import WorkRepo, git, head_branch, refs

WRITE, READ = "write-token-4f1c", "read-token-9a7e"


@pytest.fixture
def forge(tmp_path) -> LocalForge:
    return LocalForge(tmp_path / "forge", "http://127.0.0.1:8000/git/", write_token=WRITE, read_token=READ)


@pytest.fixture
def served(tmp_path):
    """A LocalForge whose base_url is the GitHttpServer actually serving it, mounted under /git."""
    root = tmp_path / "forge"
    root.mkdir()
    holder = {}
    server = GitHttpServer(root, lambda *args: holder["forge"].authorize(*args), url_prefix="/git")
    holder["forge"] = LocalForge(root, server.url, write_token=WRITE, read_token=READ)
    with server:
        yield holder["forge"]


def test_ensure_group_creates_parents_and_is_idempotent(forge):
    group = forge.ensure_group("dso/acme/shop", name="Shop", description="the shop")
    assert group.path == "dso/acme/shop" and group.name == "Shop" and group.created
    marker = json.loads((forge.root / "dso/acme/shop" / GROUP_MARKER).read_text())
    assert marker == {"name": "Shop", "description": "the shop"}
    assert json.loads((forge.root / "dso/acme" / GROUP_MARKER).read_text())["name"] == "acme"

    again = forge.ensure_group("dso/acme/shop", name="Shop")
    assert not again.created and again.name == "Shop"


def test_group_path_for_uses_the_root_group(tmp_path):
    forge = LocalForge(tmp_path, "http://x", root_group="platform", write_token=WRITE, read_token=READ)
    assert forge.group_path_for("acme", "shop") == "platform/acme/shop"


def test_ensure_repository_inits_a_bare_repo_on_main(forge):
    forge.ensure_group("dso/acme", name="Acme")
    repo = forge.ensure_repository("dso/acme/backend", description="Backend service")
    assert repo.created and repo.path == "dso/acme/backend"
    assert repo.clone_url == "http://127.0.0.1:8000/git/dso/acme/backend.git"
    assert repo.default_branch == "main"
    directory = forge.repository_dir("dso/acme/backend")
    assert directory == forge.root / "dso/acme/backend.git"
    assert git("rev-parse", "--is-bare-repository", cwd=directory).strip() == "true"
    assert head_branch(directory) == "main"
    assert (directory / "description").read_text() == "Backend service\n"
    assert not [p for p in directory.parent.iterdir() if p.name.startswith(".creating-")]

    again = forge.ensure_repository("dso/acme/backend")
    assert not again.created and again.clone_url == repo.clone_url


def test_concurrent_ensure_repository_creates_once(forge):
    forge.ensure_group("dso/acme", name="Acme")
    results = []
    threads = [threading.Thread(target=lambda: results.append(forge.ensure_repository("dso/acme/api")))
               for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(r.created for r in results) == [False, False, False, True]


def test_repository_needs_its_group(forge):
    with pytest.raises(NotFound, match="dso/acme"):
        forge.ensure_repository("dso/acme/backend")
    with pytest.raises(NotFound):
        forge.ensure_repository("lonely")


def test_group_and_repository_names_do_not_collide(forge):
    forge.ensure_group("dso/acme", name="Acme")
    forge.ensure_repository("dso/acme/backend")
    forge.ensure_group("dso/acme/team", name="Team")
    with pytest.raises(InvalidInput):
        forge.ensure_repository("dso/acme/team")
    with pytest.raises(InvalidInput):
        forge.ensure_group("dso/acme/backend", name="Backend")


def test_get_repository(forge):
    with pytest.raises(NotFound):
        forge.get_repository("dso/acme/missing")
    forge.ensure_group("dso/acme", name="Acme")
    forge.ensure_repository("dso/acme/backend")
    repo = forge.get_repository("dso/acme/backend")
    assert not repo.created and repo.default_branch == "main"


@pytest.mark.parametrize(
    "path",
    ["", "/dso/acme", "dso/../etc", "dso/./acme", "dso//acme", "dso/acme/", "dso/Acme", "dso/acme.git",
     "dso/-acme", "dso/acme_x", "dso/" + "a" * 64, "dso\\acme"],
)
def test_invalid_paths_are_rejected(forge, path):
    with pytest.raises(InvalidInput):
        forge.ensure_group(path, name="x")
    with pytest.raises(InvalidInput):
        forge.ensure_repository(path)
    with pytest.raises(InvalidInput):
        forge.repository_dir(path)


def test_remotes_carry_the_tokens_but_not_in_the_url_or_repr(forge):
    push, read = forge.push_remote("dso/acme/backend"), forge.read_remote("dso/acme/backend")
    assert push == GitRemote("http://127.0.0.1:8000/git/dso/acme/backend.git", "dso-console", WRITE)
    assert read == GitRemote("http://127.0.0.1:8000/git/dso/acme/backend.git", "argocd", READ)
    for text in (repr(push), repr(read), repr(forge), push.url):
        assert WRITE not in text and READ not in text


def test_tokens_must_differ(tmp_path):
    with pytest.raises(InvalidInput):
        LocalForge(tmp_path, "http://x", write_token="same", read_token="same")


def test_authorize(forge):
    forge.ensure_group("dso/acme", name="Acme")
    forge.ensure_repository("dso/acme/backend")
    repo = "dso/acme/backend.git"
    assert forge.authorize(repo, "dso-console", WRITE) == GitAccess.WRITE
    assert forge.authorize(repo, "argocd", READ) == GitAccess.READ
    assert forge.authorize(repo, "argocd", "guess") == GitAccess.NONE
    assert forge.authorize(repo, None, None) == GitAccess.NONE
    forge.archive_repository("dso/acme/backend")
    assert forge.is_archived("dso/acme/backend")
    assert forge.authorize(repo, "dso-console", WRITE) == GitAccess.READ
    assert forge.authorize(repo, "argocd", READ) == GitAccess.READ


def test_set_default_branch(forge):
    forge.ensure_group("dso/acme", name="Acme")
    forge.ensure_repository("dso/acme/backend")
    forge.set_default_branch("dso/acme/backend", "release/1.x")
    assert forge.get_repository("dso/acme/backend").default_branch == "release/1.x"
    for bad in ("-x", "a..b", "with space", ""):
        with pytest.raises(InvalidInput):
            forge.set_default_branch("dso/acme/backend", bad)
    with pytest.raises(NotFound):
        forge.set_default_branch("dso/acme/missing", "main")


def test_mirror_into_the_served_forge_and_read_it_as_argocd(served, tmp_path):
    forge = served
    forge.ensure_group(forge.group_path_for("acme"), name="Acme")
    repo = forge.ensure_repository("dso/acme/backend")
    assert repo.clone_url.startswith(forge.base_url) and "/git/" in repo.clone_url

    upstream = WorkRepo.create(tmp_path / "upstream", branch="trunk")
    sha = upstream.commit("hello")
    upstream.tag("v1", message="one")
    external = tmp_path / "external.git"
    git("init", "--bare", "--quiet", "--initial-branch=trunk", str(external))
    upstream.publish(external)

    result = Mirror(tmp_path / "cache").sync(
        cache_key="backend", source=GitRemote(str(external)), target=forge.push_remote("dso/acme/backend"),
        set_default_branch=lambda branch: forge.set_default_branch("dso/acme/backend", branch),
    )
    assert result.default_branch == "trunk"

    assert refs(forge.repository_dir("dso/acme/backend")) == refs(external)
    clone = tmp_path / "argocd-clone"
    git("clone", "--quiet", repo.clone_url, str(clone), remote=forge.read_remote("dso/acme/backend"))
    assert WorkRepo(clone).sha() == sha and head_branch(clone) == "trunk"
    assert ls_remote(forge.read_remote("dso/acme/backend"))["refs/heads/trunk"] == sha


def test_read_token_and_archived_repositories_refuse_pushes_over_http(served, tmp_path):
    forge = served
    forge.ensure_group("dso/acme", name="Acme")
    forge.ensure_repository("dso/acme/backend")
    work = WorkRepo.create(tmp_path / "work")
    work.commit("one")
    source = tmp_path / "source.git"
    git("init", "--bare", "--quiet", str(source))
    work.publish(source)
    mirror = Mirror(tmp_path / "cache")

    with pytest.raises(PermissionDenied):
        mirror.sync(cache_key="b", source=GitRemote(str(source)),
                    target=forge.read_remote("dso/acme/backend"))

    forge.archive_repository("dso/acme/backend")
    with pytest.raises(PermissionDenied):
        mirror.sync(cache_key="b", source=GitRemote(str(source)),
                    target=forge.push_remote("dso/acme/backend"))
    assert refs(forge.repository_dir("dso/acme/backend")) == {}


def test_retire_repository_moves_it_aside_archived_and_frees_the_path(served, tmp_path):
    served.ensure_group("dso/acme", name="Acme")
    served.ensure_repository("dso/acme/backend")
    work = WorkRepo.create(tmp_path / "work")
    work.commit("first")
    git("push", "--quiet", served.push_remote("dso/acme/backend").url, "main", cwd=work.path,
        remote=served.push_remote("dso/acme/backend"))

    assert served.retire_repository("dso/acme/backend", new_path="dso/acme/backend-removed-7") == \
        "dso/acme/backend-removed-7"
    assert served.retire_repository("dso/acme/backend", new_path="dso/acme/backend-removed-7") == \
        "dso/acme/backend-removed-7"  # a retried run finds it done

    with pytest.raises(NotFound):
        served.get_repository("dso/acme/backend")
    assert served.is_archived("dso/acme/backend-removed-7")
    # Its history stays readable with the read token; nobody can push to it any more.
    read = served.read_remote("dso/acme/backend-removed-7")
    assert ls_remote(read)["refs/heads/main"] == work.sha("main")
    git("push", served.push_remote("dso/acme/backend-removed-7").url, "main:other", cwd=work.path,
        remote=served.push_remote("dso/acme/backend-removed-7"), check=False)
    assert "refs/heads/other" not in refs(served.repository_dir("dso/acme/backend-removed-7"))
    assert served.ensure_repository("dso/acme/backend").created  # the name is free again
    assert served.retire_repository("dso/acme/gone", new_path="dso/acme/gone-removed-8") is None
