"""Pure, deterministic rendering of what one project needs in the cluster.

Given a ``ProjectSpec`` this module produces the namespace with its guard rails (quota, limits, a
default-deny network policy), the Argo CD AppProject that fences the project's applications into that
namespace and its own repositories, and one Argo CD Application per infrastructure app. Same input, same
bytes: no clocks, no randomness, no environment, so a GitOps commit happens only when intent changes.

Key order in the YAML is the order the dictionaries are built below (``apiVersion``, ``kind``,
``metadata`` (name, namespace, labels, annotations, finalizers), then ``spec`` in the order kubectl's own
documentation lists it); labels and annotations are sorted by key; lists whose order has no meaning
(source repositories, blacklists) are sorted.
"""

from __future__ import annotations

import hashlib
import io
import re
from dataclasses import dataclass, field

from ruamel.yaml import YAML
from ruamel.yaml.representer import RoundTripRepresenter

from provisioning import inputs
from provisioning.block_yaml import BlockWriter
from provisioning.errors import InvalidInput

MANAGED_BY_LABEL = "app.kubernetes.io/managed-by"
ORGANIZATION_LABEL = "dso.console/organization"
PROJECT_LABEL = "dso.console/project"
ARGOCD_FINALIZER = "resources-finalizer.argocd.argoproj.io"
ARGOCD_API_VERSION = "argoproj.io/v1alpha1"

_QUANTITY = re.compile(r"^[0-9]+(\.[0-9]+)?(m|k|M|G|T|P|E|Ki|Mi|Gi|Ti|Pi|Ei)?$")
_MAX_LABEL = inputs.DNS_LABEL_MAX
# AppProject.spec.description: "maxLength: 255" in the CRD (Kubernetes counts characters, as len() does).
_MAX_DESCRIPTION = 255
# Annotation values have no limit of their own, but all of an object's annotations together must stay under
# 256 KiB; the names written there are display names, so a generous cap keeps them whole in practice.
_MAX_ANNOTATION_VALUE = 1024
_HASH_LEN = 8
# AppProject sourceRepos and destinations accept globs and "!" negations: one stray "*" would open the
# project to every repository or namespace, so these characters are refused outright.
_GLOB_CHARS = set("*?[]!")


@dataclass(frozen=True)
class QuotaSpec:
    cpu_requests: str = "4"
    cpu_limits: str = "8"
    memory_requests: str = "8Gi"
    memory_limits: str = "16Gi"
    pods: str = "50"
    services: str = "20"
    persistent_volume_claims: str = "10"
    requests_storage: str = "50Gi"
    default_cpu_request: str = "100m"
    default_memory_request: str = "128Mi"
    default_cpu_limit: str = "500m"
    default_memory_limit: str = "512Mi"
    max_cpu: str = "2"
    max_memory: str = "4Gi"


@dataclass(frozen=True)
class InfraAppSpec:
    name: str
    repo_url: str
    kind: str  # "helm" | "kustomize"
    path: str = "."
    revision: str = "HEAD"
    value_files: tuple[str, ...] = ()


@dataclass(frozen=True)
class ProjectSpec:
    organization_slug: str
    organization_name: str
    project_slug: str
    project_name: str
    description: str = ""
    source_repos: tuple[str, ...] = ()
    infra_apps: tuple[InfraAppSpec, ...] = ()
    quota: QuotaSpec = field(default_factory=QuotaSpec)
    destination_server: str = "https://kubernetes.default.svc"
    argocd_namespace: str = "argocd"
    managed_by: str = "dso-console"
    # Namespaces no project may take besides kube-*, default and ``argocd_namespace`` ("name" or "prefix-*").
    reserved_namespaces: tuple[str, ...] = ()


# --------------------------------------------------------------------------------------------- names


def _bounded_name(readable: str, identity: str) -> str:
    """``readable`` if it fits a DNS label, else a truncated prefix plus a hash of ``identity``.

    The hash is taken over the unambiguous identity (e.g. "org/project"), not over ``readable``, so two
    long names sharing their first 54 characters still get different suffixes.
    """
    if len(readable) <= _MAX_LABEL:
        return readable
    suffix = hashlib.sha256(identity.encode("utf-8")).hexdigest()[:_HASH_LEN]
    prefix = readable[: _MAX_LABEL - _HASH_LEN - 1].rstrip("-")
    return f"{prefix}-{suffix}"


def namespace_name(organization_slug: str, project_slug: str) -> str:
    _check_slug("organization_slug", organization_slug)
    _check_slug("project_slug", project_slug)
    return _bounded_name(f"{organization_slug}-{project_slug}", f"{organization_slug}/{project_slug}")


