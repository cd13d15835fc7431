"""Roles and how strong a user's role is: reader < developer < maintainer < owner; staff may do everything.

These are the building blocks; what an action needs is decided once, in console.authorization (ACTIONS).
"""

from __future__ import annotations

from console.models import Membership, Project, Role
from console.models.organizations import ROLE_RANK

VIEW = Role.READER
SYNC = Role.DEVELOPER
MANAGE = Role.MAINTAINER
ADMINISTER = Role.OWNER


def project_role(user, project: Project) -> str | None:
    """The strongest role the user holds on the project, directly or through its organization."""
    if user is None or not user.is_authenticated:
        return None
    roles = Membership.objects.filter(user=user, organization_id=project.organization_id).filter(
        project__isnull=True
    ) | Membership.objects.filter(user=user, project=project)
    ranked = [ROLE_RANK[r] for r in roles.values_list("role", flat=True)]
    return Role.values[max(ranked)] if ranked else None


def organization_role(user, organization) -> str | None:
    if user is None or not user.is_authenticated:
        return None
    membership = Membership.objects.filter(user=user, organization=organization, project__isnull=True).first()
    return membership.role if membership else None


def has_project_role(user, project: Project, needed: str) -> bool:
    if user is not None and user.is_authenticated and user.is_staff:
        return True
    role = project_role(user, project)
    return role is not None and ROLE_RANK[role] >= ROLE_RANK[needed]


def has_organization_role(user, organization, needed: str) -> bool:
    if user is not None and user.is_authenticated and user.is_staff:
        return True
    role = organization_role(user, organization)
    return role is not None and ROLE_RANK[role] >= ROLE_RANK[needed]
