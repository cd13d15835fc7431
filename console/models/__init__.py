from console.models.audit import AuditEvent
from console.models.ci import CiToken, TrustedGitLabInstance, WebhookDelivery
from console.models.identities import OidcIdentity
from console.models.images import ImageBump, ImageInventoryEntry, ImageRelease, ImageTagChange
from console.models.organizations import Membership, Organization, Project, Role
from console.models.repositories import DeployKind, Repository
from console.models.runs import ACTIVE_STATUSES, ProvisioningCause, ProvisioningRun, RefChange, RefChangeKind, RunStatus, SyncRun, Trigger

from console.models.tokens import ApiToken

__all__ = [
    "ACTIVE_STATUSES",
    "ApiToken",
    "AuditEvent",
    "CiToken",
    "DeployKind",
    "ImageBump",
    "ImageInventoryEntry",
    "ImageRelease",
    "ImageTagChange",
    "Membership",
    "OidcIdentity",
    "Organization",
    "Project",
    "ProvisioningCause",
    "ProvisioningRun",
    "RefChange",
    "RefChangeKind",
    "Repository",
    "Role",
    "RunStatus",
    "SyncRun",
    "Trigger",
    "TrustedGitLabInstance",
    "WebhookDelivery",
]
