"""The Kubernetes API double answers the official client's typed APIs the way an API server does, for the
parts kmock 0.8 left out (namespace paths, PUT, label selectors, server-set metadata, SSA, errors)."""

from __future__ import annotations

import json

import pytest
from kubernetes import client as k8s
from kubernetes.client.exceptions import ApiException

from provisioning.cluster import ObjectRef

ARGO = ("argoproj.io", "v1alpha1")


@pytest.fixture
def api(kube_double):
    configuration = k8s.Configuration(host=kube_double.url)
    configuration.api_key = {"BearerToken": kube_double.token}
    configuration.api_key_prefix = {"BearerToken": "Bearer"}
    with k8s.ApiClient(configuration) as api_client:
        yield api_client


def namespace(name: str, **labels) -> dict:
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name, "labels": labels}}


def test_namespaces_create_read_replace_and_list_by_selector(api):
    core = k8s.CoreV1Api(api)
    created = core.create_namespace(namespace("team-a", tier="gold"))
    core.create_namespace(namespace("team-b", tier="silver"))

    assert created.metadata.uid and created.metadata.resource_version and created.metadata.creation_timestamp
    assert created.metadata.labels["kubernetes.io/metadata.name"] == "team-a"
    read = core.read_namespace("team-a")
    read.metadata.labels["tier"] = "platinum"
    replaced = core.replace_namespace("team-a", read)
    assert replaced.metadata.labels["tier"] == "platinum"
    assert int(replaced.metadata.resource_version) > int(created.metadata.resource_version)
    names = lambda selector: sorted(n.metadata.name for n in core.list_namespace(label_selector=selector).items)  # noqa: E731
    assert names("tier in (platinum,silver)") == ["team-a", "team-b"]
    assert names("tier!=silver,tier") == ["team-a"]
    assert names("!tier") == ["argocd"]
    with pytest.raises(ApiException) as stale:
        read.metadata.resource_version = created.metadata.resource_version
        core.replace_namespace("team-a", read)
    assert stale.value.status == 409


def test_custom_objects_and_status_as_argocd_would_set_it(api, kube_double):
    custom = k8s.CustomObjectsApi(api)
    app = {"apiVersion": "argoproj.io/v1alpha1", "kind": "Application",
           "metadata": {"name": "web", "namespace": "argocd", "labels": {"app.kubernetes.io/managed-by": "dso-console"}},
           "spec": {"project": "default"}}
    custom.create_namespaced_custom_object(*ARGO, "argocd", "applications", app)
    kube_double.patch_status(ObjectRef("argoproj.io/v1alpha1", "Application", "argocd", "web"),
                             {"sync": {"status": "Synced"}, "health": {"status": "Healthy"}})

    listed = custom.list_namespaced_custom_object(*ARGO, "argocd", "applications",
                                                  label_selector="app.kubernetes.io/managed-by=dso-console")

    [item] = listed["items"]
    assert item["status"]["health"]["status"] == "Healthy" and item["metadata"]["generation"] == 1
    with pytest.raises(ApiException) as missing:
        custom.get_namespaced_custom_object(*ARGO, "argocd", "applications", "nope")
    assert missing.value.status == 404


def test_server_side_apply_creates_then_records_the_manager(api, kube_double):
    core = k8s.CoreV1Api(api)
    body = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "cfg", "namespace": "argocd"},
            "data": {"a": "1"}}

    core.patch_namespaced_config_map("cfg", "argocd", body, field_manager="me",
                                     _content_type="application/apply-patch+yaml")
    live = core.read_namespaced_config_map("cfg", "argocd")

    assert live.data == {"a": "1"}
    [entry] = live.metadata.managed_fields
    assert (entry.manager, entry.operation) == ("me", "Apply")
    assert entry.fields_v1 == {"f:data": {"f:a": {}}}


def test_switches_refuse_fail_and_demand_the_token(api, kube_double):
    core = k8s.CoreV1Api(api)
    kube_double.deny("list", "namespaces")
    with pytest.raises(ApiException) as forbidden:
        core.list_namespace()
    assert forbidden.value.status == 403
    assert 'cannot list resource "namespaces"' in json.loads(forbidden.value.body)["message"]
    kube_double.heal()
    kube_double.fail(503, method="GET", path="/api/v1/namespaces$", times=1)
    with pytest.raises(ApiException) as unavailable:
        core.list_namespace()
    assert unavailable.value.status == 503
    assert core.list_namespace().items
    api.configuration.api_key = {"BearerToken": "wrong"}
    with pytest.raises(ApiException) as unauthorized:
        core.list_namespace()
    assert unauthorized.value.status == 401