def app_project_name(spec: ProjectSpec) -> str:
    # One AppProject per namespace: the namespace name is already unique, readable and label-safe.
    return namespace_name(spec.organization_slug, spec.project_slug)


def application_name(spec: ProjectSpec, app: InfraAppSpec) -> str:
    return application_name_for(spec.organization_slug, spec.project_slug, app.name)


def application_name_for(organization_slug: str, project_slug: str, app_name: str) -> str:
    # Applications share the Argo CD namespace with every other project, so the name carries the
    # project's namespace; it also becomes a label value (app.kubernetes.io/instance), hence <= 63.
    # "a"/"b" + app "c-d" and "a"/"b-c" + app "d" both read "a-b-c-d": the console refuses the second.
    ns = namespace_name(organization_slug, project_slug)
    return _bounded_name(f"{ns}-{app_name}", f"{organization_slug}/{project_slug}/{app_name}")


# ---------------------------------------------------------------------------------------- validation


def _check_slug(what: str, value: str) -> None:
    if inputs.dns_label_problem(value):
        raise InvalidInput(
            f"{what} {value!r} must be a DNS-1123 label: lowercase letters, digits and '-', "
            f"starting and ending with a letter or digit, at most {_MAX_LABEL} characters"
        )


def _check_repo_url(what: str, url: str) -> None:
    if not url or any(c.isspace() for c in url) or _GLOB_CHARS & set(url):
        raise InvalidInput(f"{what} {url!r} must be a plain repository URL (no spaces, no wildcards)")
    scheme, sep, rest = url.partition("://")
    userinfo = rest.split("/", 1)[0].rpartition("@")[0] if sep else ""
    # "ssh://git@host" names a user, but any userinfo on HTTP(S) is a token waiting to leak.
    if ":" in userinfo or (userinfo and scheme.lower() in ("http", "https")):
        raise InvalidInput(f"{what} must not carry credentials in the URL")


def _check_relative_path(what: str, value: str) -> None:
    problem = inputs.repo_relative_path_problem(value)
    if problem:
        raise InvalidInput(f"{what} {value!r}: {problem}")


def validate(spec: ProjectSpec) -> None:
    """Raise ``InvalidInput`` naming the first thing wrong with ``spec``."""
    _check_slug("organization_slug", spec.organization_slug)
    _check_slug("project_slug", spec.project_slug)
    _check_slug("argocd_namespace", spec.argocd_namespace)
    _check_slug("managed_by", spec.managed_by)
    ns = namespace_name(spec.organization_slug, spec.project_slug)
    reserved = inputs.namespace_reserved_problem(ns, reserved=(spec.argocd_namespace, *spec.reserved_namespaces))
    if reserved:
        raise InvalidInput(reserved)
    if not spec.destination_server or _GLOB_CHARS & set(spec.destination_server):
        raise InvalidInput("destination_server must be a plain cluster URL (no wildcards)")
    for repo in spec.source_repos:
        _check_repo_url("source repository", repo)
    for name, value in vars(spec.quota).items():
        if not isinstance(value, str) or not _QUANTITY.match(value):
            raise InvalidInput(f"quota {name} {value!r} is not a Kubernetes quantity such as '500m' or '4Gi'")
    seen: set[str] = set()
    for app in spec.infra_apps:
        _check_slug("infra app name", app.name)
        if app.name in seen:
            raise InvalidInput(f"infra app name {app.name!r} is used twice")
        seen.add(app.name)
        if app.kind not in ("helm", "kustomize"):
            raise InvalidInput(f"infra app {app.name!r}: kind must be 'helm' or 'kustomize'")
        _check_repo_url(f"infra app {app.name!r} repo_url", app.repo_url)
        if app.repo_url not in spec.source_repos:
            raise InvalidInput(f"infra app {app.name!r}: {app.repo_url!r} is not a source repository")
        _check_relative_path(f"infra app {app.name!r} path", app.path)
        revision_problem = inputs.git_revision_problem(app.revision)
        if revision_problem:
            raise InvalidInput(f"infra app {app.name!r}: revision {app.revision!r}: {revision_problem}")
        if app.value_files and app.kind != "helm":
            raise InvalidInput(f"infra app {app.name!r}: value_files only apply to Helm apps")
        for value_file in app.value_files:
            _check_relative_path(f"infra app {app.name!r}: value file", value_file)


# ------------------------------------------------------------------------------------------- objects


def _metadata(spec: ProjectSpec, name: str, namespace: str | None, labels: dict | None = None, **extra):
    """name, namespace, labels (ours plus ``labels``, sorted), then ``extra`` (annotations, finalizers)."""
    meta: dict = {"name": name} if namespace is None else {"name": name, "namespace": namespace}
    ours = {MANAGED_BY_LABEL: spec.managed_by, ORGANIZATION_LABEL: spec.organization_slug,
            PROJECT_LABEL: spec.project_slug}  # fmt: skip
    meta["labels"] = dict(sorted({**ours, **(labels or {})}.items()))
    return {**meta, **extra}


