"""Pure, deterministic rendering of what one project needs in the cluster.

Given a ``ProjectSpec`` this package produces the namespace with its guard rails (quota, limits, a
default-deny network policy with the platform's allowances), the Argo CD AppProject that fences the
project's applications into that namespace and its own repositories (with one role per console role,
bound to OIDC groups), and one Argo CD Application per infrastructure app. Same input, same bytes: no
clocks, no randomness, no environment, so a GitOps commit happens only when intent changes.

Key order in the YAML is the order the dictionaries are built (``apiVersion``, ``kind``, ``metadata``
(name, namespace, labels, annotations, finalizers), then ``spec`` in the order kubectl's own documentation
lists it); labels and annotations are sorted by key; lists whose order has no meaning (source
repositories, blacklists, namespaces) are sorted.

Modules: ``spec`` (inputs), ``names``, ``validation``, ``namespace`` (Namespace, ResourceQuota,
LimitRange, NetworkPolicy), ``argocd`` (AppProject, Application), ``render`` (order and YAML).
"""

from provisioning.errors import InvalidInput
from provisioning.manifests.argocd import ROLE_PERMISSIONS, role_groups, role_policies
from provisioning.manifests.names import (
    ARGOCD_API_VERSION, ARGOCD_FINALIZER, INFRA_APP_LABEL, LIMIT_RANGE_NAME, MANAGED_BY_LABEL,
    NETWORK_POLICY_NAME, ORGANIZATION_LABEL, PROJECT_LABEL, QUOTA_NAME, app_project_name, application_name,
    application_name_for, group_name, namespace_name,
)  # fmt: skip
from provisioning.manifests.render import render_files, render_objects, render_yaml
from provisioning.manifests.spec import CONSOLE_ROLES, GroupsSpec, InfraAppSpec, NetworkSpec, ProjectSpec, QuotaSpec
from provisioning.manifests.validation import group_problem, validate

__all__ = [
    "ARGOCD_API_VERSION", "ARGOCD_FINALIZER", "CONSOLE_ROLES", "INFRA_APP_LABEL", "LIMIT_RANGE_NAME",
    "MANAGED_BY_LABEL", "NETWORK_POLICY_NAME", "ORGANIZATION_LABEL", "PROJECT_LABEL", "QUOTA_NAME",
    "ROLE_PERMISSIONS", "GroupsSpec", "InfraAppSpec", "InvalidInput", "NetworkSpec", "ProjectSpec", "QuotaSpec",
    "app_project_name", "application_name", "application_name_for", "group_name", "group_problem",
    "namespace_name", "render_files", "render_objects", "render_yaml", "role_groups", "role_policies",
    "validate",
]  # fmt: skip
