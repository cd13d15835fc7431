"""The tenant baseline: per-project quotas, platform network allowances, Argo CD roles bound to groups.

Every variant is checked against the Kubernetes schemas (kubernetes-validate, newest shipped release),
the Argo CD CRDs and Argo CD's own AppProject rules (see ``_manifest_support``).
"""

from __future__ import annotations

import jsonschema
import kubernetes_validate
import pytest

from provisioning import quantities
from provisioning.errors import InvalidInput
from provisioning.manifests import GroupsSpec, NetworkSpec, QuotaSpec, render_objects, role_policies
from tests.provisioning._manifest_support import (
    HUGE_QUOTA,
    KUBERNETES_VERSION,
    TINY_QUOTA,
    argocd_project_problems,
    by_kind,
    crd_validator,
    longest_spec,
    simple_spec,
    validate_against_every_schema,
)


def _project(spec) -> dict:
    return by_kind(render_objects(spec), "AppProject")[0]


# ------------------------------------------------------------------------------------------- roles


def test_one_role_per_console_role_with_argocd_policies_and_groups():
    roles = {r["name"]: r for r in _project(simple_spec())["spec"]["roles"]}
    assert list(roles) == ["reader", "developer", "maintainer", "owner"]
    assert roles["reader"]["policies"] == [
        "p, proj:acme-shop:reader, applications, get, acme-shop/*, allow",
        "p, proj:acme-shop:reader, logs, get, acme-shop/*, allow",
    ]
    for name in ("developer", "maintainer", "owner"):
        assert roles[name]["policies"] == [
            f"p, proj:acme-shop:{name}, applications, get, acme-shop/*, allow",
            f"p, proj:acme-shop:{name}, applications, sync, acme-shop/*, allow",
            f"p, proj:acme-shop:{name}, applications, action/*, acme-shop/*, allow",
            f"p, proj:acme-shop:{name}, logs, get, acme-shop/*, allow",
        ]
    for name, role in roles.items():
        assert role["groups"] == [f"dso/acme/shop/{name}", f"dso/acme/{name}"]
        assert role["description"]


def test_no_role_may_create_update_or_delete_what_the_console_owns():
    for role in _project(longest_spec(apps=2))["spec"]["roles"]:
        actions = {policy.split(", ")[3] for policy in role["policies"]}
        assert actions <= {"get", "sync", "action/*"}, role["name"]
        assert all(policy.endswith(", allow") for policy in role["policies"])


def test_group_patterns_are_configurable_and_a_shared_group_is_listed_once():
    spec = simple_spec(groups=GroupsSpec(project_pattern="team-{organization}-{project}:{role}",
                                         organization_pattern="team-{organization}-{project}:{role}"))  # fmt: skip
    roles = {r["name"]: r for r in _project(spec)["spec"]["roles"]}
    assert roles["developer"]["groups"] == ["team-acme-shop:developer", "team-acme-:developer"]
    same = simple_spec(groups=GroupsSpec(project_pattern="{organization}:{role}", organization_pattern="{organization}:{role}"))
    assert {r["name"]: r["groups"] for r in _project(same)["spec"]["roles"]}["owner"] == ["acme:owner"]


@pytest.mark.parametrize("pattern", ["{organisation}/{role}", "{0}/{role}", "dso/{role", "dso, {role}",
                                     'dso/"{role}"', "dso/{role}\t", " dso/{role}", "dso\n{role}"])
def test_group_patterns_argocd_cannot_read_are_refused(pattern):
    with pytest.raises(InvalidInput, match="group"):
        render_objects(simple_spec(groups=GroupsSpec(project_pattern=pattern)))


def test_argocd_rules_catch_a_policy_for_another_project():
    project = _project(simple_spec())
    project["spec"]["roles"][0]["policies"].append(role_policies("other", "reader")[0])
    project["spec"]["roles"][1]["groups"].append("a,b")
    problems = argocd_project_problems(project)
    assert any("subject" in p for p in problems) and any("object" in p for p in problems)
    assert any("'a,b'" in p for p in problems)


def test_crd_refuses_a_role_without_a_name():
    project = _project(simple_spec())
    del project["spec"]["roles"][0]["name"]
    with pytest.raises(jsonschema.ValidationError):
        crd_validator("appproject-crd.yaml").validate(project)


