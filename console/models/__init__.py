from console.models.audit import AuditEvent
from console.models.clusters import Cluster, DeliveryMode
from console.models.ci import CiToken, TrustedGitLabInstance, WebhookDelivery
from console.models.deployments import (
    DEPLOYMENT_HEALTH_ATTENTION, BumpRollout, Deployment, DeploymentHealth, DriftReason, DriftRecord,
    ProjectObservation, ReadbackPass, ReleaseDeployment, RolloutStatus,
)
from console.models.identities import OidcIdentity
from console.models.images import ImageBump, ImageInventoryEntry, ImageRelease, ImageTagChange
from console.models.organizations import Membership, Organization, Project, Role
from console.models.repositories import DeployKind, Repository
from console.models.runs import ACTIVE_STATUSES, ProvisioningCause, ProvisioningRun, RefChange, RefChangeKind, RunStatus, SyncRun, Trigger

from console.models.merge_requests import BumpMergeRequest, MergeRequestSettings
from console.models.notifications import NotificationDelivery, NotificationEvent, NotificationTarget
from console.models.pins import ImagePin
from console.models.registries import ContainerRegistry, DiscoveredTag, RegistryWatchRun, TagPolicy, TagPolicyKind, WatchedImage
from console.models.schedules import SyncSchedule
from console.models.tokens import ApiToken

__all__ = [
    "ACTIVE_STATUSES",
    "ApiToken",
    "AuditEvent",
    "BumpRollout",
    "CiToken",
    "Cluster",
    "DeliveryMode",
    "BumpMergeRequest",
    "CiToken",
    "ContainerRegistry",
    "DiscoveredTag",
    "DeployKind",
    "DEPLOYMENT_HEALTH_ATTENTION",
    "Deployment",
    "DeploymentHealth",
    "DriftReason",
    "DriftRecord",
    "ImageBump",
    "ImageInventoryEntry",
    "ImagePin",
    "ImageRelease",
    "ImageTagChange",
    "Membership",
    "OidcIdentity",
    "MergeRequestSettings",
    "NotificationDelivery",
    "NotificationEvent",
    "NotificationTarget",
    "Organization",
    "Project",
    "ProjectObservation",
    "ProvisioningCause",
    "ProvisioningRun",
    "ReadbackPass",
    "RefChange",
    "RefChangeKind",
    "ReleaseDeployment",
    "RegistryWatchRun",
    "Repository",
    "RolloutStatus",
    "Role",
    "RunStatus",
    "SyncRun",
    "SyncSchedule",
    "TagPolicy",
    "TagPolicyKind",
    "Trigger",
    "TrustedGitLabInstance",
    "WatchedImage",
    "WebhookDelivery",
]
