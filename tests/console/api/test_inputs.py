"""Accepted input never breaks a project: what registration takes, provisioning renders; everything else is a
clear 4xx JSON answer, and even an unexpected failure under /api/ answers JSON."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient
from ruamel.yaml import YAML

from console.models import Organization, Project, ProvisioningRun, Repository, Role, RunStatus
from console.services.provisioning import provisioning_execute
from tests.factories import make_member, make_organization, make_project, make_repository, make_user
from tests.support.enqueue import stand_in

pytestmark = pytest.mark.django_db

INFRA = {"is_infra": True, "deploy_kind": "helm", "external_url": "https://git.example.com/acme/deploy.git"}


@pytest.fixture
def queued_only(monkeypatch):
    """Checks of what the API records; provisioning itself runs in the tests that ask for ``provisioned``."""

    stand_in(monkeypatch, "sync", lambda run_id: None)
    stand_in(monkeypatch, "provisioning", lambda run_id: None)


def client_for(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


@pytest.fixture
def maintainer_api(queued_only):
    project = make_project(make_organization("acme"), "shop")
    user = make_user()
    make_member(user, project, Role.MAINTAINER)
    return client_for(user), project


def register(api, project, **fields):
    return api.post(f"/api/v1/projects/{project.pk}/repositories/", {"name": "deploy", **INFRA, **fields},
                    format="json")


# ------------------------------------------------------------------------------ revisions, value files


@pytest.mark.parametrize("revision", ["my branch", "a..b", "-x", "main.lock", "feat:x", "a\u00a0b", "@"])
def test_a_revision_git_would_refuse_is_refused_at_registration(maintainer_api, revision):
    api, project = maintainer_api
    response = register(api, project, deploy_revision=revision)
    assert response.status_code == 400, response.content
    assert response.json()["code"] == "invalid"
    assert "deploy_revision" in response.json()["detail"]
    assert not Repository.objects.exists() and not ProvisioningRun.objects.exists()


@pytest.mark.parametrize("value_file", [
    "../secrets.yaml", "/etc/passwd", "$HOME/values.yaml", "https://elsewhere.test/values.yaml", "a\\b.yaml",
    "values\t.yaml", "values-*.yaml",
])
def test_a_value_file_outside_the_repository_is_refused(maintainer_api, value_file):
    api, project = maintainer_api
    response = register(api, project, helm_value_files=["values.yaml", value_file])
    assert response.status_code == 400, response.content
    assert "helm_value_files" in response.json()["detail"]
    assert not Repository.objects.exists()


@pytest.mark.parametrize("revision", ["main", "feature/login", "v1.2.3", "0123456789abcdef0123456789abcdef01234567"])
def test_branches_tags_and_commits_are_accepted_and_rendered(maintainer_api, revision):
    api, project = maintainer_api
    response = register(api, project, deploy_revision=revision, helm_value_files=["values production.yaml"])
    assert response.status_code == 201, response.content
    manifests = api.get(f"/api/v1/projects/{project.pk}/manifests/")
    assert manifests.status_code == 200, manifests.content
    application = list(YAML(typ="safe").load_all(manifests.content.decode()))[-1]
    assert application["spec"]["source"]["targetRevision"] == revision
    assert application["spec"]["source"]["helm"]["valueFiles"] == ["values production.yaml"]


@pytest.fixture
def provisioned(monkeypatch):
    """The broker hop replaced by a direct call of the task body; syncs are not part of these checks."""

    stand_in(monkeypatch, "sync", lambda run_id: None)
    stand_in(monkeypatch, "provisioning",
                        lambda run_id: provisioning_execute(run_id=run_id, task_id=f"prov-{run_id}"))


def test_a_value_file_with_a_space_provisions_the_project(forge_server, provisioned,
                                                          django_capture_on_commit_callbacks):
    user = make_user()
    api = client_for(user)
    with django_capture_on_commit_callbacks(execute=True):
        assert api.post("/api/v1/organizations/", {"slug": "acme"}, format="json").status_code == 201
        created = api.post("/api/v1/projects/", {"organization": "acme", "slug": "shop"}, format="json")
    project = Project.objects.get(pk=created.json()["id"])
    with django_capture_on_commit_callbacks(execute=True):
        response = register(api, project, deploy_revision="release/2024.01",
                            helm_value_files=["values production.yaml"])
    assert response.status_code == 201, response.content
    project.refresh_from_db()
    last = project.provisioning_runs.order_by("-id").first()
    assert last.status == RunStatus.SUCCEEDED, last.error_message
    assert project.status == Project.Status.READY
    assert api.get(f"/api/v1/projects/{project.pk}/manifests/").status_code == 200


# ------------------------------------------------------------------------------------- JSON errors


def test_manifests_of_data_stored_before_validation_answer_json_not_an_html_500(maintainer_api):
    api, project = maintainer_api
    make_repository(project, "deploy", is_infra=True, deploy_kind="helm", deploy_revision="my branch")
    response = api.get(f"/api/v1/projects/{project.pk}/manifests/")
    assert response.status_code == 422
    assert response["Content-Type"] == "application/json"
    assert response.json()["code"] == "invalid_manifest"
    assert "my branch" in response.json()["detail"]


def test_an_unexpected_exception_in_an_api_view_answers_json_500(maintainer_api):
    api, project = maintainer_api
    # A secret that cannot be decrypted (a key removed from DSO_ENCRYPTION_KEYS): loading the row fails.
    from django.db import connection

    from console.crypto import PREFIX

    with connection.cursor() as cursor:
        cursor.execute(f"UPDATE {Project._meta.db_table} SET argocd_token = %s WHERE id = %s",
                       [PREFIX + "not-a-fernet-token", project.pk])
    response = api.get(f"/api/v1/projects/{project.pk}/")
    assert response.status_code == 500
    assert response["Content-Type"] == "application/json"
    assert response.json() == {"detail": response.json()["detail"], "code": "server_error"}
    assert "not-a-fernet-token" not in response.content.decode()


def test_errors_outside_any_view_answer_json_under_api_only(rf, queued_only):
    from console.api.errors import page_not_found, server_error

    response = client_for(make_user()).get("/api/v1/no-such-thing/")
    assert response.status_code == 404 and response.json()["code"] == "not_found"
    assert server_error(rf.get("/api/v1/projects/")).status_code == 500
    assert server_error(rf.get("/api/v1/projects/"))["Content-Type"] == "application/json"
    assert server_error(rf.get("/portal/"))["Content-Type"].startswith("text/html")
    assert page_not_found(rf.get("/portal/"), Exception())["Content-Type"].startswith("text/html")


# ---------------------------------------------------------------------------------------- namespaces


def test_reserved_namespaces_are_refused_with_a_clear_400(settings, queued_only):
    settings.RESERVED_NAMESPACES = ("acme-monitoring", "team-*")
    settings.ARGOCD_NAMESPACE = "gitops-argocd"
    user = make_user()
    api = client_for(user)
    for slug in ("kube", "team", "kube-x"):
        refused = api.post("/api/v1/organizations/", {"slug": slug}, format="json")
        assert refused.status_code == 400, (slug, refused.content)
        assert refused.json()["code"] == "reserved_namespace"
        assert "reserved" in refused.json()["detail"]["slug"][0]
    # Organizations that existed before the rule, and names reserved one by one.
    for slug in ("kube", "acme", "gitops"):
        make_organization(slug, owner=user)
    for organization, project in (("kube", "system"), ("acme", "monitoring"), ("gitops", "argocd")):
        response = api.post("/api/v1/projects/", {"organization": organization, "slug": project}, format="json")
        assert response.status_code == 400, response.content
        assert response.json()["code"] == "reserved_namespace"
        assert f"{organization}-{project}" in response.json()["detail"]["slug"][0]
    assert not Project.objects.exists() and not ProvisioningRun.objects.exists()
    assert api.post("/api/v1/projects/", {"organization": "acme", "slug": "shop"}, format="json").status_code == 202


def test_a_namespace_taken_by_another_project_is_refused(queued_only):
    user = make_user()
    api = client_for(user)
    for slug in ("a-b", "a"):
        assert api.post("/api/v1/organizations/", {"slug": slug}, format="json").status_code == 201
    assert api.post("/api/v1/projects/", {"organization": "a-b", "slug": "c"}, format="json").status_code == 202
    collision = api.post("/api/v1/projects/", {"organization": "a", "slug": "b-c"}, format="json")
    assert collision.status_code == 400
    assert collision.json()["code"] == "duplicate"
    assert "'a-b-c' is already used by a-b/c" in collision.json()["detail"]["slug"][0]


def test_manifests_of_a_project_stored_with_a_reserved_namespace_answer_422(queued_only):
    project = make_project(make_organization("kube"), "system")
    user = make_user()
    make_member(user, project, Role.OWNER)
    response = client_for(user).get(f"/api/v1/projects/{project.pk}/manifests/")
    assert response.status_code == 422 and "reserved" in response.json()["detail"]
    assert response["Content-Type"] == "application/json"


# ---------------------------------------------------------------------------------------------- URLs


@pytest.mark.parametrize("url", ["https://git.example.com:abc/a.git", "https://git.example.com:65536/a.git"])
@pytest.mark.parametrize("token", ["", "stored-token"])
def test_an_unreadable_port_is_a_400(maintainer_api, url, token):
    api, project = maintainer_api
    repository = make_repository(project, "app", external_url="https://git.example.com/a.git", token=token)
    response = api.patch(f"/api/v1/repositories/{repository.pk}/", {"external_url": url}, format="json")
    assert response.status_code == 400, response.content
    assert "external_url" in response.json()["detail"]
    created = api.post(f"/api/v1/projects/{project.pk}/repositories/", {"name": "other", "external_url": url},
                       format="json")
    assert created.status_code == 400 and "external_url" in created.json()["detail"]


# --------------------------------------------------------------------------------------- descriptions


def test_a_description_longer_than_the_bound_is_refused(maintainer_api):
    api, project = maintainer_api
    owner = make_user()
    make_member(owner, project, Role.OWNER)
    too_long = client_for(owner).patch(f"/api/v1/projects/{project.pk}/", {"description": "x" * 256}, format="json")
    assert too_long.status_code == 400 and "description" in too_long.json()["detail"]
    created = client_for(owner).post("/api/v1/projects/", {"organization": "acme", "slug": "other",
                                                           "description": "x" * 256}, format="json")
    assert created.status_code == 400 and "description" in created.json()["detail"]
    for name in ("two\nlines", "tab\there", "escape\x1b[31m"):
        refused = client_for(owner).patch(f"/api/v1/projects/{project.pk}/", {"name": name}, format="json")
        assert refused.status_code == 400 and "name" in refused.json()["detail"], name


def test_the_longest_accepted_project_renders_objects_every_schema_accepts(queued_only, settings):
    from console.services.actors import Actor
    from console.services.organizations import organization_quota_limits_set
    from tests.provisioning._manifest_support import ODD_TEXT, text_of, validate_against_every_schema

    # The platform's settings at their most unusual: many allowances, IPv6, a group pattern with spaces.
    settings.NETWORK_INGRESS_NAMESPACES = tuple(f"{i:02d}-" + "i" * 60 for i in range(10))
    settings.NETWORK_EGRESS_NAMESPACES = ("vault", "e" * 63)
    settings.NETWORK_EGRESS_CIDRS = ("10.0.0.0/8", "2001:db8::/32")
    settings.OIDC_PROJECT_GROUP_PATTERN = "Plätform Ω:{organization}/{project}/{role}"
    user = make_user()
    api = client_for(user)
    org_slug, project_slug = "o" * 40, "p" * 40
    assert api.post("/api/v1/organizations/", {"slug": org_slug, "name": text_of(200)},
                    format="json").status_code == 201
    # The largest limits Kubernetes and the database hold, and a project asking for all of it.
    extreme = {"cpu": "9223372036854775807m", "memory": "7Ei", "storage": "8191Pi", "pods": 2**31 - 1,
               "services": 2**31 - 1}  # fmt: skip
    organization_quota_limits_set(actor=Actor.system(), organization=Organization.objects.get(slug=org_slug),
                                  limits=extreme)
    created = api.post("/api/v1/projects/", {
        "organization": org_slug, "slug": project_slug, "name": text_of(200, ODD_TEXT[::-1]),
        "description": text_of(255, "Line one\nline two " + ODD_TEXT), "quota": extreme,
    }, format="json")
    assert created.status_code == 202, created.content
    project_id = created.json()["id"]
    for i in range(12):
        response = api.post(f"/api/v1/projects/{project_id}/repositories/", {
            "name": f"{i:02d}-" + "r" * 37, **INFRA, "deploy_path": "charts/wëb app/" + "d" * 200,
            "deploy_revision": ("refs/heads/release/ünï-" + "x" * 200)[:200],
            "helm_value_files": ["values production.yaml", "env/prod/värden.yaml"],
        }, format="json")
        assert response.status_code == 201, response.content
    manifests = api.get(f"/api/v1/projects/{project_id}/manifests/")
    assert manifests.status_code == 200, manifests.content
    objects = list(YAML(typ="safe").load_all(manifests.content.decode()))
    kinds = validate_against_every_schema(objects)
    assert kinds.count("Application") == 12
    assert Organization.objects.get(slug=org_slug).projects.get().namespace == objects[0]["metadata"]["name"]
    hard = next(o for o in objects if o["kind"] == "ResourceQuota")["spec"]["hard"]
    assert hard["limits.cpu"] == "9223372036854775807m" and hard["pods"] == str(2**31 - 1)
    project = next(o for o in objects if o["kind"] == "AppProject")
    assert project["spec"]["roles"][0]["groups"][0] == f"Plätform Ω:{org_slug}/{project_slug}/reader"


# ------------------------------------------------------------------------------- portal ⊆ REST API


def _portal_forms_and_their_api_serializers():
    from console.api import ci_serializers, image_serializers
    from console.api import serializers as s
    from console.portal import forms
    from console.portal.views import ci

    return [
        # (portal form, serializers the same operation takes in the API, portal-only fields and why)
        (forms.OrganizationForm, [s.OrganizationSerializer], {}),
        (forms.ProjectForm, [s.ProjectSerializer], {}),
        (forms.QuotaForm, [s.ProjectUpdateSerializer], {}),
        (forms.RepositoryForm, [s.RepositorySerializer], {}),
        (forms.RepositoryForm, [s.RepositoryUpdateSerializer], {"name": "fixed once registered"}),
        (forms.MemberForm, [s.MembershipWriteSerializer], {}),
        (forms.ImageBumpForm, [image_serializers.ImageBumpRequestSerializer],
         {"target": "one <select> standing for image, file and location"}),
        (ci.CiTokenForm, [ci_serializers.CiTokenCreateSerializer], {}),
        (ci.CiSettingsForm, [ci_serializers.CiSettingsSerializer], {}),
    ]


def _writable(serializer_class) -> set[str]:
    """Writable field names; a nested object's fields as ``<object>_<field>`` (the portal's quota_cpu is the
    API's quota.cpu)."""
    names = set()
    for name, field in serializer_class().fields.items():
        if field.read_only:
            continue
        names.add(name)
        if hasattr(field, "fields"):
            names |= {f"{name}_{child}" for child, sub in field.fields.items() if not sub.read_only}
    return names


