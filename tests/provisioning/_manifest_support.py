"""Specs and schema checks shared by the manifest tests: every rendered object meets each of its schemas."""

from __future__ import annotations

import functools
import re
from pathlib import Path

import jsonschema
import kubernetes_validate
from ruamel.yaml import YAML

from provisioning.manifests import GroupsSpec, InfraAppSpec, NetworkSpec, ProjectSpec, QuotaSpec

CRDS = Path(__file__).parent.parent / "data" / "argocd"
# The newest Kubernetes release whose schemas kubernetes-validate ships (1.37 with kubernetes-validate 1.37).
KUBERNETES_VERSION = kubernetes_validate.latest_version()

SHOP_INFRA = "https://git.example.test/dso/acme/shop/infra.git"
CHARTS = "https://git.example.test/dso/acme/shop/charts.git"
PLATFORM_NETWORK = NetworkSpec(ingress_namespaces=("ingress-nginx", "monitoring"), egress_namespaces=("vault",),
                               egress_cidrs=("10.20.0.0/16",))  # fmt: skip


def simple_spec(**overrides) -> ProjectSpec:
    values = dict(
        organization_slug="acme",
        organization_name="ACME Corp",
        project_slug="shop",
        project_name="Web Shop",
        description="Customer-facing shop",
        source_repos=(SHOP_INFRA, CHARTS),
        infra_apps=(
            InfraAppSpec("web", CHARTS, "helm", path="charts/web",
                         value_files=("values.yaml", "values-prod.yaml")),  # fmt: skip
            InfraAppSpec("database", SHOP_INFRA, "kustomize", path="db/overlays/prod", revision="main"),
        ),
        network=PLATFORM_NETWORK,
    )
    values.update(overrides)
    return ProjectSpec(**values)


def long_spec() -> ProjectSpec:
    return ProjectSpec(
        organization_slug="the-international-organization-of-very-long-names",
        organization_name="The International Organization of Very Long Names",
        project_slug="an-equally-long-project-slug-for-testing-truncation",
        project_name="An equally long project",
        source_repos=(SHOP_INFRA,),
        infra_apps=(InfraAppSpec("monitoring-stack-with-a-long-name", SHOP_INFRA, "kustomize"),),
        quota=QuotaSpec(pods="10", max_memory="1Gi"),
    )


# What the console accepts at most (console.models: slugs 40, names 200, descriptions 255, revisions 200).
ACCEPTED = {"slug": 40, "name": 200, "description": 255, "revision": 200}
ODD_TEXT = "Ωmega Ünïcødé 🚀👩‍👩‍👧 עברית‮ שלום ‭ e\u0301 \u200b 中文字 'quoted' \"dq\" : # & * ! | > % @ `"