def _namespace(spec: ProjectSpec, ns: str) -> dict:
    pod_security = {f"pod-security.kubernetes.io/{m}": "restricted" for m in ("enforce", "audit", "warn")}
    pod_security["pod-security.kubernetes.io/enforce-version"] = "latest"
    annotations = {
        "dso.console/organization-name": _shorten(spec.organization_name, _MAX_ANNOTATION_VALUE),
        "dso.console/project-name": _shorten(spec.project_name, _MAX_ANNOTATION_VALUE),
    }
    return {
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": _metadata(spec, ns, None, labels=pod_security, annotations=annotations),
    }


def _resource_quota(spec: ProjectSpec, ns: str) -> dict:
    q = spec.quota
    return {
        "apiVersion": "v1",
        "kind": "ResourceQuota",
        "metadata": _metadata(spec, "project-quota", ns),
        "spec": {
            "hard": {
                "limits.cpu": q.cpu_limits,
                "limits.memory": q.memory_limits,
                "persistentvolumeclaims": q.persistent_volume_claims,
                "pods": q.pods,
                "requests.cpu": q.cpu_requests,
                "requests.memory": q.memory_requests,
                "requests.storage": q.requests_storage,
                "services": q.services,
            }
        },
    }


def _limit_range(spec: ProjectSpec, ns: str) -> dict:
    # The quota caps limits.* and requests.*, which makes Kubernetes reject pods that omit them; the
    # defaults here fill them in so a plain Deployment still starts.
    q = spec.quota
    return {
        "apiVersion": "v1",
        "kind": "LimitRange",
        "metadata": _metadata(spec, "project-limits", ns),
        "spec": {
            "limits": [
                {
                    "type": "Container",
                    "default": {"cpu": q.default_cpu_limit, "memory": q.default_memory_limit},
                    "defaultRequest": {"cpu": q.default_cpu_request, "memory": q.default_memory_request},
                    "max": {"cpu": q.max_cpu, "memory": q.max_memory},
                }
            ]
        },
    }


def _network_policy(spec: ProjectSpec, ns: str) -> dict:
    same_namespace = [{"podSelector": {}}]
    dns = {
        "to": [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "kube-system"}}}],
        "ports": [{"protocol": "UDP", "port": 53}, {"protocol": "TCP", "port": 53}],
    }
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": _metadata(spec, "default-deny", ns),
        "spec": {
            "podSelector": {},
            "policyTypes": ["Ingress", "Egress"],
            "ingress": [{"from": same_namespace}],
            "egress": [{"to": same_namespace}, dns],
        },
    }


def _app_project(spec: ProjectSpec, ns: str) -> dict:
    description = f"DSO Console: {spec.organization_name} / {spec.project_name}"
    if spec.description:
        description = f"{description} - {spec.description}"
    description = _shorten(description, _MAX_DESCRIPTION)
    # The platform owns these guard rails; letting project apps manage them would let a team lift
    # its own quota or open its network. Core group is "" in Argo CD resource lists, never "v1".
    blacklist = [  # sorted by (group, kind)
        {"group": "", "kind": "LimitRange"},
        {"group": "", "kind": "ResourceQuota"},
        {"group": "networking.k8s.io", "kind": "NetworkPolicy"},
    ]
    return {
        "apiVersion": ARGOCD_API_VERSION,
        "kind": "AppProject",
        "metadata": _metadata(spec, app_project_name(spec), spec.argocd_namespace),
        "spec": {
            "description": description,
            "sourceRepos": sorted(set(spec.source_repos)),
            "destinations": [{"server": spec.destination_server, "namespace": ns}],
            "clusterResourceWhitelist": [],
            "namespaceResourceBlacklist": blacklist,
        },
    }


def _application(spec: ProjectSpec, ns: str, app: InfraAppSpec) -> dict:
    source: dict = {"repoURL": app.repo_url, "path": app.path, "targetRevision": app.revision}
    # Empty "helm: {}" / "kustomize: {}" are valid per the CRD but Argo CD normalises them away, which
    # leaves an app-of-apps permanently OutOfSync (argoproj/argo-cd#14668); the tool is detected from
    # Chart.yaml / kustomization.yaml in the path instead.
    if app.kind == "helm" and app.value_files:
        source["helm"] = {"valueFiles": list(app.value_files)}
    return {
        "apiVersion": ARGOCD_API_VERSION,
        "kind": "Application",
        "metadata": _metadata(
            spec,
            application_name(spec, app),
            spec.argocd_namespace,
            labels={"dso.console/infra-app": app.name},
            finalizers=[ARGOCD_FINALIZER],
        ),
        "spec": {
            "project": app_project_name(spec),
            "source": source,
            "destination": {"server": spec.destination_server, "namespace": ns},
            "syncPolicy": {
                "automated": {"prune": True, "selfHeal": True},
                "syncOptions": ["CreateNamespace=false"],
            },
        },
    }


