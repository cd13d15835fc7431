"""GitOps delivery against real bare repositories (file:// on the local disk)."""

from __future__ import annotations

import fcntl
import os
import threading
from pathlib import Path

import pytest

from provisioning.delivery import GitOpsDelivery
from provisioning.errors import Conflict, InvalidInput, NotFound, ProvisioningError, Unreachable
from provisioning.forge.base import GitRemote
from provisioning.manifests import InfraAppSpec, ProjectSpec, render_files
from tests.provisioning._delivery_support import bare_repo, delivery, git  # noqa: F401  (fixtures)

FILES = {"namespace.yaml": "kind: Namespace\n", "apps/web.yaml": "kind: Application\n"}


def test_first_delivery_to_an_empty_repository_creates_the_branch(bare_repo, delivery):
    assert bare_repo.tip() is None
    result = delivery.deliver("projects/acme-shop", FILES, message="Onboard acme/shop")

    assert result.changed and result.commit_sha == bare_repo.tip()
    assert result.added == ("apps/web.yaml", "namespace.yaml") and not result.modified and not result.removed
    assert bare_repo.files("projects/acme-shop") == FILES
    assert bare_repo.commit_count() == 1
    log = git("log", "-1", "--format=%an|%ae|%cn|%ce|%B", "main", git_dir=bare_repo.path)
    identity = "DSO Console|dso-console@localhost"
    assert log.startswith(f"{identity}|{identity}|Onboard acme/shop")


def test_same_files_again_make_no_commit(bare_repo, delivery):
    first = delivery.deliver("projects/acme-shop", FILES, message="one")
    again = delivery.deliver("projects/acme-shop", dict(reversed(FILES.items())), message="two")

    assert not again.changed and again.commit_sha == first.commit_sha
    assert (again.added, again.modified, again.removed) == ((), (), ())
    assert bare_repo.commit_count() == 1


def test_changed_file_makes_one_commit_with_only_that_change(bare_repo, delivery):
    delivery.deliver("projects/acme-shop", FILES, message="one")
    result = delivery.deliver(
        "projects/acme-shop", {**FILES, "namespace.yaml": "kind: Namespace\nx: 1\n"}, message="quota bump"
    )

    assert result.changed and result.modified == ("namespace.yaml",)
    assert not result.added and not result.removed
    assert bare_repo.commit_count() == 2
    assert bare_repo.changed_paths(result.commit_sha) == ["projects/acme-shop/namespace.yaml"]
    assert git("log", "-1", "--format=%B", "main", git_dir=bare_repo.path).strip() == "quota bump"


def test_stale_files_are_removed(bare_repo, delivery):
    delivery.deliver("projects/acme-shop", FILES, message="one")
    kept = {"namespace.yaml": FILES["namespace.yaml"]}
    result = delivery.deliver("projects/acme-shop", kept, message="drop app")

    assert result.removed == ("apps/web.yaml",) and not result.added and not result.modified
    assert bare_repo.files("projects/acme-shop") == {"namespace.yaml": FILES["namespace.yaml"]}


def test_remove_deletes_only_that_directory(bare_repo, delivery):
    delivery.deliver("projects/acme-shop", FILES, message="shop")
    delivery.deliver("projects/acme-blog", FILES, message="blog")

    result = delivery.remove("projects/acme-shop", message="Archive acme/shop")
    assert result.changed and result.removed == ("apps/web.yaml", "namespace.yaml")
    assert bare_repo.files("projects/acme-shop") == {}
    assert bare_repo.files("projects/acme-blog") == FILES
    assert delivery.read("projects/acme-shop") == {}

    again = delivery.remove("projects/acme-shop", message="Archive again")
    assert not again.changed and bare_repo.commit_count() == 3


def test_read_returns_the_remote_tip(bare_repo, delivery, tmp_path):
    assert delivery.read("projects/acme-shop") == {}
    other = GitOpsDelivery(bare_repo.remote, tmp_path / "other-work")
    other.deliver("projects/acme-shop", FILES, message="from elsewhere")
    assert delivery.read("projects/acme-shop") == FILES


