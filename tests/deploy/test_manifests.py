"""deploy/kustomize rendered by a real kustomize (`kubectl kustomize`): every object validates against the
Kubernetes schemas (kubernetes-validate), the ConfigMap and Secret cover every DSO_* setting the code reads,
pods meet the restricted Pod Security Standard, and Argo CD applies things in an order that works."""

from __future__ import annotations

import re
import shutil
import subprocess
from functools import lru_cache
from pathlib import Path

import kubernetes_validate
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
OVERLAY = ROOT / "deploy" / "kustomize" / "overlays" / "example"
BASE = ROOT / "deploy" / "kustomize" / "base"
# The oldest Kubernetes still commonly run, and the newest the package knows.
KUBERNETES_VERSIONS = ("1.30.0", kubernetes_validate.utils.latest_version())
# Read by the code, outside the DSO_ namespace, and needed by every pod.
SECRET_ONLY = {"DATABASE_URL", "CELERY_BROKER_URL", "DSO_SECRET_KEY", "DSO_ENCRYPTION_KEYS", "DSO_GITLAB_TOKEN",
               "DSO_GITLAB_BOT_TOKEN", "DSO_LOCAL_FORGE_WRITE_TOKEN", "DSO_LOCAL_FORGE_READ_TOKEN",
               "DSO_METRICS_TOKEN", "DSO_CACHE_URL", "DSO_OIDC_CLIENT_SECRET",
               "DSO_EMAIL_HOST_PASSWORD"}


def kustomize_command() -> list[str] | None:
    """A kustomize new enough for components and `labels` (kustomize v4+, kubectl 1.21+)."""
    if shutil.which("kustomize"):
        return ["kustomize", "build"]
    if shutil.which("kubectl"):
        version = subprocess.run(["kubectl", "version", "--client"], capture_output=True, text=True).stdout
        match = re.search(r"Kustomize Version: v(\d+)", version)
        if match and int(match.group(1)) >= 4:
            return ["kubectl", "kustomize"]
    return None


