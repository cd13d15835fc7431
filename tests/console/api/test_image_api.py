"""Image tag endpoints: inventory, history, bumps (user or pipeline), CI build reports, warnings."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from console.models import RunStatus
from console.models.images import ImageBump, ImageTagChange
from console.services.actors import Actor
from console.services.ci_tokens import ci_token_create
from console.services.organizations import organization_create
from console.services.projects import project_create
from console.services.repositories import repository_register
from tests.console.services.test_flow import executed  # noqa: F401 - fixture
from tests.factories import make_user
from tests.support.gitrepos import git

pytestmark = pytest.mark.django_db

VALUES = 'image:\n  repository: registry.example.com/acme/api\n  tag: "{tag}"  # keep quotes\n'


@pytest.fixture
def setup(forge_server, external_forge, executed, django_capture_on_commit_callbacks):  # noqa: F811
    owner = make_user("olivia")
    actor = Actor.for_user(owner, "api")
    organization = organization_create(actor=actor, slug="acme", name="ACME")
    with django_capture_on_commit_callbacks(execute=True):
        project, _ = project_create(actor=actor, organization=organization, slug="shop")
    infra = external_forge.create("deploy", {"values.yaml": VALUES.format(tag="1.0")})
    infra.commit("to 1.1", {"values.yaml": VALUES.format(tag="1.1")})
    infra.publish(infra.bare)
    app_work = external_forge.create("api")
    with django_capture_on_commit_callbacks(execute=True):
        deploy = repository_register(actor=actor, project=project, name="deploy", is_infra=True, deploy_kind="helm",
                                     external_url=external_forge.url("deploy"), username="ci",
                                     token=external_forge.token)
        app = repository_register(actor=actor, project=project, name="api", external_url=external_forge.url("api"),
                                  image_name="registry.example.com/acme/api")
    api = APIClient()
    api.force_authenticate(owner)
    return {"owner": owner, "actor": actor, "project": project, "deploy": deploy, "app": app, "infra": infra,
            "api": api, "app_work": app_work}


def test_inventory_and_history(setup):
    api, deploy = setup["api"], setup["deploy"]
    inventory = api.get(f"/api/v1/repositories/{deploy.pk}/images/").json()["results"]
    assert inventory == [{"image": "registry.example.com/acme/api", "tag": "1.1", "digest": "", "file": "values.yaml",
                          "location": "image", "source": "helm-values", "commit_sha": setup["infra"].sha()}]
    history = api.get(f"/api/v1/repositories/{deploy.pk}/image-tags/").json()["results"]
    assert [(h["old_tag"], h["new_tag"], h["commit_subject"]) for h in history] == [
        ("1.0", "1.1", "to 1.1"), ("", "1.0", "initial commit"),
    ]
    assert api.get(f"/api/v1/repositories/{deploy.pk}/image-tags/?image=other").json()["count"] == 0


def test_pipeline_reports_a_build_sees_the_warning_and_bumps_with_the_infra_repo_ci_token(
    setup, django_capture_on_commit_callbacks
):
    app_token = ci_token_create(actor=setup["actor"], repository=setup["app"], name="build",
                                scopes=["report_build"])[1]
    deploy_token = ci_token_create(actor=setup["actor"], repository=setup["deploy"], name="deploy",
                                   scopes=["bump"])[1]
    pipeline = APIClient()

    pipeline.credentials(HTTP_AUTHORIZATION=f"Bearer {app_token}")
    report = pipeline.post(f"/api/v1/repositories/{setup['app'].pk}/images/built/", {"tag": "1.2"}, format="json")
    assert report.status_code == 201, report.content
    assert report.json() == {"image": "registry.example.com/acme/api", "tag": "1.2", "warning_open": True,
                             "bump_candidates": 1}
    [warning] = setup["api"].get(f"/api/v1/projects/{setup['project'].pk}/warnings/").json()
    assert warning["tag"] == "1.2"
    assert warning["bump_candidates"][0]["repository"] == "deploy"
    # The app's token cannot bump the infra repository; the infra repository's token can.
    refused = pipeline.post(f"/api/v1/repositories/{setup['deploy'].pk}/image-tags/",
                            {"image": "registry.example.com/acme/api", "tag": "1.2"}, format="json")
    assert refused.status_code == 403
    assert pipeline.get(f"/api/v1/repositories/{setup['app'].pk}/image-tags/").status_code == 403

    pipeline.credentials(HTTP_AUTHORIZATION=f"Bearer {deploy_token}")
    with django_capture_on_commit_callbacks(execute=True):
        accepted = pipeline.post(f"/api/v1/repositories/{setup['deploy'].pk}/image-tags/",
                                 {"image": "registry.example.com/acme/api", "tag": "1.2", "reason": "pipeline 42"},
                                 format="json")
    assert accepted.status_code == 202, accepted.content
    bump = ImageBump.objects.get(pk=accepted.json()["id"])
    assert bump.status == RunStatus.SUCCEEDED, bump.error_message
    assert bump.trigger == "ci"
    assert git("show", "main:values.yaml", cwd=setup["infra"].bare) == VALUES.format(tag="1.2")
    change = ImageTagChange.objects.get(repository=setup["deploy"], new_tag="1.2")
    assert change.bump_id == bump.pk
    assert setup["api"].get(f"/api/v1/projects/{setup['project'].pk}/warnings/").json() == []
    detail = setup["api"].get(f"/api/v1/image-bumps/{bump.pk}/").json()
    assert detail["old_tag"] == "1.1" and detail["commit_sha"] == change.commit_sha


def test_a_pipeline_report_answers_only_its_release_a_member_gets_the_warnings(setup):
    """A pipeline learns nothing about the project's other images; a signed-in member sees them all."""
    from console.models.images import ImageRelease
    from console.services.images import image_release_record

    image_release_record(repository=setup["app"], image="registry.example.com/acme/secret-worker", tag="9.9",
                         commit_sha="", source=ImageRelease.Source.CI_REPORT)
    app_token = ci_token_create(actor=setup["actor"], repository=setup["app"], name="build",
                                scopes=["report_build"])[1]
    pipeline = APIClient()
    pipeline.credentials(HTTP_AUTHORIZATION=f"Bearer {app_token}")
    url = f"/api/v1/repositories/{setup['app'].pk}/images/built/"
    report = pipeline.post(url, {"tag": "1.2"}, format="json")
    assert report.status_code == 201, report.content
    assert report.json() == {"image": "registry.example.com/acme/api", "tag": "1.2", "warning_open": True,
                             "bump_candidates": 1}
    assert "secret-worker" not in report.content.decode()
    # A tag an infra repository already deploys opens no warning.
    deployed = pipeline.post(url, {"tag": "1.1"}, format="json").json()
    assert deployed["warning_open"] is False and deployed["bump_candidates"] == 1

    by_member = setup["api"].post(url, {"tag": "1.3"}, format="json")
    assert by_member.status_code == 201
    assert {w["image"] for w in by_member.json()} == {"registry.example.com/acme/api",
                                                      "registry.example.com/acme/secret-worker"}