def _request_schemas(components: dict, serializer_class) -> list[dict]:
    """drf-spectacular names a request body "<Name>Request", a PATCH one "Patched<Name>Request"."""
    base = serializer_class.__name__.removesuffix("Serializer")
    return [schema for name, schema in components.items() if name.removeprefix("Patched") in (base, f"{base}Request")]


def test_every_field_the_portal_edits_is_writable_through_the_api_and_in_its_schema(tmp_path):
    from django.core.management import call_command

    call_command("spectacular", "--file", str(tmp_path / "schema.yaml"))
    components = YAML(typ="safe").load((tmp_path / "schema.yaml").read_text())["components"]["schemas"]
    missing = []
    for form_class, serializer_classes, portal_only in _portal_forms_and_their_api_serializers():
        form_fields = set(form_class.base_fields) - set(portal_only)
        for serializer_class in serializer_classes:
            absent = form_fields - _writable(serializer_class)
            missing += [f"{form_class.__name__}.{name} -> {serializer_class.__name__}" for name in sorted(absent)]
            schemas = _request_schemas(components, serializer_class)
            assert schemas, serializer_class
            for name in form_fields - absent:
                top = name if any(name in sch.get("properties", {}) for sch in schemas) else name.split("_")[0]
                if not any(top in schema.get("properties", {}) for schema in schemas):
                    missing.append(f"{form_class.__name__}.{name} not in the OpenAPI schema of "
                                   f"{serializer_class.__name__}")
    assert missing == []


