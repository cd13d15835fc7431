"""Objects in a fixed order, then YAML: one multi-document stream, or one file per object for GitOps.

``_yaml`` and ``_dump`` are the only YAML emitter; keep them together here.
"""

from __future__ import annotations

import io
import re

from ruamel.yaml import YAML
from ruamel.yaml.representer import RoundTripRepresenter

from provisioning.manifests import argocd, namespace
from provisioning.manifests.names import namespace_name
from provisioning.manifests.spec import InfraAppSpec, ProjectSpec
from provisioning.manifests.validation import validate
from provisioning.block_yaml import BlockWriter


def _sorted_apps(spec: ProjectSpec) -> list[InfraAppSpec]:
    return sorted(spec.infra_apps, key=lambda a: a.name)


def render_objects(spec: ProjectSpec) -> list[dict]:
    """Namespace, ResourceQuota, LimitRange, NetworkPolicy, AppProject, then Applications by name."""
    validate(spec)
    ns = namespace_name(spec.organization_slug, spec.project_slug)
    objects = [
        namespace.namespace(spec, ns),
        namespace.resource_quota(spec, ns),
        namespace.limit_range(spec, ns),
        namespace.network_policy(spec, ns),
        argocd.app_project(spec, ns),
    ]
    objects.extend(argocd.application(spec, ns, app) for app in _sorted_apps(spec))
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