# ------------------------------------------------------------------------------------------ quotas


def test_quantities_are_rendered_in_the_canonical_form_the_api_server_stores():
    quota = QuotaSpec(cpu_requests="1500m", cpu_limits="2000m", memory_requests="1.5Gi", memory_limits="2048Mi",
                      pods="1000", services="20")  # fmt: skip
    hard = by_kind(render_objects(simple_spec(quota=quota)), "ResourceQuota")[0]["spec"]["hard"]
    assert hard["requests.cpu"] == "1500m" and hard["limits.cpu"] == "2"
    assert hard["requests.memory"] == "1536Mi" and hard["limits.memory"] == "2Gi"
    assert hard["pods"] == "1k" and hard["services"] == "20"


def test_limit_range_is_clamped_to_a_small_quota_so_pods_without_resources_still_start():
    spec = simple_spec(quota=QuotaSpec(cpu_requests="250m", cpu_limits="300m", memory_requests="64Mi",
                                       memory_limits="256Mi"))  # fmt: skip
    limits = by_kind(render_objects(spec), "LimitRange")[0]["spec"]["limits"][0]
    assert limits["max"] == {"cpu": "300m", "memory": "256Mi"}
    assert limits["default"] == {"cpu": "300m", "memory": "256Mi"}
    assert limits["defaultRequest"] == {"cpu": "100m", "memory": "64Mi"}
    _assert_limit_range_consistent(limits)


def _assert_limit_range_consistent(limits: dict) -> None:
    # What the API server's LimitRange validation requires: defaultRequest <= default <= max.
    for resource in ("cpu", "memory"):
        request, default, maximum = (quantities.parse(limits[k][resource]) for k in ("defaultRequest", "default", "max"))
        assert request <= default <= maximum, (resource, limits)


@pytest.mark.parametrize("quota", [HUGE_QUOTA, TINY_QUOTA], ids=["huge", "tiny"])
def test_extreme_quotas_render_objects_every_schema_accepts(quota):
    objects = render_objects(longest_spec(apps=3, quota=quota))
    validate_against_every_schema(objects)
    _assert_limit_range_consistent(by_kind(objects, "LimitRange")[0]["spec"]["limits"][0])
    hard = by_kind(objects, "ResourceQuota")[0]["spec"]["hard"]
    assert all(quantities.parse(v) > 0 for v in hard.values())


@pytest.mark.parametrize("quota", [
    QuotaSpec(cpu_limits="0"), QuotaSpec(cpu_limits="-1"), QuotaSpec(cpu_limits="0.0001"), QuotaSpec(pods="1.5"),
    QuotaSpec(memory_limits="8Ei"), QuotaSpec(memory_limits="16 Gi"), QuotaSpec(services="1K"),
    QuotaSpec(requests_storage="NaN"),
])  # fmt: skip
def test_quotas_kubernetes_would_refuse_or_round_are_refused(quota):
    with pytest.raises(InvalidInput, match="quota"):
        render_objects(simple_spec(quota=quota))


# ----------------------------------------------------------------------------------------- network


@pytest.mark.parametrize("network", [
    NetworkSpec(ingress_namespaces=("Ingress",)), NetworkSpec(egress_namespaces=("a" * 64,)),
    NetworkSpec(egress_cidrs=("10.0.0.1/8",)), NetworkSpec(egress_cidrs=("10.0.0.0/33",)),
    NetworkSpec(egress_cidrs=("example.com",)), NetworkSpec(dns_namespace=""),
])  # fmt: skip
def test_network_allowances_kubernetes_would_refuse_are_refused(network):
    with pytest.raises(InvalidInput):
        render_objects(simple_spec(network=network))


def test_kubernetes_schema_catches_a_wrong_network_policy_shape():
    policy = by_kind(render_objects(simple_spec()), "NetworkPolicy")[0]
    policy["spec"]["egress"][2]["to"][1]["ipBlock"] = {"cidrs": "10.20.0.0/16"}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(policy, KUBERNETES_VERSION, strict=True)


def test_tenant_applications_never_take_over_the_platform_objects():
    for app in by_kind(render_objects(longest_spec(apps=2)), "Application"):
        assert "FailOnSharedResource=true" in app["spec"]["syncPolicy"]["syncOptions"]