@lru_cache(maxsize=4)
def render(path: Path = OVERLAY) -> tuple[dict, ...]:
    command = kustomize_command()
    if command is None:
        pytest.skip("needs kustomize v4+ or kubectl 1.21+ (`kubectl kustomize`) to render deploy/kustomize")
    result = subprocess.run([*command, str(path)], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    return tuple(document for document in yaml.safe_load_all(result.stdout) if document)


def objects(kind: str, path: Path = OVERLAY) -> list[dict]:
    return [obj for obj in render(path) if obj["kind"] == kind]


def pod_specs(path: Path = OVERLAY) -> dict[str, dict]:
    specs = {}
    for obj in render(path):
        if obj["kind"] in ("Deployment", "Job"):
            specs[f"{obj['kind']}/{obj['metadata']['name']}"] = obj["spec"]["template"]["spec"]
    return specs


def settings_read_by_the_code() -> set[str]:
    """Every DSO_* name the settings and the modules they import read, and the process scripts."""
    sources = [*sorted((ROOT / "console" / "settings").glob("*.py")),
               *sorted((ROOT / "console" / "ops").glob("*.py")),
               ROOT / "deploy" / "gunicorn.conf.py", ROOT / "deploy" / "entrypoint.sh"]
    names = set()
    for source in sources:
        names.update(re.findall(r"\b(DSO_[A-Z0-9_]+)\b", source.read_text()))
    return {name for name in names if not name.endswith("_")}  # "DSO_OIDC_*" in a message names a family


@pytest.mark.parametrize("version", KUBERNETES_VERSIONS)
@pytest.mark.parametrize("path", [OVERLAY, BASE], ids=["overlay", "base"])
def test_every_object_validates_against_the_kubernetes_schemas(path, version):
    rendered = render(path)
    assert {obj["kind"] for obj in rendered} >= {"ConfigMap", "Deployment", "Service", "Job", "NetworkPolicy",
                                                 "PersistentVolumeClaim", "ServiceAccount"}
    for obj in rendered:
        kubernetes_validate.validate(obj, version, strict=True)


def test_the_example_overlay_has_the_optional_ingress_namespace_and_secret():
    kinds = {obj["kind"] for obj in render()}
    assert {"Ingress", "Namespace", "Secret"} <= kinds
    assert "Ingress" not in {obj["kind"] for obj in render(BASE)}  # optional: a component
    ingress = objects("Ingress")[0]
    assert ingress["spec"]["rules"][0]["host"] == "console.platform.example.org"
    assert all(obj["metadata"].get("namespace") == "dso-console"
               for obj in render() if obj["kind"] != "Namespace")


def test_the_configmap_and_secret_cover_every_setting_the_code_reads():
    config = objects("ConfigMap")[0]["data"]
    secret = objects("Secret")[0]
    secret_keys = set(secret.get("data", {})) | set(secret.get("stringData", {}))

    read = settings_read_by_the_code()
    assert len(read) > 60  # the scan found the settings at all
    missing = sorted(read - set(config) - secret_keys)
    assert not missing, f"add to deploy/kustomize/base/configmap.yaml (or the Secret): {missing}"
    assert SECRET_ONLY <= secret_keys
    leaked = sorted(SECRET_ONLY & set(config))
    assert not leaked, f"credentials belong in the Secret, not the ConfigMap: {leaked}"
    unknown = sorted(set(config) - read)
    assert not unknown, f"the ConfigMap sets what no code reads: {unknown}"


def test_every_pod_reads_the_configmap_and_the_secret():
    for name, spec in pod_specs().items():
        for container in spec["containers"]:
            sources = {(ref.get("configMapRef") or ref.get("secretRef"))["name"] for ref in container["envFrom"]}
            assert sources == {"dso-console-config", "dso-console-secrets"}, name


RESTRICTED_VOLUME_TYPES = {"configMap", "csi", "downwardAPI", "emptyDir", "ephemeral", "persistentVolumeClaim",
                           "projected", "secret"}


def test_pods_meet_the_restricted_pod_security_standard():
    """The checks of https://kubernetes.io/docs/concepts/security/pod-security-standards/ (restricted)."""
    for name, spec in pod_specs().items():
        pod = spec.get("securityContext", {})
        assert not spec.get("hostNetwork") and not spec.get("hostPID") and not spec.get("hostIPC"), name
        assert pod.get("seccompProfile", {}).get("type") in ("RuntimeDefault", "Localhost"), name
        assert pod.get("runAsUser", 1) != 0, name
        for volume in spec.get("volumes", []):
            assert set(volume) - {"name"} <= RESTRICTED_VOLUME_TYPES, (name, volume)
        for container in spec["containers"] + spec.get("initContainers", []):
            context = container.get("securityContext", {})
            assert context.get("allowPrivilegeEscalation") is False, name
            assert context.get("capabilities", {}).get("drop") == ["ALL"], name
            assert not context.get("capabilities", {}).get("add"), name
            assert not context.get("privileged"), name
            assert context.get("runAsNonRoot", pod.get("runAsNonRoot")) is True, name
            assert context.get("readOnlyRootFilesystem") is True, name
            assert all("hostPort" not in port for port in container.get("ports", [])), name
            resources = container.get("resources", {})
            assert {"cpu", "memory"} <= set(resources.get("requests", {})), name
            assert {"cpu", "memory"} <= set(resources.get("limits", {})), name
    namespace = objects("Namespace")[0]
    assert namespace["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "restricted"


def test_web_and_worker_probe_healthz_and_readyz():
    specs = pod_specs()
    for name, port in (("Deployment/dso-console-web", "http"), ("Deployment/dso-console-worker", "metrics")):
        container = specs[name]["containers"][0]
        assert container["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": port}, name
        assert container["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": port}, name
    web = specs["Deployment/dso-console-web"]["containers"][0]
    assert web["args"] == ["web"] and specs["Deployment/dso-console-worker"]["containers"][0]["args"] == ["worker"]
    assert specs["Deployment/dso-console-beat"]["containers"][0]["args"] == ["beat"]
    assert specs["Job/dso-console-migrate"]["containers"][0]["args"] == ["migrate"]


def test_workers_share_the_data_volume_and_beat_is_a_single_recreated_pod():
    claim = objects("PersistentVolumeClaim")[0]
    worker = next(obj for obj in objects("Deployment") if obj["metadata"]["name"] == "dso-console-worker")
    mounts = {mount["mountPath"]: mount["name"] for mount in worker["spec"]["template"]["spec"]["containers"][0]
              ["volumeMounts"]}
    volumes = {volume["name"]: volume for volume in worker["spec"]["template"]["spec"]["volumes"]}
    assert volumes[mounts["/data"]]["persistentVolumeClaim"]["claimName"] == claim["metadata"]["name"]
    assert objects("ConfigMap")[0]["data"]["DSO_DATA_DIR"] == "/data"
    beat = next(obj for obj in objects("Deployment") if obj["metadata"]["name"] == "dso-console-beat")
    assert beat["spec"]["replicas"] == 1 and beat["spec"]["strategy"]["type"] == "Recreate"


def test_network_policies_deny_by_default_and_admit_only_the_ingress_controller_and_prometheus():
    policies = {obj["metadata"]["name"]: obj["spec"] for obj in objects("NetworkPolicy")}
    deny = policies["dso-console-default-deny"]
    assert deny["podSelector"]["matchLabels"] == {"app.kubernetes.io/name": "dso-console"}
    assert set(deny["policyTypes"]) == {"Ingress", "Egress"} and "ingress" not in deny and "egress" not in deny
    for obj in objects("Deployment") + objects("Job"):
        assert obj["spec"]["template"]["metadata"]["labels"]["app.kubernetes.io/name"] == "dso-console"
    web = policies["dso-console-web-ingress"]["ingress"][0]
    assert [port["port"] for port in web["ports"]] == [8000]
    assert policies["dso-console-worker-metrics"]["ingress"][0]["ports"][0]["port"] == 9808


def test_argo_cd_applies_configuration_then_migrations_then_workloads():
    def wave(obj) -> int:
        return int(obj["metadata"].get("annotations", {}).get("argocd.argoproj.io/sync-wave", "0"))

    job = objects("Job")[0]
    assert job["metadata"]["annotations"]["argocd.argoproj.io/hook"] == "Sync"
    for kind in ("ConfigMap", "Secret", "PersistentVolumeClaim", "ServiceAccount", "Namespace"):
        assert wave(objects(kind)[0]) < wave(job), kind
    assert all(wave(job) < wave(deployment) for deployment in objects("Deployment"))


def test_the_readmes_argo_cd_application_is_valid_and_points_at_this_overlay():
    """The Application the README gives, checked against Argo CD's CRD schema (tests/data/argocd)."""
    from tests.provisioning.test_manifests import crd_validator

    section = (ROOT / "README.md").read_text().split("### On Kubernetes, with Argo CD", 1)[1].split("\n## ", 1)[0]
    # The first: the console itself (the next one is the Application of the projects it provisions).
    application = yaml.safe_load(re.findall(r"```yaml\n(.*?)```", section, flags=re.S)[0])

    assert application["kind"] == "Application"
    crd_validator("application-crd.yaml").validate(application)
    path = ROOT / application["spec"]["source"]["path"]
    assert path == OVERLAY
    assert application["spec"]["destination"]["namespace"] == objects("Namespace")[0]["metadata"]["name"]