def test_image_name_is_written_and_read_through_the_api(maintainer_api):
    api, project = maintainer_api
    created = api.post(f"/api/v1/projects/{project.pk}/repositories/", {
        "name": "app", "external_url": "https://git.example.com/acme/app.git",
        "image_name": "registry.example.com/acme/app",
    }, format="json")
    assert created.status_code == 201, created.content
    assert created.json()["image_name"] == "registry.example.com/acme/app"
    url = f"/api/v1/repositories/{created.json()['id']}/"
    patched = api.patch(url, {"image_name": "registry.example.com/acme/app2"}, format="json")
    assert patched.status_code == 200 and patched.json()["image_name"] == "registry.example.com/acme/app2"
    assert api.get(url).json()["image_name"] == "registry.example.com/acme/app2"
    assert Repository.objects.get().image_name == "registry.example.com/acme/app2"


def test_an_application_name_taken_by_another_project_is_refused(queued_only):
    user = make_user()
    organization = make_organization("a", owner=user)
    first, second = make_project(organization, "b"), make_project(organization, "b-c")
    api = client_for(user)
    assert register(api, first, name="c-d").status_code == 201
    taken = register(api, second, name="d")
    assert taken.status_code == 400
    assert taken.json()["code"] == "duplicate"
    assert "'a-b-c-d' already belongs to a/b/c-d" in taken.json()["detail"]["name"][0]
    plain = api.post(f"/api/v1/projects/{second.pk}/repositories/",
                     {"name": "d", "external_url": "https://git.example.com/acme/d.git"}, format="json")
    assert plain.status_code == 201  # not an infra repository: no Application, no clash
    turned = api.patch(f"/api/v1/repositories/{plain.json()['id']}/", {"is_infra": True, "deploy_kind": "helm"},
                       format="json")
    assert turned.status_code == 400 and "a-b-c-d" in turned.json()["detail"]["name"][0]
    assert register(api, second, name="e").status_code == 201


def test_the_renderer_is_tested_with_the_longest_values_the_models_accept():
    from console.models.validators import DESCRIPTION_MAX_LENGTH
    from tests.provisioning.test_manifests import ACCEPTED

    assert ACCEPTED == {
        "slug": max(Organization._meta.get_field("slug").max_length, Project._meta.get_field("slug").max_length,
                    Repository._meta.get_field("name").max_length),
        "name": max(Organization._meta.get_field("name").max_length, Project._meta.get_field("name").max_length),
        "description": DESCRIPTION_MAX_LENGTH,
        "revision": Repository._meta.get_field("deploy_revision").max_length,
    }
