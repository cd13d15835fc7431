from __future__ import annotations

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils.translation import gettext as _

from console.authorization import authorize
from console.models import Membership, Organization, Role
from console.models.quotas import QUOTA_RESOURCES
from console.models.validators import validate_organization_slug_not_reserved
from console.services.actors import Actor
from console.services.audit import audit_record
from console.services.errors import DomainError, PermissionDenied
from console.services.validation import full_clean_or_raise

# Top-level forge groups the console itself uses; an organization may not take them.
RESERVED_SLUGS = {"platform", "admin", "api", "git", "static"}


def organization_create(*, actor: Actor, slug: str, name: str = "") -> Organization:
    if actor.user is None:
        raise PermissionDenied(_("only a signed-in user can create an organization"))
    if not settings.ORGANIZATION_SELF_SERVICE and not actor.is_staff:
        raise PermissionDenied(_("organizations are created by platform admins here"))
    if slug in RESERVED_SLUGS:
        raise DomainError({"slug": [_("%(slug)s is reserved") % {"slug": repr(slug)}]}, code="invalid")
    try:
        validate_organization_slug_not_reserved(slug)
    except ValidationError as exc:
        raise DomainError({"slug": exc.messages}, code="reserved_namespace") from exc
    if Organization.objects.filter(slug=slug).exists():
        raise DomainError({"slug": [_("organization %(slug)s already exists") % {
            "slug": repr(slug),
        }]}, code="duplicate")
    organization = Organization(slug=slug, name=name or slug)
    full_clean_or_raise(organization)
    try:
        with transaction.atomic():
            organization.save()
            Membership.objects.create(user=actor.user, organization=organization, role=Role.OWNER)
            audit_record(actor=actor, action="organization.create", target=organization,
                         after={"slug": slug, "name": organization.name})
    except IntegrityError as exc:
        raise DomainError({"slug": [_("organization %(slug)s already exists") % {
            "slug": repr(slug),
        }]}, code="duplicate") from exc
    return organization


def organization_update(*, actor: Actor, organization: Organization, name: str) -> Organization:
    authorize(actor, "organization.edit", organization)
    before = {"name": organization.name}
    organization.name = name
    full_clean_or_raise(organization)
    with transaction.atomic():
        organization.save(update_fields=["name"])
        audit_record(actor=actor, action="organization.update", target=organization, before=before,
                     after={"name": name})
    return organization


def organization_quota_limits_set(*, actor: Actor, organization: Organization, limits: dict) -> Organization:
    """Platform admins: the most any one project of ``organization`` may ask for (resource -> amount).

    Refused while a project already has more than a new limit: lower that project's quota first.
    """
    authorize(actor, "organization.quota_limits", organization)
    before = organization.quota_limits
    for resource, value in limits.items():
        if resource not in QUOTA_RESOURCES:
            raise DomainError({"quota_limits": [f"unknown quota resource {resource!r}"]}, code="invalid")
        if value not in (None, ""):
            setattr(organization, f"quota_limit_{resource}", value)
    full_clean_or_raise(organization)
    if organization.quota_limits != before:
        with transaction.atomic():
            organization.save(update_fields=[f"quota_limit_{resource}" for resource in QUOTA_RESOURCES])
            audit_record(actor=actor, action="organization.quota_limits", target=organization, before=before,
                         after=organization.quota_limits)
    return organization
