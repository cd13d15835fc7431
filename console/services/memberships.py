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
    """Give a user a role on a project (or organization-wide); changing an existing role is the same call.

    A role given here is the console's (source `console`): even one that replaces a role from the user's
    identity provider groups stays as given until someone changes it in the console."""
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
            user=user, organization=organization, project=project,
            defaults={"role": role, "source": Membership.Source.CONSOLE},
        )
        before = None if created else {"role": membership.role, "source": membership.source}
        if not created and (membership.role != role or membership.source != Membership.Source.CONSOLE):
            _refuse_removing_last_owner(membership, new_role=role)
            membership.role = role
            membership.source = Membership.Source.CONSOLE
            membership.save(update_fields=["role", "source"])
        audit_record(actor=actor, action="membership.set", target=membership, before=before,
                     after={"role": role, "source": Membership.Source.CONSOLE})
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


def memberships_sync_from_groups(
    *, actor: Actor, user, desired: dict[tuple[Organization, Project | None], str],
) -> dict[str, list[str]]:
    """Make the user's group-given memberships (source `oidc`) exactly `desired`
    ({(organization, project or None): role}), leaving every console-given membership as it is.

    Called at each OIDC sign-in and by `manage.py oidc_resync`; `actor` is the console acting for the
    identity provider. Returns what changed, {"added"|"changed"|"removed": [scope, ...]}, for the caller to
    log. A group role never removes an organization's last owner (the membership stays until another owner
    exists), so a provider's mistake cannot orphan an organization."""
    changes: dict[str, list[str]] = {"added": [], "changed": [], "removed": []}
    wanted = {(organization.pk, project.pk if project else None): (organization, project, role)
              for (organization, project), role in desired.items()}
    with transaction.atomic():
        current = {
            (m.organization_id, m.project_id): m
            for m in Membership.objects.select_for_update(of=("self",))
            .select_related("organization", "project").filter(user=user)
        }
        for key, (organization, project, role) in wanted.items():
            membership = current.get(key)
            if membership is None:
                membership = Membership.objects.create(user=user, organization=organization, project=project,
                                                       role=role, source=Membership.Source.OIDC)
                audit_record(actor=actor, action="membership.set", target=membership, before=None,
                             after={"role": role, "source": Membership.Source.OIDC})
                changes["added"].append(str(membership))
            elif membership.source == Membership.Source.OIDC and membership.role != role:
                try:
                    _refuse_removing_last_owner(membership, new_role=role)
                except DomainError:
                    continue
                before = {"role": membership.role, "source": membership.source}
                membership.role = role
                membership.save(update_fields=["role"])
                audit_record(actor=actor, action="membership.set", target=membership, before=before,
                             after={"role": role, "source": Membership.Source.OIDC})
                changes["changed"].append(str(membership))
        for key, membership in current.items():
            if key in wanted or membership.source != Membership.Source.OIDC:
                continue
            try:
                _refuse_removing_last_owner(membership, new_role=None)
            except DomainError:
                continue
            audit_record(actor=actor, action="membership.remove", target=membership,
                         before={"user": user.username, "role": membership.role, "source": membership.source})
            changes["removed"].append(str(membership))
            membership.delete()
    return changes