def text_of(length: int, seed: str = ODD_TEXT) -> str:
    return (seed * (length // len(seed) + 1))[:length]


def longest_spec(apps: int = 30, **overrides) -> ProjectSpec:
    base = "https://git.platform.example.test/dso/" + "o" * 40 + "/" + "p" * 40 + "/"
    infra = tuple(
        InfraAppSpec(
            f"{i:02d}-" + "r" * (ACCEPTED["slug"] - 3), base + f"{i:02d}-" + "r" * 37 + ".git",
            "helm" if i % 2 else "kustomize", path="charts/wëb app/" + "d" * 100,
            revision=("refs/heads/release/2024.01-ünï/" + "x" * 200)[: ACCEPTED["revision"]] if i % 3 else "a" * 40,
            value_files=("values production.yaml", "env/prod/värden.yaml") if i % 2 else (),
        )
        for i in range(apps)
    )
    values = dict(
        organization_slug="o" * ACCEPTED["slug"],
        organization_name=text_of(ACCEPTED["name"]),
        project_slug="p" * ACCEPTED["slug"],
        project_name=text_of(ACCEPTED["name"], ODD_TEXT[::-1]),
        description=text_of(ACCEPTED["description"], "Line one\nline two\ttabbed \u2028 " + ODD_TEXT),
        source_repos=tuple(app.repo_url for app in infra),
        infra_apps=infra,
        # Many platform allowances, the longest namespace names, IPv4 and IPv6 networks.
        network=NetworkSpec(
            ingress_namespaces=tuple(f"{i:02d}-" + "i" * 60 for i in range(20)),
            egress_namespaces=tuple(f"{i:02d}-" + "e" * 60 for i in range(20)),
            egress_cidrs=("10.0.0.0/8", "192.168.10.0/24", "203.0.113.7/32", "fd00::/8", "2001:db8::1/128"),
            dns_namespace="d" * 63,
        ),
        groups=GroupsSpec(project_pattern="Plätform Ω:{organization}/{project}/{role}@sso.example.test",
                          organization_pattern="org {organization} – {role}"),  # fmt: skip
    )
    values.update(overrides)
    return ProjectSpec(**values)


# The extremes a platform may allow: the largest amounts Kubernetes holds, and the smallest amounts it
# counts (below the LimitRange defaults, which are then clamped to the quota).
HUGE_QUOTA = QuotaSpec(cpu_requests="9223372036854775807m", cpu_limits="9223372036854775807m",
                       memory_requests="7Ei", memory_limits="7Ei", pods="9223372036854775807",
                       services="1e18", persistent_volume_claims="1E", requests_storage="8191Pi",
                       max_cpu="4000", max_memory="1Ei")  # fmt: skip
TINY_QUOTA = QuotaSpec(cpu_requests="1m", cpu_limits="1m", memory_requests="1", memory_limits="1", pods="1",
                       services="1", persistent_volume_claims="1", requests_storage="1")  # fmt: skip


def load_all(text: str) -> list:
    return list(YAML(typ="safe", pure=True).load_all(text))


@functools.cache  # the Application CRD is 400 kB: parse and check it once per session
def _crd_schema(file_name: str) -> dict:
    crd = YAML(typ="safe").load((CRDS / file_name).read_text())
    return crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]


@functools.cache
def crd_validator(file_name: str) -> jsonschema.protocols.Validator:
    schema = _crd_schema(file_name)
    cls = jsonschema.validators.validator_for(schema, default=jsonschema.Draft7Validator)
    cls.check_schema(schema)
    return cls(schema)


def by_kind(objects: list[dict], kind: str) -> list[dict]:
    return [o for o in objects if o["kind"] == kind]


LABEL_VALUE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")
LABEL_NAME = re.compile(r"^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$")
DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")


def check_metadata(obj: dict) -> None:
    meta = obj["metadata"]
    assert len(meta["name"]) <= 63 and DNS_SUBDOMAIN.match(meta["name"]), meta["name"]
    if "namespace" in meta:
        assert len(meta["namespace"]) <= 63 and DNS_SUBDOMAIN.match(meta["namespace"])
    for key, value in meta.get("labels", {}).items():
        prefix, _, name = key.rpartition("/")
        assert len(name) <= 63 and LABEL_NAME.match(name), key
        assert not prefix or (len(prefix) <= 253 and DNS_SUBDOMAIN.match(prefix)), key
        assert isinstance(value, str) and len(value) <= 63 and LABEL_VALUE.match(value), (key, value)
    annotations = meta.get("annotations", {})
    assert sum(len(k.encode()) + len(v.encode()) for k, v in annotations.items()) <= 256 * 1024


# --- Argo CD's own checks of an AppProject beyond its CRD schema: AppProject.ValidateProject() and
# validatePolicy / validateRoleName / validateGroupName in pkg/apis/application/v1alpha1 (argoproj/argo-cd at
# the commit named in tests/data/argocd/README.md), as the API server of Argo CD applies them.
_ROLE_NAME = re.compile(r"^[a-zA-Z0-9]([-_a-zA-Z0-9]*[a-zA-Z0-9])?$")
_PROJECT_SCOPED = {"applications", "applicationsets", "logs", "exec", "clusters", "repositories"}
_ACTIONS = {"get", "create", "update", "delete", "sync", "override", "rollback", "*"}
_ACTION_PATTERNS = (re.compile("action/.*"), re.compile("update/.*"), re.compile("delete/.*"))


def argocd_project_problems(project: dict) -> list[str]:
    name, spec, problems = project["metadata"]["name"], project["spec"], []
    keys = [f"{d.get('server')}/{d['namespace']}" for d in spec.get("destinations", [])]
    problems += [f"destination {k} twice" for k in set(keys) if keys.count(k) > 1]
    repos = spec.get("sourceRepos", [])
    problems += [f"source repository {r} twice" for r in set(repos) if repos.count(r) > 1 or r == "!*"]
    roles = [role["name"] for role in spec.get("roles", [])]
    problems += [f"role {r} twice" for r in set(roles) if roles.count(r) > 1]
    object_re = re.compile(rf"^{re.escape(name)}(/[*\w\-.]+)?/[*\w\-.]+$")
    for role in spec.get("roles", []):
        if not _ROLE_NAME.match(role["name"]):
            problems.append(f"role name {role['name']!r}")
        policies = role.get("policies", [])
        problems += [f"policy {p!r} twice" for p in set(policies) if policies.count(p) > 1]
        for policy in policies:
            parts = [part.strip(" ") for part in policy.split(",")]
            if len(parts) != 6 or parts[0] != "p":
                problems.append(f"policy {policy!r}: not 'p, sub, res, act, obj, eft'")
                continue
            _, subject, resource, action, obj, effect = parts
            if subject != f"proj:{name}:{role['name']}":
                problems.append(f"policy {policy!r}: subject")
            if resource not in _PROJECT_SCOPED:
                problems.append(f"policy {policy!r}: resource")
            if action not in _ACTIONS and not any(p.match(action) for p in _ACTION_PATTERNS):
                problems.append(f"policy {policy!r}: action")
            if not object_re.match(obj):
                problems.append(f"policy {policy!r}: object")
            if effect not in ("allow", "deny"):
                problems.append(f"policy {policy!r}: effect")
        groups = role.get("groups", [])
        problems += [f"group {g!r} twice" for g in set(groups) if groups.count(g) > 1]
        for group in groups:
            stripped = group.strip()
            if "," in stripped or not stripped or re.search(r"[\"\n\r\t]", stripped) or stripped != group:
                problems.append(f"group {group!r}")
    return problems


def validate_against_every_schema(objects: list[dict]) -> list[str]:
    """Kinds checked; raises on the first object a schema refuses."""
    crds = {"AppProject": crd_validator("appproject-crd.yaml"), "Application": crd_validator("application-crd.yaml")}
    kinds = []
    for obj in objects:
        kinds.append(obj["kind"])
        check_metadata(obj)
        if obj["kind"] in crds:
            crds[obj["kind"]].validate(obj)
            if obj["kind"] == "AppProject":
                assert argocd_project_problems(obj) == [], obj["metadata"]["name"]
        else:
            kubernetes_validate.validate(obj, KUBERNETES_VERSION, strict=True)
    return kinds