def test_directories_are_independent(bare_repo, delivery):
    delivery.deliver("projects/acme-shop", FILES, message="shop")
    result = delivery.deliver("projects/acme-shop-2", {"only.yaml": "x\n"}, message="prefix sibling")

    assert result.added == ("only.yaml",) and not result.removed
    assert bare_repo.files("projects/acme-shop") == FILES
    assert delivery.read("projects/acme-shop-2") == {"only.yaml": "x\n"}


def test_rendered_project_round_trips(bare_repo, delivery):
    repo = "https://git.example.test/acme/infra.git"
    spec = ProjectSpec("acme", "ACME", "shop", "Shop", source_repos=(repo,),
                       infra_apps=(InfraAppSpec("web", repo, "helm"),))  # fmt: skip
    delivery.deliver("projects/acme-shop", render_files(spec), message="render")
    assert delivery.read("projects/acme-shop") == render_files(spec)
    assert not delivery.deliver("projects/acme-shop", render_files(spec), message="render").changed


class _InterleavedDelivery(GitOpsDelivery):
    """Lets ``competitor`` push first, ``times`` times, right before this instance pushes.

    A real second clone pushes to the real remote, so git itself rejects our now stale push.
    """

    def __init__(self, *args, competitor, times=1, **kwargs):
        super().__init__(*args, **kwargs)
        self.competitor = competitor
        self.times = times
        self.pushes = 0

    def _push(self, commit: str) -> None:
        self.pushes += 1
        if self.pushes <= self.times:
            self.competitor(self.pushes)
        super()._push(commit)


def test_non_fast_forward_push_is_retried_on_the_new_tip(bare_repo, tmp_path):
    other = GitOpsDelivery(bare_repo.remote, tmp_path / "work-b")
    racer = _InterleavedDelivery(
        bare_repo.remote, tmp_path / "work-a",
        competitor=lambda n: other.deliver("projects/acme-blog", {"b.yaml": "b\n"}, message="blog"),
    )  # fmt: skip

    result = racer.deliver("projects/acme-shop", FILES, message="shop")

    assert result.changed and racer.pushes == 2
    assert bare_repo.files("projects/acme-shop") == FILES
    assert bare_repo.files("projects/acme-blog") == {"b.yaml": "b\n"}
    assert bare_repo.commit_count() == 2
    assert git("rev-parse", "main^", git_dir=bare_repo.path).strip() != result.commit_sha


def test_racing_first_deliveries_into_an_empty_repository_both_land(bare_repo, tmp_path):
    other = GitOpsDelivery(bare_repo.remote, tmp_path / "work-b")
    racer = _InterleavedDelivery(
        bare_repo.remote, tmp_path / "work-a",
        competitor=lambda n: other.deliver("projects/b", {"b.yaml": "b\n"}, message="b"),
    )  # fmt: skip
    racer.deliver("projects/a", {"a.yaml": "a\n"}, message="a")
    assert bare_repo.files("projects") == {"a/a.yaml": "a\n", "b/b.yaml": "b\n"}


def test_gives_up_with_a_transient_conflict_when_the_branch_keeps_moving(bare_repo, tmp_path):
    other = GitOpsDelivery(bare_repo.remote, tmp_path / "work-b")
    racer = _InterleavedDelivery(
        bare_repo.remote, tmp_path / "work-a", times=10,
        competitor=lambda n: other.deliver("projects/b", {"b.yaml": f"{n}\n"}, message=f"b{n}"),
    )  # fmt: skip
    with pytest.raises(Conflict) as excinfo:
        racer.deliver("projects/a", {"a.yaml": "a\n"}, message="a")
    assert excinfo.value.transient and racer.pushes == 4
    assert "a/a.yaml" not in bare_repo.files("projects")