def _shorten(text: str, limit: int) -> str:
    """``text`` if it fits, else its start and an ellipsis: a description is for people, not for matching."""
    if len(text) <= limit:
        return text
    return text[: limit - 1].rstrip() + "\u2026"


def _sorted_apps(spec: ProjectSpec) -> list[InfraAppSpec]:
    return sorted(spec.infra_apps, key=lambda a: a.name)


def render_objects(spec: ProjectSpec) -> list[dict]:
    """Namespace, ResourceQuota, LimitRange, NetworkPolicy, AppProject, then Applications by name."""
    validate(spec)
    ns = namespace_name(spec.organization_slug, spec.project_slug)
    objects = [
        _namespace(spec, ns),
        _resource_quota(spec, ns),
        _limit_range(spec, ns),
        _network_policy(spec, ns),
        _app_project(spec, ns),
    ]
    objects.extend(_application(spec, ns, app) for app in _sorted_apps(spec))
    return objects


# ---------------------------------------------------------------------------------------------- YAML

# Kubernetes parses YAML 1.1, where yes/no/on/off/y/n are booleans and 0755, 1:30 or 1e3 are numbers;
# ruamel writes YAML 1.2 and would leave those bare. Quote them so a slug "on" stays a string.
_YAML11_WORDS = {"y", "yes", "n", "no", "true", "false", "on", "off", "null", "~", "=", "<<"}
_NUMBER_LIKE = re.compile(r"^[-+]?(\.?[0-9]|\.(inf|nan)$)", re.IGNORECASE)


class _KubeRepresenter(RoundTripRepresenter):
    def ignore_aliases(self, data) -> bool:  # the same dict reused twice must be written out twice
        return True

    def represent_str(self, data: str):
        if data.lower() in _YAML11_WORDS or _NUMBER_LIKE.match(data):
            return self.represent_scalar("tag:yaml.org,2002:str", data, style="'")
        return super().represent_str(data)


_KubeRepresenter.add_representer(str, _KubeRepresenter.represent_str)


def _yaml() -> YAML:
    yaml = YAML(typ="rt", pure=True)
    yaml.Representer = _KubeRepresenter
    yaml.default_flow_style = False
    yaml.allow_unicode = True
    yaml.width = 4096  # never fold long URLs or descriptions across lines
    yaml.indent(mapping=2, sequence=4, offset=2)
    return yaml


_WRITER = BlockWriter(_yaml, lambda data: data.lower() in _YAML11_WORDS or bool(_NUMBER_LIKE.match(data)))


def _dump(documents: list[dict]) -> str:
    # The fast writer gives ruamel's bytes for plain data (20x faster); anything else is ruamel's to write.
    fast = _WRITER.dump_all(documents)
    if fast is not None:
        return fast
    yaml = _yaml()
    yaml.explicit_start = True
    stream = io.StringIO()
    yaml.dump_all(documents, stream)
    return stream.getvalue()


def render_yaml(spec: ProjectSpec) -> str:
    """All objects as one multi-document YAML stream, byte-identical for the same ``spec``."""
    return _dump(render_objects(spec))


_FILE_NAMES = {
    "Namespace": "namespace.yaml",
    "ResourceQuota": "resourcequota.yaml",
    "LimitRange": "limitrange.yaml",
    "NetworkPolicy": "networkpolicy.yaml",
    "AppProject": "appproject.yaml",
}


def render_files(spec: ProjectSpec) -> dict[str, str]:
    """File name -> YAML for GitOps delivery, plus a ``kustomization.yaml`` listing them, sorted."""
    objects = render_objects(spec)
    files: dict[str, str] = {}
    apps = iter(_sorted_apps(spec))
    for obj in objects:
        if obj["kind"] == "Application":
            name = f"applications/{next(apps).name}.yaml"
        else:
            name = _FILE_NAMES[obj["kind"]]
        files[name] = _dump([obj])
    kustomization = {
        "apiVersion": "kustomize.config.k8s.io/v1beta1",
        "kind": "Kustomization",
        "resources": sorted(files),
    }
    files["kustomization.yaml"] = _dump([kustomization])
    return dict(sorted(files.items()))
