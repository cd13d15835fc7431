"""Image tag history as a deployer reads it, end to end: real infra repositories with merges, registry moves
and force-pushes, synced over loopback HTTP into the console, read back through the API."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from console.models import RunStatus, SyncRun
from console.models.images import ImageInventoryEntry, ImageRelease, ImageTagChange
from console.services.images import image_release_record, redeploy_warnings
from console.services.repositories import repository_register
from tests.console.services.test_flow import executed  # noqa: F401 - fixture
from tests.console.services.test_images import project, sync  # noqa: F401 - fixture

pytestmark = pytest.mark.django_db

BACKEND = "registry.example.com/acme/shop-backend"


def values(tag: str, repository: str = BACKEND, worker: str = "1.0") -> dict[str, str]:
    return {"chart/values.yaml": f"image:\n  repository: {repository}\n  tag: \"{tag}\"\n"
                                 f"worker:\n  image: registry.example.com/acme/worker:{worker}\n"}


def register_infra(project, external_forge, capture, name="deploy", **fields):
    with capture(execute=True):
        repository = repository_register(
            actor=project.actor, project=project, name=name, external_url=external_forge.url(name), is_infra=True,
            deploy_kind=fields.pop("deploy_kind", "helm"), deploy_path=fields.pop("deploy_path", "chart"),
            username="ci", token=external_forge.token, **fields,
        )
    run = SyncRun.objects.filter(repository=repository).latest("pk")
    assert run.status == RunStatus.SUCCEEDED, run.error_message
    return repository


def history(project, repository, **params) -> list[dict]:
    api = APIClient()
    api.force_authenticate(project.actor.user)
    response = api.get(f"/api/v1/repositories/{repository.pk}/image-tags/", params)
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["count"] == len(body["results"]), "keep these histories on one page"
    return body["results"]


def assert_counted(run: SyncRun) -> None:
    run.refresh_from_db()
    assert run.image_scan["changes"] == ImageTagChange.objects.filter(sync_run=run).count(), run.image_scan


def test_a_registry_move_is_recorded_once_and_the_image_keeps_its_history(
    project, external_forge, django_capture_on_commit_callbacks
):
    infra = external_forge.create("deploy", values("1.0", "ghcr.io/acme/x"))
    move = infra.commit("move to quay", values("1.1", "quay.io/acme/x"))
    infra.publish(infra.bare)
    deploy = register_infra(project, external_forge, django_capture_on_commit_callbacks)
    run = SyncRun.objects.get(repository=deploy)

    assert_counted(run)
    assert run.image_scan["changes"] == 3  # ghcr added, worker added, ghcr -> quay
    moved = [(h["old_image"], h["image"], h["old_tag"], h["new_tag"], h["commit_sha"])
             for h in history(project, deploy, image="ghcr.io/acme/x")]
    assert moved == [("ghcr.io/acme/x", "quay.io/acme/x", "1.0", "1.1", move),
                     ("", "ghcr.io/acme/x", "", "1.0", moved[1][4])]
    assert [h["kind"] for h in history(project, deploy, image="quay.io/acme/x")] == ["changed"]


def test_merged_work_reads_once_along_the_deploy_branch_with_both_commits(
    project, external_forge, django_capture_on_commit_callbacks
):
    infra = external_forge.create("deploy", values("1.0"))
    infra.publish(infra.bare)
    deploy = register_infra(project, external_forge, django_capture_on_commit_callbacks)

    infra.checkout("feature", create=True)
    try_2 = infra.commit("try 2.0", values("2.0"))
    settle_3 = infra.commit("settle on 3.0", values("3.0"))
    infra.checkout("experiment", create=True)
    infra.commit("never merged", values("9.9"))
    infra.checkout("main")
    worker = infra.commit("worker 1.1", values("1.0", worker="1.1"))
    infra.git("merge", "--quiet", "--no-ff", "-m", "Merge feature", "feature")
    merge = infra.sha()
    infra.publish(infra.bare)
    run = sync(deploy, django_capture_on_commit_callbacks)
    assert_counted(run)

    along = [(h["effective_commit"]["sha"], h["authored_commit"], h["old_tag"], h["new_tag"])
             for h in history(project, deploy, image=BACKEND)]
    assert along == [(merge, settle_3, "1.0", "3.0"), (along[-1][0], along[-1][0], "", "1.0")]
    assert history(project, deploy, image=BACKEND)[0]["effective_commit"]["subject"] == "Merge feature"
    everything_deployed = [(h["new_tag"], h["effective_commit"]["sha"]) for h in history(project, deploy)]
    assert everything_deployed[:2] == [("3.0", merge), ("1.1", worker)]

    commits = [(h["authored_commit"], h["effective_commit"]["sha"], h["old_tag"], h["new_tag"], h["on_deploy_line"])
               for h in history(project, deploy, image=BACKEND, along="commits")]
    assert commits[:2] == [(settle_3, merge, "2.0", "3.0", False), (try_2, merge, "1.0", "2.0", False)]
    assert "9.9" not in {h["new_tag"] for h in history(project, deploy, along="all")}
    # The API refuses a reading it does not know.
    api = APIClient()
    api.force_authenticate(project.actor.user)
    refused = api.get(f"/api/v1/repositories/{deploy.pk}/image-tags/", {"along": "sideways"})
    assert refused.status_code == 400 and refused.json()["code"] == "invalid_along"


def test_a_force_push_marks_removed_changes_rewritten_and_records_the_change_back(
    project, external_forge, django_capture_on_commit_callbacks
):
    infra = external_forge.create("deploy", values("1.0"))
    base = infra.sha()
    infra.publish(infra.bare)
    deploy = register_infra(project, external_forge, django_capture_on_commit_callbacks)
    gone = infra.commit("1.1", values("1.1"))
    infra.publish(infra.bare)
    sync(deploy, django_capture_on_commit_callbacks)

    infra.reset_hard(base)
    replacement = infra.commit("1.2 instead", values("1.2"))
    infra.publish(infra.bare)
    forced = sync(deploy, django_capture_on_commit_callbacks)

    assert_counted(forced)
    assert forced.image_scan["force_push"] == {"removed_commits": 1, "rewritten": 1}
    rows = [(h["cause"], h["authored_commit"], h["old_tag"], h["new_tag"], h["rewritten"])
            for h in history(project, deploy, image=BACKEND)]
    assert rows == [
        ("commit", replacement, "1.0", "1.2", False),
        ("force_push", replacement, "1.1", "1.0", False),
        ("commit", gone, "1.0", "1.1", True),
        ("commit", base, "", "1.0", False),
    ]
    assert ImageInventoryEntry.objects.get(repository=deploy, image=BACKEND).tag == "1.2"
    contained = [(h["authored_commit"], h["new_tag"]) for h in history(project, deploy, image=BACKEND,
                                                                          rewritten="false")]
    assert contained == [(replacement, "1.2"), (base, "1.0")]

    # Pushing the removed commit back records it again; the rewritten row stays as what once ran.
    infra.reset_hard(gone)
    infra.publish(infra.bare)
    sync(deploy, django_capture_on_commit_callbacks)
    again = [(h["cause"], h["authored_commit"], h["new_tag"], h["rewritten"])
             for h in history(project, deploy, image=BACKEND)][:3]
    assert again == [("commit", gone, "1.1", False), ("force_push", gone, "1.0", False),
                     ("commit", replacement, "1.2", True)]


def test_a_built_tag_seen_only_in_history_keeps_the_warning_open(
    project, external_forge, django_capture_on_commit_callbacks
):
    infra = external_forge.create("deploy", values("1.0"))
    base = infra.sha()
    infra.commit("2.0", values("2.0"))
    infra.commit("back to 1.5", values("1.5"))
    infra.publish(infra.bare)
    deploy = register_infra(project, external_forge, django_capture_on_commit_callbacks)

    # An old tag rebuilt: history once set 2.0, the repository sets 1.5 now.
    image_release_record(repository=deploy, image=BACKEND, tag="2.0", commit_sha="", source="ci_report")
    infra.commit("touch worker", values("1.5", worker="1.1"))
    infra.publish(infra.bare)
    sync(deploy, django_capture_on_commit_callbacks)
    assert [w["tag"] for w in redeploy_warnings(project)] == ["2.0"]

    # A tag set only in a commit that a force-push took away.
    image_release_record(repository=deploy, image=BACKEND, tag="3.0", commit_sha="", source="ci_report")
    infra.commit("3.0", values("3.0", worker="1.1"))
    infra.publish(infra.bare)
    sync(deploy, django_capture_on_commit_callbacks)
    assert redeploy_warnings(project) == []
    infra.reset_hard(base)
    infra.publish(infra.bare)
    sync(deploy, django_capture_on_commit_callbacks)
    # The warning that the removed bump had cleared is open again: 3.0 runs nowhere.
    assert [w["tag"] for w in redeploy_warnings(project)] == ["3.0"]
    assert ImageRelease.objects.get(tag="3.0").resolved_by is None


def test_a_new_app_repository_is_judged_against_the_infra_repositories_current_state(
    project, external_forge, django_capture_on_commit_callbacks
):
    app = external_forge.create("backend", {"app.py": "print(1)\n"})
    infra = external_forge.create("deploy", values("1.0"))
    infra.publish(infra.bare)
    register_infra(project, external_forge, django_capture_on_commit_callbacks)
    with django_capture_on_commit_callbacks(execute=True):
        backend = repository_register(actor=project.actor, project=project, name="backend",
                                      external_url=external_forge.url("backend"), image_name=BACKEND)
    # Its import is history older than the registration: no warning.
    assert SyncRun.objects.get(repository=backend).status == RunStatus.SUCCEEDED
    assert redeploy_warnings(project) == []
    # A commit pushed after the registration waits for a bump.
    app.commit("feature", {"app.py": "print(2)\n"})
    app.publish(app.bare)
    sync(backend, django_capture_on_commit_callbacks)
    assert [w["commit_sha"] for w in redeploy_warnings(project)] == [app.sha()]


def test_an_app_commit_answered_by_a_later_infra_bump_synced_first_does_not_warn(
    project, external_forge, monkeypatch, django_capture_on_commit_callbacks
):
    app = external_forge.create("backend", {"app.py": "print(1)\n"})
    infra = external_forge.create("deploy", values("1.0"))
    deploy = register_infra(project, external_forge, django_capture_on_commit_callbacks)
    with django_capture_on_commit_callbacks(execute=True):
        backend = repository_register(actor=project.actor, project=project, name="backend",
                                      external_url=external_forge.url("backend"), image_name=BACKEND)
    # The app commit is made, the infra repository bumps after it and syncs before the app does.
    monkeypatch.setenv("GIT_COMMITTER_DATE", f"{int(backend.created_at.timestamp()) + 5} +0000")
    app.commit("feature", {"app.py": "print(2)\n"})
    app.publish(app.bare)
    monkeypatch.setenv("GIT_COMMITTER_DATE", f"{int(backend.created_at.timestamp()) + 60} +0000")
    infra.commit("1.1 for the feature", values("1.1"))
    infra.publish(infra.bare)
    monkeypatch.delenv("GIT_COMMITTER_DATE")
    sync(deploy, django_capture_on_commit_callbacks)
    sync(backend, django_capture_on_commit_callbacks)
    assert redeploy_warnings(project) == []
    release = ImageRelease.objects.get(repository=backend)
    assert release.resolved_by.new_tag == "1.1"


def test_over_long_values_are_refused_with_a_reason_and_everything_else_is_kept(
    project, external_forge, django_capture_on_commit_callbacks
):
    deep = "/".join(["d" * 200] * 3)  # a manifest path over 500 characters
    long_tag, long_name = "t" * 250, "registry.example.com/" + "n" * 600
    files = {
        "kustomization.yaml": (
            f"resources:\n  - {deep}/deploy.yaml\nimages:\n  - name: registry.example.com/acme/ok\n    newTag: '1.0'\n"
            f"  - name: registry.example.com/acme/long-tag\n    newTag: '{long_tag}'\n"
            f"  - name: {long_name}\n    newTag: '1'\n"
        ),
        f"{deep}/deploy.yaml": (
            "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: w}\nspec:\n  template:\n    spec:\n"
            "      containers:\n        - name: w\n          image: registry.example.com/acme/deep:2.0\n"
        ),
    }
    infra = external_forge.create("deploy", files)
    deploy = register_infra(project, external_forge, django_capture_on_commit_callbacks,
                            deploy_kind="kustomize", deploy_path=".")
    run = SyncRun.objects.get(repository=deploy)

    assert "error" not in run.image_scan, run.image_scan
    assert_counted(run)
    assert {c.image for c in ImageTagChange.objects.filter(repository=deploy)} == {"registry.example.com/acme/ok"}
    assert {e.image for e in ImageInventoryEntry.objects.filter(repository=deploy)} == {"registry.example.com/acme/ok"}
    reasons = [p["reason"] for p in run.image_scan["problems"]]
    assert "image change refused: file is 614 characters long (limit 500); not recorded" in reasons
    assert "image change refused: new tag is 250 characters long (limit 200); not recorded" in reasons
    # The long name also makes the kustomize location ("images[name=...]") too long: the first bound met.
    assert "image change refused: location is 634 characters long (limit 500); not recorded" in reasons
    assert "image reference refused: image is 621 characters long (limit 500); not recorded" in reasons
    assert "image reference refused: file is 614 characters long (limit 500); not recorded" in reasons
    assert run.image_scan["refused"] == 6 and run.image_scan["images"] == 1
    assert all(len(p["file"]) <= 121 for p in run.image_scan["problems"])

    # Later syncs keep working and keep recording.
    files["kustomization.yaml"] = files["kustomization.yaml"].replace("newTag: '1.0'", "newTag: '1.1'")
    infra.commit("ok 1.1", files)
    infra.publish(infra.bare)
    later = sync(deploy, django_capture_on_commit_callbacks)
    assert later.image_scan["changes"] == 1 and "error" not in later.image_scan


def test_a_last_scanned_commit_gone_from_the_repository_does_not_stop_detection(
    project, external_forge, django_capture_on_commit_callbacks
):
    from console.models import Repository

    infra = external_forge.create("deploy", values("1.0"))
    base = infra.sha()
    deploy = register_infra(project, external_forge, django_capture_on_commit_callbacks)
    infra.commit("1.1", values("1.1"))
    infra.publish(infra.bare)
    sync(deploy, django_capture_on_commit_callbacks)
    infra.reset_hard(base)
    infra.commit("1.2 instead", values("1.2"))
    infra.publish(infra.bare)
    # As after a force-push and a garbage collection of the mirror cache: the scanned commit is no more.
    Repository.objects.filter(pk=deploy.pk).update(images_scanned_sha="0123abcd" * 5)

    run = sync(deploy, django_capture_on_commit_callbacks)

    assert "error" not in run.image_scan, run.image_scan
    assert "0123abcd0123 is gone from the repository" in run.image_scan["problems"][0]["reason"]
    assert run.image_scan["changes"] == 1 and run.image_scan["already_recorded"] == 2  # backend + worker at base
    assert_counted(run)
    rows = [(h["commit_subject"], h["new_tag"], h["rewritten"]) for h in history(project, deploy, image=BACKEND)]
    assert rows == [("1.2 instead", "1.2", False), ("1.1", "1.1", True), ("initial commit", "1.0", False)]
    # The next sync is incremental again.
    infra.commit("1.3", values("1.3"))
    infra.publish(infra.bare)
    assert sync(deploy, django_capture_on_commit_callbacks).image_scan["changes"] == 1