def test_two_instances_racing_in_threads_both_land(bare_repo, tmp_path):
    deliveries = [GitOpsDelivery(bare_repo.remote, tmp_path / f"work-{i}") for i in range(2)]
    start = threading.Barrier(2)
    errors: list[BaseException] = []

    def run(i: int) -> None:
        try:
            start.wait()
            deliveries[i].deliver(f"projects/p{i}", {"f.yaml": f"{i}\n"}, message=f"p{i}")
        except BaseException as exc:  # surfaced below, in the test's own thread
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert bare_repo.files("projects") == {"p0/f.yaml": "0\n", "p1/f.yaml": "1\n"}
    assert bare_repo.commit_count() == 2


def test_instances_sharing_a_work_dir_take_turns(bare_repo, tmp_path):
    # Same clone, several threads: the flock serialises them, so nobody even needs a retry.
    work = tmp_path / "shared-work"
    errors: list[BaseException] = []

    def run(i: int) -> None:
        try:
            GitOpsDelivery(bare_repo.remote, work).deliver(
                f"projects/p{i}", {"f.yaml": f"{i}\n"}, message=f"p{i}"
            )
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert bare_repo.files("projects") == {f"p{i}/f.yaml": f"{i}\n" for i in range(4)}


def test_a_held_lock_ends_in_a_transient_error(bare_repo, tmp_path):
    work = tmp_path / "work"
    work.mkdir()
    fd = os.open(work / ".lock", os.O_RDWR | os.O_CREAT)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        with pytest.raises(ProvisioningError) as excinfo:
            GitOpsDelivery(bare_repo.remote, work, timeout_seconds=0.1).deliver("p", FILES, message="m")
    finally:
        os.close(fd)
    assert excinfo.value.code == "lock_timeout" and excinfo.value.transient


def test_history_rewritten_upstream_is_followed(bare_repo, delivery, tmp_path):
    delivery.deliver("projects/a", {"a.yaml": "a\n"}, message="a")
    git("update-ref", "-d", "refs/heads/main", git_dir=bare_repo.path)  # someone deleted the branch
    assert delivery.read("projects/a") == {}
    result = delivery.deliver("projects/b", {"b.yaml": "b\n"}, message="b")
    assert result.changed and bare_repo.commit_count() == 1
    assert bare_repo.files() == {"projects/b/b.yaml": "b\n"}


@pytest.mark.parametrize(
    "directory", ["", "/abs", "a/../b", "..", "./x", "a//b", ".git/hooks", "a\\b", "a/.git"]
)
def test_bad_directories_are_rejected(delivery, directory):
    with pytest.raises(InvalidInput):
        delivery.deliver(directory, FILES, message="m")


@pytest.mark.parametrize("name", ["../escape.yaml", "/abs.yaml", "x/../../y", ""])
def test_bad_file_names_are_rejected(delivery, name):
    with pytest.raises(InvalidInput):
        delivery.deliver("projects/x", {name: "x"}, message="m")


def test_credentials_in_the_url_are_refused(tmp_path):
    with pytest.raises(InvalidInput):
        GitOpsDelivery(GitRemote("http://user:secret@127.0.0.1/x.git"), tmp_path / "w")


def test_missing_repository_is_not_found(tmp_path):
    missing = GitOpsDelivery(GitRemote((tmp_path / "nope.git").as_uri()), tmp_path / "w")
    with pytest.raises(NotFound):
        missing.read("projects/x")


def test_unreachable_remote_is_transient(tmp_path):
    # Port 1 on loopback: nothing listens, the connection is refused at once.
    remote = GitRemote("http://127.0.0.1:1/dso/platform.git", username="oauth2", password="s3cret-token")
    with pytest.raises(Unreachable) as excinfo:
        GitOpsDelivery(remote, tmp_path / "w").deliver("projects/x", FILES, message="m")
    assert excinfo.value.transient
    assert "s3cret-token" not in str(excinfo.value)


def test_work_dir_is_reused(bare_repo, delivery, tmp_path: Path):
    delivery.deliver("projects/a", FILES, message="a")
    assert (tmp_path / "work" / "repo.git" / "HEAD").exists()
    bare_repo_objects_before = sorted((tmp_path / "work" / "repo.git").rglob("*"))
    delivery.deliver("projects/a", FILES, message="a")
    assert sorted((tmp_path / "work" / "repo.git").rglob("*")) == bare_repo_objects_before
