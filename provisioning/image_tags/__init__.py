"""Image tags in GitOps infra repositories: read them through history, bump them at the source.

A release reaches the cluster only when an image tag in the infra repository changes, so after each
mirror sync the console scans the deploy revision's new commits (``scan``), can list what is deployed
at any commit (``inventory_at``) and can push a tag bump to the external source (``bump_image_tag``).
Plain Python: callers never see ruamel or GitPython types, errors are ``provisioning.errors``.
"""

from provisioning.image_tags.bump import bump_image_tag
from provisioning.image_tags.history import commits_not_contained, scan
from provisioning.image_tags.inventory import commit_info, inventory_at
from provisioning.image_tags.model import (
    HELM,
    KUSTOMIZE,
    AppVersionChange,
    BumpResult,
    CommitInfo,
    DeployConfig,
    ImageRef,
    ImageTagChange,
    Limits,
    ScanProblem,
    ScanResult,
)

__all__ = [
    "HELM",
    "KUSTOMIZE",
    "AppVersionChange",
    "BumpResult",
    "CommitInfo",
    "DeployConfig",
    "ImageRef",
    "ImageTagChange",
    "Limits",
    "ScanProblem",
    "ScanResult",
    "bump_image_tag",
    "commits_not_contained",
    "commit_info",
    "inventory_at",
    "scan",
]
