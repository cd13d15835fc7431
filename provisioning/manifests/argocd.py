"""The Argo CD AppProject that fences a project in, its roles, and one Application per infra repository."""

from __future__ import annotations

from provisioning.manifests.names import (
    ARGOCD_API_VERSION, ARGOCD_FINALIZER, INFRA_APP_LABEL, app_project_name, application_name, group_name,
)  # fmt: skip
from provisioning.manifests.namespace import metadata, shorten
from provisioning.manifests.spec import CONSOLE_ROLES, InfraAppSpec, ProjectSpec

# AppProject.spec.description: "maxLength: 255" in the CRD (Kubernetes counts characters, as len() does).
_MAX_DESCRIPTION = 255

# What each console role may do to the project's Applications in Argo CD, as (resource, action) pairs.
# Nobody gets create/update/delete: the console owns the Applications through Git, and an edit made in
# Argo CD would be reverted (or fight the platform) at the next sync. "action/*" is every resource
# action (restart a Deployment...); "logs" is a resource of its own in Argo CD RBAC.
_OPERATE = (("applications", "get"), ("applications", "sync"), ("applications", "action/*"), ("logs", "get"))
ROLE_PERMISSIONS = {
    "reader": (("applications", "get"), ("logs", "get")),
    "developer": _OPERATE,
    "maintainer": _OPERATE,
    "owner": _OPERATE,
}
_ROLE_DESCRIPTIONS = {
    "reader": "View the project's applications and their logs",
    "developer": "View, sync and run actions on the project's applications, read their logs",
    "maintainer": "View, sync and run actions on the project's applications, read their logs",
    "owner": "View, sync and run actions on the project's applications, read their logs",
}


def role_policies(project: str, role: str) -> list[str]:
    """Argo CD RBAC CSV lines, ``p, proj:<project>:<role>, <resource>, <action>, <project>/*, allow``."""
    return [f"p, proj:{project}:{role}, {resource}, {action}, {project}/*, allow"
            for resource, action in ROLE_PERMISSIONS[role]]  # fmt: skip


def role_groups(spec: ProjectSpec, role: str) -> list[str]:
    org = spec.organization_slug
    groups = [
        group_name(spec.groups.project_pattern, organization=org, project=spec.project_slug, role=role),
        group_name(spec.groups.organization_pattern, organization=org, role=role),
    ]
    return list(dict.fromkeys(groups))  # a pattern without {project} names the same group twice


def _roles(spec: ProjectSpec) -> list[dict]:
    project = app_project_name(spec)
    return [
        {
            "name": role,
            "description": _ROLE_DESCRIPTIONS[role],
            "policies": role_policies(project, role),
            "groups": role_groups(spec, role),
        }
        for role in CONSOLE_ROLES
    ]


def app_project(spec: ProjectSpec, ns: str) -> dict:
    description = f"DSO Console: {spec.organization_name} / {spec.project_name}"
    if spec.description:
        description = f"{description} - {spec.description}"
    description = shorten(description, _MAX_DESCRIPTION)
    # The platform owns these guard rails; letting project apps manage them would let a team lift its
    # own quota. NetworkPolicies only add allowed traffic, so tenants may add their own unless the
    # platform says otherwise (docs/tenant-baseline.md). Core group is "" in Argo CD, never "v1".
    blacklist = [{"group": "", "kind": "LimitRange"}, {"group": "", "kind": "ResourceQuota"}]
    if not spec.network.tenant_policies:
        blacklist.append({"group": "networking.k8s.io", "kind": "NetworkPolicy"})
    return {
        "apiVersion": ARGOCD_API_VERSION,
        "kind": "AppProject",
        "metadata": metadata(spec, app_project_name(spec), spec.argocd_namespace),
        "spec": {
            "description": description,
            "sourceRepos": sorted(set(spec.source_repos)),
            "destinations": [{"server": spec.destination_server, "namespace": ns}],
            "clusterResourceWhitelist": [],
            "namespaceResourceBlacklist": sorted(blacklist, key=lambda r: (r["group"], r["kind"])),
            "roles": _roles(spec),
            # Argo CD reports objects in the namespace that no Application manages (hand-made changes).
            "orphanedResources": {"warn": True},
        },
    }


def application(spec: ProjectSpec, ns: str, app: InfraAppSpec) -> dict:
    source: dict = {"repoURL": app.repo_url, "path": app.path, "targetRevision": app.revision}
    # Empty "helm: {}" / "kustomize: {}" are valid per the CRD but Argo CD normalises them away, which
    # leaves an app-of-apps permanently OutOfSync (argoproj/argo-cd#14668); the tool is detected from
    # Chart.yaml / kustomization.yaml in the path instead.
    if app.kind == "helm" and app.value_files:
        source["helm"] = {"valueFiles": list(app.value_files)}
    return {
        "apiVersion": ARGOCD_API_VERSION,
        "kind": "Application",
        "metadata": metadata(
            spec,
            application_name(spec, app),
            spec.argocd_namespace,
            labels={INFRA_APP_LABEL: app.name},
            finalizers=[ARGOCD_FINALIZER],
        ),
        "spec": {
            "project": app_project_name(spec),
            "source": source,
            "destination": {"server": spec.destination_server, "namespace": ns},
            "syncPolicy": {
                "automated": {"prune": True, "selfHeal": True},
                # FailOnSharedResource: a tenant's chart that renders an object the platform already
                # applied (its "default-deny" NetworkPolicy, the quota) fails to sync instead of taking
                # it over; AppProjects cannot restrict objects by name, Applications can refuse to share.
                "syncOptions": ["CreateNamespace=false", "FailOnSharedResource=true"],
            },
        },
    }
