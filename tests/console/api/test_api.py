"""REST API v1: token auth, visibility, 202 runs, clear 4xx errors, constant query counts."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient
from ruamel.yaml import YAML

from console.models import AuditEvent, Project, ProvisioningRun, Repository, Role, SyncRun
from tests.factories import make_member, make_organization, make_project, make_repository, make_user
from tests.support.enqueue import stand_in

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def no_broker(monkeypatch):
    """API tests check what the API records; the task path is tested through the real broker elsewhere."""

    stand_in(monkeypatch, "sync", lambda run_id: None)
    stand_in(monkeypatch, "provisioning", lambda run_id: None)


def client_for(user) -> APIClient:
    client = APIClient()
    response = client.post("/api/v1/auth/token/", {"username": user.username, "password": "pass-word-123"})
    assert response.status_code == 200, response.content
    client.credentials(HTTP_AUTHORIZATION=f"Token {response.json()['token']}")
    return client


def test_token_auth_rejects_wrong_password_and_anonymous_calls():
    user = make_user()
    response = APIClient().post("/api/v1/auth/token/", {"username": user.username, "password": "nope"})
    assert response.status_code == 400
    assert response.json()["code"] == "invalid_credentials"
    assert APIClient().get("/api/v1/projects/").status_code == 401
    bad = APIClient()
    bad.credentials(HTTP_AUTHORIZATION="Token not-a-token")
    assert bad.get("/api/v1/projects/").status_code == 401


def test_member_of_one_project_cannot_see_another():
    organization = make_organization()
    mine, other = make_project(organization), make_project(organization)
    other_repo = make_repository(other)
    user = make_user()
    make_member(user, mine, Role.DEVELOPER)
    api = client_for(user)

    listed = api.get("/api/v1/projects/").json()
    assert [p["id"] for p in listed["results"]] == [mine.pk]
    assert api.get(f"/api/v1/projects/{other.pk}/").status_code == 404
    assert api.get(f"/api/v1/projects/{other.pk}/repositories/").status_code == 404
    assert api.get(f"/api/v1/repositories/{other_repo.pk}/").status_code == 404
    assert api.post(f"/api/v1/repositories/{other_repo.pk}/sync/").status_code == 404
    assert api.get(f"/api/v1/projects/{other.pk}/manifests/").status_code == 404
    SyncRun.objects.create(repository=other_repo, trigger="api")
    assert api.get("/api/v1/syncs/").json()["results"] == []


def test_create_organization_project_and_repository_through_the_api():
    user = make_user()
    api = client_for(user)
    response = api.post("/api/v1/organizations/", {"slug": "acme", "name": "ACME"}, format="json")
    assert response.status_code == 201, response.content

    response = api.post("/api/v1/projects/", {"organization": "acme", "slug": "shop", "name": "Shop"}, format="json")
    assert response.status_code == 202, response.content
    body = response.json()
    assert body["status"] == "provisioning"
    assert body["namespace"] == "acme-shop"
    assert body["provisioning_run"]["status"] == "queued"
    project_id = body["id"]

    response = api.post(
        f"/api/v1/projects/{project_id}/repositories/",
        {"name": "deploy", "external_url": "https://git.example.com/acme/deploy.git", "is_infra": True,
         "deploy_kind": "helm", "deploy_path": "chart", "is_private": True, "username": "ci",
         "token": "s3cr3t-token-value"},
        format="json",
    )
    assert response.status_code == 201, response.content
    repository = response.json()
    assert repository["token_is_set"] is True
    assert "token" not in repository
    assert repository["helm_value_files"] == ["values.yaml"]
    assert repository["internal_path"] == "dso/acme/shop/deploy"
    assert SyncRun.objects.get(repository_id=repository["id"]).trigger == "initial"
    assert "s3cr3t-token-value" not in str(list(AuditEvent.objects.values("before", "after")))

    manifests = api.get(f"/api/v1/projects/{project_id}/manifests/")
    assert manifests.status_code == 200
    assert manifests["Content-Type"].startswith("application/yaml")
    documents = list(YAML(typ="safe").load_all(manifests.content.decode()))
    kinds = [d["kind"] for d in documents]
    assert kinds[:5] == ["Namespace", "ResourceQuota", "LimitRange", "NetworkPolicy", "AppProject"]
    assert kinds[5:] == ["Application"]


def test_sync_answers_202_and_joins_a_queued_run():
    project = make_project()
    repository = make_repository(project)
    user = make_user()
    make_member(user, project, Role.DEVELOPER)
    api = client_for(user)
    first = api.post(f"/api/v1/repositories/{repository.pk}/sync/")
    second = api.post(f"/api/v1/repositories/{repository.pk}/sync/")
    assert first.status_code == second.status_code == 202
    assert first.json()["id"] == second.json()["id"]
    assert first["Location"].endswith(f"/api/v1/syncs/{first.json()['id']}/")
    run = api.get(f"/api/v1/syncs/{first.json()['id']}/").json()
    assert run["joined_requests"] == 1
    assert run["trigger_detail"]["joined"] == [{"by": user.username, "interface": "api"}]
    history = api.get(f"/api/v1/repositories/{repository.pk}/syncs/").json()
    assert len(history["results"]) == 1 and history["next"] is None


@pytest.mark.parametrize(
    "payload, field, code",
    [
        ({"name": "Bad_Name", "external_url": "https://x.example/a.git"}, "name", None),
        ({"name": "a", "external_url": "https://user:pw@x.example/a.git"}, "external_url", "credentials"),
        ({"name": "a", "external_url": "ftp://x.example/a.git"}, "external_url", "scheme"),
        ({"name": "a", "external_url": "http://git.example.com/a.git"}, "external_url", "https"),
        ({"name": "a", "external_url": "https://x.example/a.git", "deploy_kind": "helm"}, "deploy_kind", "infra"),
        ({"name": "a", "external_url": "https://x.example/a.git", "is_infra": True}, "deploy_kind", "helm"),
        ({"name": "a", "external_url": "https://x.example/a.git", "is_private": True}, "token", "token"),
        ({"name": "a", "external_url": "https://x.example/a.git", "deploy_path": "../x", "is_infra": True,
          "deploy_kind": "kustomize"}, "deploy_path", "inside"),
    ],
)
def test_bad_repository_input_gets_a_400_and_creates_nothing(payload, field, code):
    project = make_project()
    user = make_user()
    make_member(user, project, Role.MAINTAINER)
    response = client_for(user).post(f"/api/v1/projects/{project.pk}/repositories/", payload, format="json")
    assert response.status_code == 400, response.content
    detail = response.json()["detail"]
    assert field in detail, detail
    if code:
        assert code in " ".join(detail[field]).lower()
    assert Repository.objects.count() == 0
    assert SyncRun.objects.count() == 0


def test_duplicate_slugs_and_bad_names_are_refused_clearly():
    user = make_user()
    api = client_for(user)
    assert api.post("/api/v1/organizations/", {"slug": "acme", "name": "A"}, format="json").status_code == 201
    duplicate = api.post("/api/v1/organizations/", {"slug": "acme", "name": "B"}, format="json")
    assert duplicate.status_code == 400
    assert "already exists" in duplicate.json()["detail"]["slug"][0]
    bad = api.post("/api/v1/organizations/", {"slug": "ACME!", "name": "B"}, format="json")
    assert bad.status_code == 400
    assert api.post("/api/v1/projects/", {"organization": "acme", "slug": "shop"}, format="json").status_code == 202
    again = api.post("/api/v1/projects/", {"organization": "acme", "slug": "shop"}, format="json")
    assert again.status_code == 400
    assert Project.objects.count() == 1
    assert ProvisioningRun.objects.count() == 1
    # "acme-x"/"y" would collide with "acme"/"x-y" as a namespace.
    assert api.post("/api/v1/projects/", {"organization": "acme", "slug": "x-y"}, format="json").status_code == 202
    assert api.post("/api/v1/organizations/", {"slug": "acme-x", "name": "C"}, format="json").status_code == 201
    collision = api.post("/api/v1/projects/", {"organization": "acme-x", "slug": "y"}, format="json")
    assert collision.status_code == 400
    assert "namespace" in collision.json()["detail"]["slug"][0]


def test_roles_limit_what_members_may_do():
    project = make_project()
    reader, developer = make_user(), make_user()
    make_member(reader, project, Role.READER)
    make_member(developer, project, Role.DEVELOPER)
    repository = make_repository(project)
    assert client_for(reader).post(f"/api/v1/repositories/{repository.pk}/sync/").status_code == 403
    forbidden = client_for(developer).post(
        f"/api/v1/projects/{project.pk}/repositories/",
        {"name": "new", "external_url": "https://x.example/a.git"}, format="json",
    )
    assert forbidden.status_code == 403
    assert forbidden.json()["code"] == "permission_denied"
    assert client_for(developer).post(f"/api/v1/projects/{project.pk}/members/",
                                      {"username": reader.username, "role": "owner"}).status_code == 403


def test_owner_manages_members():
    project = make_project()
    owner, newcomer = make_user(), make_user()
    make_member(owner, project, Role.OWNER)
    api = client_for(owner)
    response = api.post(f"/api/v1/projects/{project.pk}/members/", {"username": newcomer.username, "role": "reader"})
    assert response.status_code == 201, response.content
    assert api.post(f"/api/v1/projects/{project.pk}/members/",
                    {"username": "ghost", "role": "reader"}).status_code == 400
    assert api.post(f"/api/v1/projects/{project.pk}/members/",
                    {"username": newcomer.username, "role": "emperor"}).status_code == 400
    members = api.get(f"/api/v1/projects/{project.pk}/members/").json()["results"]
    assert {m["username"]: m["role"] for m in members} == {owner.username: "owner", newcomer.username: "reader"}
    assert api.delete(f"/api/v1/projects/{project.pk}/members/{response.json()['id']}/").status_code == 204


def test_list_query_counts_do_not_grow_with_rows():
    user = make_user()
    organization = make_organization(owner=user)
    api = client_for(user)

    def count(url):
        with CaptureQueriesContext(connection) as queries:
            assert api.get(url).status_code == 200
        return len(queries)

    project = make_project(organization)
    make_repository(project)
    SyncRun.objects.create(repository=project.repositories.get(), trigger="api")
    count("/api/v1/syncs/")  # the token's first use records last_used_at: one UPDATE, once
    baseline = {url: count(url) for url in ("/api/v1/projects/", f"/api/v1/projects/{project.pk}/repositories/",
                                             "/api/v1/syncs/")}
    for _ in range(5):
        extra = make_project(organization)
        repo = make_repository(project)
        SyncRun.objects.create(repository=repo, trigger="api")
        make_repository(extra)
    for url, queries in baseline.items():
        assert count(url) == queries, url


def test_openapi_schema_and_docs_are_served():
    user = make_user()
    api = client_for(user)
    schema = api.get("/api/schema/")
    assert schema.status_code == 200
    text = schema.content.decode()
    assert "/api/v1/repositories/{id}/sync/" in text
    assert api.get("/api/docs/").status_code == 200


def test_argocd_credentials_are_for_platform_admins_only(settings):
    project = make_project()
    owner, admin = make_user(), make_user(staff=True)
    make_member(owner, project, Role.OWNER)
    assert client_for(owner).get(f"/api/v1/projects/{project.pk}/argocd-credentials/").status_code == 403
    response = client_for(admin).get(f"/api/v1/projects/{project.pk}/argocd-credentials/")
    assert response.status_code == 200
    assert response.json()["password"] == settings.LOCAL_FORGE_READ_TOKEN
    assert response["Cache-Control"] == "no-store"


def test_openapi_schema_is_valid_and_generates_without_warnings(tmp_path):
    from django.core.management import call_command

    call_command("spectacular", "--fail-on-warn", "--validate", "--file", str(tmp_path / "schema.yaml"))
    schema = (tmp_path / "schema.yaml").read_text()
    for path in ("/api/v1/repositories/{id}/image-tags/", "/api/v1/hooks/gitlab/", "/api/v1/projects/{id}/warnings/"):
        assert path in schema


def test_changing_a_repository_url_needs_its_token_again():
    project = make_project()
    maintainer = make_user()
    make_member(maintainer, project, Role.MAINTAINER)
    repository = make_repository(project, external_url="https://git.example.com/a/app.git", is_private=True,
                                 username="ci", token="kept-secret")
    api = client_for(maintainer)
    url = f"/api/v1/repositories/{repository.pk}/"
    for elsewhere in ("https://attacker.example.net/a/app.git",
                      # Same host: the stored token could read another team's repository there.
                      "https://git.example.com/other-team/secret.git", "https://git.example.com/a/renamed.git"):
        moved = api.patch(url, {"external_url": elsewhere}, format="json")
        assert moved.status_code == 400, elsewhere
        assert moved.json()["code"] == "token_required_for_new_url"
        repository.refresh_from_db()
        assert repository.external_url == "https://git.example.com/a/app.git"
    # The same repository written differently is not a change of URL.
    assert api.patch(url, {"external_url": "https://GIT.example.com:443/a/app"}, format="json").status_code == 200
    with_token = api.patch(url, {"external_url": "https://other.example.org/a/app.git", "token": "new-one"},
                           format="json")
    assert with_token.status_code == 200
    repository.refresh_from_db()
    assert repository.token == "new-one"


def test_token_endpoint_is_throttled(settings):
    user = make_user()
    anonymous = APIClient()
    statuses = [anonymous.post("/api/v1/auth/token/", {"username": user.username, "password": "wrong"}).status_code
                for _ in range(settings.LOGIN_FAILURE_LIMIT + 5)]
    assert statuses[:settings.LOGIN_FAILURE_LIMIT] == [400] * settings.LOGIN_FAILURE_LIMIT
    assert statuses[-1] == 429