def test_a_sync_only_token_can_neither_report_nor_bump(setup):
    sync_only = ci_token_create(actor=setup["actor"], repository=setup["deploy"], name="sync")[1]
    pipeline = APIClient()
    pipeline.credentials(HTTP_AUTHORIZATION=f"Bearer {sync_only}")
    bump = pipeline.post(f"/api/v1/repositories/{setup['deploy'].pk}/image-tags/",
                         {"image": "registry.example.com/acme/api", "tag": "1.2"}, format="json")
    assert bump.status_code == 403 and bump.json()["code"] == "ci_scope_missing"
    assert "lacks the 'bump' scope" in bump.json()["detail"]
    report = pipeline.post(f"/api/v1/repositories/{setup['deploy'].pk}/images/built/",
                           {"image": "registry.example.com/acme/api", "tag": "1.2"}, format="json")
    assert report.status_code == 403 and "lacks the 'report_build' scope" in report.json()["detail"]
    assert not ImageBump.objects.exists()


def test_bad_bumps_are_refused_with_a_reason(setup, django_capture_on_commit_callbacks):
    api, deploy = setup["api"], setup["deploy"]
    assert api.post(f"/api/v1/repositories/{deploy.pk}/image-tags/", {"image": "x"}, format="json").status_code == 400
    with_spaces = api.post(f"/api/v1/repositories/{deploy.pk}/image-tags/", {"image": "x", "tag": "a b"},
                           format="json")
    assert with_spaces.status_code == 400
    with django_capture_on_commit_callbacks(execute=True):
        unknown = api.post(f"/api/v1/repositories/{deploy.pk}/image-tags/",
                           {"image": "registry.example.com/nope", "tag": "2"}, format="json")
    bump = ImageBump.objects.get(pk=unknown.json()["id"])
    assert bump.status == RunStatus.FAILED
    assert "registry.example.com/nope" in bump.error_message
    app = setup["app"]
    not_infra = api.post(f"/api/v1/repositories/{app.pk}/image-tags/", {"image": "x", "tag": "1"}, format="json")
    assert not_infra.status_code == 400
    assert not_infra.json()["code"] == "not_infra"


def test_sync_run_detail_carries_the_warnings(setup, django_capture_on_commit_callbacks):
    from console.models import SyncRun, Trigger
    from console.services.syncs import sync_request

    api, app = setup["api"], setup["app"]
    # Changed by issue 7: the import of a newly registered app repository is history older than its
    # registration and warns about nothing; a commit pushed after it does.
    imported = app.sync_runs.first()
    assert api.get(f"/api/v1/syncs/{imported.pk}/").json()["redeploy_warnings"] == []
    setup["app_work"].commit("feature", {"app.py": "print(2)\n"})
    setup["app_work"].publish(setup["app_work"].bare)
    with django_capture_on_commit_callbacks(execute=True):
        run = sync_request(actor=Actor.system(), repository=app, trigger=Trigger.API).run
    assert SyncRun.objects.get(pk=run.pk).status == RunStatus.SUCCEEDED
    body = api.get(f"/api/v1/syncs/{run.pk}/").json()
    assert [w["image"] for w in body["redeploy_warnings"]] == ["registry.example.com/acme/api"]
    assert "Argo CD will redeploy nothing" in body["redeploy_warnings"][0]["message"]
