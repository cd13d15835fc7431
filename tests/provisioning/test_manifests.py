"""Rendering of a project's cluster objects: goldens, structure, CRD schemas, validation.

Regenerate the goldens after an intended change with ``UPDATE_GOLDEN=1`` and review the diff.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import jsonschema
import pytest

from provisioning.errors import InvalidInput
from provisioning.manifests import (
    InfraAppSpec,
    ProjectSpec,
    NetworkSpec,
    QuotaSpec,
    app_project_name,
    namespace_name,
    render_files,
    render_objects,
    render_yaml,
)
from tests.provisioning._manifest_support import (
    ACCEPTED,
    CHARTS,
    KUBERNETES_VERSION,
    SHOP_INFRA,
    by_kind,
    crd_validator,
    load_all,
    long_spec,
    longest_spec,
    simple_spec,
    text_of,
    validate_against_every_schema,
)

GOLDEN = Path(__file__).parent / "golden"
LABELS = ("app.kubernetes.io/managed-by", "dso.console/organization", "dso.console/project")


# ------------------------------------------------------------------------------------------ goldens


@pytest.mark.parametrize("case,spec_factory", [("simple", simple_spec), ("long-names", long_spec)])
def test_render_matches_golden(case, spec_factory):
    rendered = {f"{case}.yaml": render_yaml(spec_factory())}
    rendered.update({f"{case}.files/{name}": text for name, text in render_files(spec_factory()).items()})
    if os.environ.get("UPDATE_GOLDEN") == "1":
        shutil.rmtree(GOLDEN / f"{case}.files", ignore_errors=True)
        for name, text in rendered.items():
            (GOLDEN / name).parent.mkdir(parents=True, exist_ok=True)
            (GOLDEN / name).write_text(text, encoding="utf-8")
    on_disk = {
        str(p.relative_to(GOLDEN)): p.read_text(encoding="utf-8")
        for p in GOLDEN.rglob("*")
        if p.is_file() and (p.name == f"{case}.yaml" or p.relative_to(GOLDEN).parts[0] == f"{case}.files")
    }
    assert on_disk == rendered, "goldens differ: review, then rerun with UPDATE_GOLDEN=1"


def test_rendering_is_deterministic_and_independent_of_input_order():
    spec = simple_spec()
    shuffled = simple_spec(
        source_repos=tuple(reversed(spec.source_repos)), infra_apps=tuple(reversed(spec.infra_apps))
    )
    assert render_yaml(spec) == render_yaml(spec) == render_yaml(shuffled)
    assert render_files(spec) == render_files(shuffled)


def test_yaml_round_trips_to_the_objects_without_aliases():
    spec = simple_spec()
    text = render_yaml(spec)
    assert load_all(text) == render_objects(spec)
    assert "&" not in text and "*id" not in text


def test_files_hold_one_object_each_and_kustomization_lists_them():
    files = render_files(simple_spec())
    assert sorted(files) == [
        "applications/database.yaml", "applications/web.yaml", "appproject.yaml", "kustomization.yaml",
        "limitrange.yaml", "namespace.yaml", "networkpolicy.yaml", "resourcequota.yaml",
    ]  # fmt: skip
    kustomization = load_all(files["kustomization.yaml"])[0]
    assert kustomization["resources"] == sorted(n for n in files if n != "kustomization.yaml")
    objects = [load_all(text)[0] for name, text in files.items() if name != "kustomization.yaml"]
    assert sorted(map(repr, objects)) == sorted(map(repr, render_objects(simple_spec())))


def test_yaml11_ambiguous_strings_stay_strings():
    # kubectl reads YAML 1.1: a bare "on" or "0755" would become a boolean or an octal number.
    spec = simple_spec(organization_slug="on", project_slug="0755", infra_apps=(), source_repos=())
    text = render_yaml(spec)
    assert "dso.console/organization: 'on'" in text
    assert "dso.console/project: '0755'" in text
    assert "pods: '50'" in text


# ---------------------------------------------------------------------------------------- structure


def test_object_order_and_labels():
    objects = render_objects(simple_spec())
    assert [o["kind"] for o in objects] == [
        "Namespace", "ResourceQuota", "LimitRange", "NetworkPolicy", "AppProject",
        "Application", "Application",
    ]  # fmt: skip
    assert [o["metadata"]["name"] for o in objects[5:]] == ["acme-shop-database", "acme-shop-web"]
    for obj in objects:
        labels = obj["metadata"]["labels"]
        assert [labels[k] for k in LABELS] == ["dso-console", "acme", "shop"], obj["kind"]
    namespace = objects[0]
    assert namespace["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "restricted"
    assert all(o["metadata"]["namespace"] == "acme-shop" for o in objects[1:4])
    assert all(o["metadata"]["namespace"] == "argocd" for o in objects[4:])


def test_namespace_name_readable_when_short():
    assert namespace_name("acme", "shop") == "acme-shop"
    assert app_project_name(simple_spec()) == "acme-shop"


def test_long_namespace_is_truncated_with_stable_hash_and_does_not_collide():
    org = "o" * 40
    first = namespace_name(org, "p" * 30 + "-one")
    second = namespace_name(org, "p" * 30 + "-two")
    assert first != second
    for name in (first, second):
        assert len(name) == 63
        assert name[-9] == "-" and all(c in "0123456789abcdef" for c in name[-8:])
        assert name[0].isalnum() and name[-1].isalnum() and name == name.lower()
    assert namespace_name(org, "p" * 30 + "-one") == first  # stable across calls and processes
    assert len(namespace_name("a" * 63, "b" * 63)) == 63


def test_truncation_never_leaves_a_double_dash_before_the_hash():
    name = namespace_name("a" * 53, "b" * 20)  # "a"*53 + "-" lands exactly at the cut
    assert "--" not in name and len(name) <= 63


def test_app_project_allows_only_its_repos_and_namespace():
    spec = simple_spec(source_repos=(SHOP_INFRA, CHARTS, SHOP_INFRA))
    project = by_kind(render_objects(spec), "AppProject")[0]["spec"]
    assert project["sourceRepos"] == sorted({SHOP_INFRA, CHARTS})
    assert project["destinations"] == [{"server": "https://kubernetes.default.svc", "namespace": "acme-shop"}]
    assert project["clusterResourceWhitelist"] == []
    assert "sourceNamespaces" not in project and "namespaceResourceWhitelist" not in project
    assert project["description"]
    # Tenants may add NetworkPolicies (allow rules on top of the platform's); the quota and limits stay ours.
    assert project["namespaceResourceBlacklist"] == [
        {"group": "", "kind": "LimitRange"}, {"group": "", "kind": "ResourceQuota"},
    ]  # fmt: skip
    assert project["orphanedResources"] == {"warn": True}
    closed = by_kind(render_objects(simple_spec(network=NetworkSpec(tenant_policies=False))), "AppProject")[0]
    assert {(r["group"], r["kind"]) for r in closed["spec"]["namespaceResourceBlacklist"]} == {
        ("", "ResourceQuota"), ("", "LimitRange"), ("networking.k8s.io", "NetworkPolicy"),
    }  # fmt: skip
    assert all(r["group"] != "v1" for r in closed["spec"]["namespaceResourceBlacklist"])


def test_applications_target_the_project_and_namespace():
    applications = by_kind(render_objects(simple_spec()), "Application")
    apps = {a["metadata"]["labels"]["dso.console/infra-app"]: a for a in applications}
    for app in apps.values():
        assert app["spec"]["project"] == "acme-shop"
        assert app["spec"]["destination"] == {
            "server": "https://kubernetes.default.svc", "namespace": "acme-shop",
        }  # fmt: skip
        assert app["spec"]["syncPolicy"] == {
            "automated": {"prune": True, "selfHeal": True},
            "syncOptions": ["CreateNamespace=false", "FailOnSharedResource=true"],
        }  # fmt: skip
        assert app["metadata"]["finalizers"] == ["resources-finalizer.argocd.argoproj.io"]
    assert apps["web"]["spec"]["source"] == {
        "repoURL": CHARTS, "path": "charts/web", "targetRevision": "HEAD",
        "helm": {"valueFiles": ["values.yaml", "values-prod.yaml"]},
    }  # fmt: skip
    assert apps["database"]["spec"]["source"] == {
        "repoURL": SHOP_INFRA, "path": "db/overlays/prod", "targetRevision": "main",
    }  # fmt: skip


def test_network_policy_denies_all_but_same_namespace_dns_and_the_platform():
    policy = by_kind(render_objects(simple_spec()), "NetworkPolicy")[0]
    assert policy["metadata"]["name"] == "default-deny"
    spec = policy["spec"]
    assert spec["podSelector"] == {} and spec["policyTypes"] == ["Ingress", "Egress"]
    named = lambda name: {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": name}}}  # noqa: E731
    assert spec["ingress"] == [{"from": [{"podSelector": {}}]}, {"from": [named("ingress-nginx"), named("monitoring")]}]
    same_ns, dns, platform = spec["egress"]
    assert platform == {"to": [named("vault"), {"ipBlock": {"cidr": "10.20.0.0/16"}}]}  # every port
    assert same_ns == {"to": [{"podSelector": {}}]}
    kube_system = {"matchLabels": {"kubernetes.io/metadata.name": "kube-system"}}
    assert dns["to"] == [{"namespaceSelector": kube_system}]
    assert sorted((p["protocol"], p["port"]) for p in dns["ports"]) == [("TCP", 53), ("UDP", 53)]


def test_network_policy_without_platform_allowances_keeps_same_namespace_and_dns_only():
    spec = by_kind(render_objects(simple_spec(network=NetworkSpec())), "NetworkPolicy")[0]["spec"]
    assert spec["ingress"] == [{"from": [{"podSelector": {}}]}]
    assert len(spec["egress"]) == 2


def test_quota_and_limits_come_from_quota_spec():
    objects = render_objects(long_spec())
    assert by_kind(objects, "ResourceQuota")[0]["spec"]["hard"]["pods"] == "10"
    limits = by_kind(objects, "LimitRange")[0]["spec"]["limits"][0]
    assert limits["max"] == {"cpu": "2", "memory": "1Gi"}
    assert limits["default"] == {"cpu": "500m", "memory": "512Mi"}


def test_long_names_fit_label_limits_everywhere():
    for obj in render_objects(long_spec()):
        assert len(obj["metadata"]["name"]) <= 63
        assert all(len(v) <= 63 for v in obj["metadata"]["labels"].values())


# ------------------------------------------------------------------------------------- CRD schemas


@pytest.mark.parametrize("spec_factory", [simple_spec, long_spec])
def test_every_object_validates_against_kubernetes_and_the_crds(spec_factory):
    assert validate_against_every_schema(render_objects(spec_factory()))[:5] == [
        "Namespace", "ResourceQuota", "LimitRange", "NetworkPolicy", "AppProject",
    ]  # fmt: skip


@pytest.mark.parametrize("spec_factory", [simple_spec, long_spec])
def test_argocd_objects_validate_against_the_crds(spec_factory):
    validators = {"AppProject": crd_validator("appproject-crd.yaml"),
                  "Application": crd_validator("application-crd.yaml")}  # fmt: skip
    seen = set()
    for obj in load_all(render_yaml(spec_factory())):
        if obj["kind"] in validators:
            validators[obj["kind"]].validate(obj)
            seen.add(obj["kind"])
    assert seen == {"AppProject", "Application"}


def test_crd_schema_check_catches_a_wrong_shape():
    project = by_kind(render_objects(simple_spec()), "AppProject")[0]
    project["spec"]["namespaceResourceBlacklist"] = [{"kind": "ResourceQuota"}]  # group is required
    with pytest.raises(jsonschema.ValidationError):
        crd_validator("appproject-crd.yaml").validate(project)


# -------------------------------------------------------------------------------------- validation


@pytest.mark.parametrize(
    "overrides",
    [
        {"organization_slug": "Acme"},
        {"organization_slug": "-acme"},
        {"project_slug": "shop-"},
        {"project_slug": "sh_op"},
        {"project_slug": "x" * 64},
        {"organization_slug": "kube", "project_slug": "system"},
        {"infra_apps": (InfraAppSpec("web", CHARTS, "jsonnet"),)},
        {"infra_apps": (InfraAppSpec("web", "https://elsewhere.test/x.git", "helm"),)},
        {"infra_apps": (InfraAppSpec("web", CHARTS, "helm"), InfraAppSpec("web", CHARTS, "helm"))},
        {"infra_apps": (InfraAppSpec("web", CHARTS, "helm", path="../other"),)},
        {"infra_apps": (InfraAppSpec("Web", CHARTS, "helm"),)},
        {"infra_apps": (InfraAppSpec("db", SHOP_INFRA, "kustomize", value_files=("v.yaml",)),)},
        {"source_repos": ("*",), "infra_apps": ()},
        {"source_repos": ("https://user:token@git.example.test/x.git",), "infra_apps": ()},
        {"quota": QuotaSpec(pods="lots")},
    ],
)
def test_invalid_input_is_rejected(overrides):
    with pytest.raises(InvalidInput):
        render_objects(simple_spec(**overrides))


def test_minimal_project_without_apps_renders():
    spec = ProjectSpec("acme", "ACME", "empty", "Empty")
    objects = render_objects(spec)
    assert [o["kind"] for o in objects][-1] == "AppProject"
    assert by_kind(objects, "AppProject")[0]["spec"]["sourceRepos"] == []
    assert hash(spec) == hash(ProjectSpec("acme", "ACME", "empty", "Empty"))  # frozen, usable as a cache key


# ----------------------------------------------------------------------- longest accepted inputs

def test_longest_accepted_inputs_render_objects_every_schema_accepts():
    import yaml as pyyaml  # a YAML 1.1 reader, as kubectl's is

    spec = longest_spec()
    text = render_yaml(spec)
    objects = load_all(text)
    assert objects == render_objects(spec)
    assert list(pyyaml.safe_load_all(text)) == objects  # nothing reads differently under YAML 1.1
    kinds = validate_against_every_schema(objects)
    assert kinds[:5] == ["Namespace", "ResourceQuota", "LimitRange", "NetworkPolicy", "AppProject"]
    assert kinds.count("Application") == 30
    assert len({o["metadata"]["name"] for o in objects if o["kind"] == "Application"}) == 30


def test_app_project_description_is_bounded_by_the_crd():
    project = by_kind(render_objects(longest_spec(apps=1)), "AppProject")[0]
    description = project["spec"]["description"]
    assert 250 <= len(description) <= 255 and description.endswith("\u2026")
    assert description.startswith("DSO Console: " + text_of(ACCEPTED["name"])[:50])
    crd_validator("appproject-crd.yaml").validate(project)
    short = by_kind(render_objects(simple_spec()), "AppProject")[0]["spec"]["description"]
    assert short == "DSO Console: ACME Corp / Web Shop - Customer-facing shop"


def test_kubernetes_schema_check_catches_a_wrong_shape():
    import kubernetes_validate

    quota = by_kind(render_objects(simple_spec()), "ResourceQuota")[0]
    quota["spec"]["hardd"] = quota["spec"].pop("hard")
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(quota, KUBERNETES_VERSION, strict=True)


def test_value_files_with_spaces_render_and_revisions_follow_git_rules():
    app = InfraAppSpec("web", CHARTS, "helm", path="charts/my web", revision="feature/ünï",
                       value_files=("values production.yaml",))
    source = by_kind(render_objects(simple_spec(infra_apps=(app,))), "Application")[0]["spec"]["source"]
    assert source["helm"] == {"valueFiles": ["values production.yaml"]}
    assert source["path"] == "charts/my web" and source["targetRevision"] == "feature/ünï"


@pytest.mark.parametrize("app", [
    InfraAppSpec("web", CHARTS, "helm", revision="my branch"),
    InfraAppSpec("web", CHARTS, "helm", revision="a..b"),
    InfraAppSpec("web", CHARTS, "helm", revision="-x"),
    InfraAppSpec("web", CHARTS, "helm", value_files=("$HOME/values.yaml",)),
    InfraAppSpec("web", CHARTS, "helm", value_files=("https://elsewhere.test/values.yaml",)),
    InfraAppSpec("web", CHARTS, "helm", value_files=("a\\b.yaml",)),
    InfraAppSpec("web", CHARTS, "helm", path="/etc"),
])
def test_revisions_and_paths_git_or_argo_cd_would_misread_are_refused(app):
    with pytest.raises(InvalidInput):
        render_objects(simple_spec(infra_apps=(app,)))


@pytest.mark.parametrize("org,project,reserved", [
    ("kube", "system", ()), ("kube", "public", ()), ("team", "monitoring", ("team-monitoring",)),
    ("openshift", "x", ("openshift-*",)), ("argo", "cd", ()),
])
def test_reserved_namespaces_are_refused(org, project, reserved):
    spec = simple_spec(organization_slug=org, project_slug=project, reserved_namespaces=reserved,
                       argocd_namespace="argo-cd", infra_apps=(), source_repos=())
    with pytest.raises(InvalidInput, match="reserved"):
        render_objects(spec)
