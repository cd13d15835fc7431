from __future__ import annotations

from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils.translation import gettext as _

from console.authorization import authorize
from console.models import Membership, Organization, Project, Role
from console.services.actors import Actor
from console.services.audit import audit_record
from console.services.errors import DomainError


def _resolve_user(username: str):
    User = get_user_model()
    try:
        return User.objects.get(username=username)
    except User.DoesNotExist:
        raise DomainError({"username": [_("no user named %(username)s") % {
            "username": repr(username),
        }]}, code="unknown_user") from None


def membership_set(
    *, actor: Actor, username: str, role: str, project: Project | None = None,
    organization: Organization | None = None,
) -> Membership:
    """Give a user a role on a project (or organization-wide); changing an existing role is the same call."""
    if role not in Role.values:
        raise DomainError({"role": [_("unknown role %(role)s: use one of %(value)s") % {
            "role": repr(role),
            "value": ', '.join(Role.values),
        }]})
    if project is not None:
        organization = project.organization
        authorize(actor, "project.members", project)
    elif organization is not None:
        authorize(actor, "organization.members", organization)
    else:
        raise DomainError(_("a membership needs a project or an organization"))
    user = _resolve_user(username)
    with transaction.atomic():
        membership, created = Membership.objects.select_for_update().get_or_create(
            user=user, organization=organization, project=project, defaults={"role": role}
        )
        before = None if created else {"role": membership.role}
        if not created and membership.role != role:
            _refuse_removing_last_owner(membership, new_role=role)
            membership.role = role
            membership.save(update_fields=["role"])
        audit_record(actor=actor, action="membership.set", target=membership, before=before, after={"role": role})
    return membership


def membership_remove(*, actor: Actor, membership: Membership) -> None:
    if membership.project_id:
        authorize(actor, "project.members", membership.project)
    else:
        authorize(actor, "organization.members", membership.organization)
    with transaction.atomic():
        _refuse_removing_last_owner(membership, new_role=None)
        audit_record(actor=actor, action="membership.remove", target=membership,
                     before={"user": membership.user.username, "role": membership.role})
        membership.delete()


def _refuse_removing_last_owner(membership: Membership, *, new_role: str | None) -> None:
    if membership.role != Role.OWNER or new_role == Role.OWNER or membership.project_id:
        return
    owners = Membership.objects.filter(
        organization_id=membership.organization_id, project__isnull=True, role=Role.OWNER
    ).exclude(pk=membership.pk)
    if not owners.exists():
        raise DomainError(_("an organization keeps at least one owner"), code="last_owner")
