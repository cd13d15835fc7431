"""Signing in through the OpenID Connect provider, once its ID token is verified (console.oidc_client):
the console user for the (issuer, subject), their profile, and their roles from groups.

Roles from groups are recomputed at every sign-in from the groups claim: a group that matches
DSO_OIDC_ORGANIZATION_GROUP_PATTERN or DSO_OIDC_PROJECT_GROUP_PATTERN gives that role on an organization or
project that exists (others are ignored until it does, then `manage.py oidc_resync` applies them from the
groups stored here). Roles given in the console are never touched. DSO_OIDC_ADMIN_GROUP makes a platform
admin (staff and superuser) only while the user is in it; staff set by hand stays.
"""

from __future__ import annotations

import logging

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from console.models import OidcIdentity, Organization, Project
from console.services.actors import Actor
from console.services.audit import audit_record
from console.services.errors import DomainError
from console.services.memberships import memberships_sync_from_groups
from provisioning.group_patterns import compile_pattern, roles_from_groups

log = logging.getLogger(__name__)
PROFILE_CLAIMS = ("preferred_username", "name", "given_name", "family_name", "email")


class SignInRefused(DomainError):
    """The provider vouched for someone the console will not sign in (shown on the sign-in error page)."""


def groups_from_claims(claims: dict) -> list[str]:
    value = claims.get(settings.OIDC_GROUPS_CLAIM, [])
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list):
        return []
    return sorted({group for group in value if isinstance(group, str) and len(group) <= 500})


def _username(claims: dict) -> str:
    User = get_user_model()
    username = claims.get(settings.OIDC_USERNAME_CLAIM) or claims.get("email") or ""
    if not isinstance(username, str) or not username:
        raise SignInRefused(_("the identity provider sent no %(claim)s claim to name you by")
                            % {"claim": settings.OIDC_USERNAME_CLAIM}, code="oidc_no_username")
    max_length = User._meta.get_field(User.USERNAME_FIELD).max_length
    try:
        User.username_validator(username)
    except Exception:  # noqa: BLE001 - any validation error means the same thing here
        raise SignInRefused(_("the username %(username)r from the identity provider is not a valid console "
                              "username (letters, digits and @ . + - _)") % {"username": username},
                            code="oidc_bad_username") from None
    if len(username) > max_length:
        raise SignInRefused(_("the username from the identity provider is longer than %(max)d characters")
                            % {"max": max_length}, code="oidc_bad_username")
    return username


def _link_or_create_user(*, issuer: str, subject: str, claims: dict) -> OidcIdentity:
    User = get_user_model()
    username = _username(claims)
    user = User.objects.select_for_update().filter(username=username).first()
    if user is not None:
        if OidcIdentity.objects.filter(user=user).exists():
            raise SignInRefused(_("the console account %(username)r belongs to another identity at the "
                                  "provider") % {"username": username}, code="oidc_username_taken")
        if not settings.OIDC_LINK_EXISTING_USERS:
            raise SignInRefused(_("a local console account named %(username)r already exists; a platform "
                                  "admin can rename it, or set DSO_OIDC_LINK_EXISTING_USERS to link it")
                                % {"username": username}, code="oidc_username_taken")
    else:
        user = User(username=username)
        user.set_unusable_password()  # signs in through the provider only; API access by personal tokens
        user.save()
    identity = OidcIdentity.objects.create(user=user, issuer=issuer, subject=subject)
    audit_record(actor=Actor.system("oidc", user=user), action="oidc_identity.link", target=identity,
                 after={"issuer": issuer, "subject": subject, "user": username})
    return identity


def _update_profile(user, claims: dict) -> None:
    fields = {"email": claims.get("email"), "first_name": claims.get("given_name"),
              "last_name": claims.get("family_name")}
    changed = []
    for name, value in fields.items():
        if isinstance(value, str):
            value = value[: user._meta.get_field(name).max_length]
            if getattr(user, name) != value:
                setattr(user, name, value)
                changed.append(name)
    if changed:
        user.save(update_fields=changed)


def oidc_sign_in(*, issuer: str, claims: dict) -> object:
    """The console user for these verified claims (created at the first sign-in), brought up to date."""
    subject = claims.get("sub")
    if not isinstance(subject, str) or not subject:
        raise SignInRefused(_("the identity provider sent no subject (sub) claim"), code="oidc_no_subject")
    try:
        return _sign_in(issuer=issuer, subject=subject, claims=claims)
    except IntegrityError:
        # Two first sign-ins of one person at once (two tabs): the other one created the user; use it.
        return _sign_in(issuer=issuer, subject=subject, claims=claims)


def _sign_in(*, issuer: str, subject: str, claims: dict):
    with transaction.atomic():
        identity = (OidcIdentity.objects.select_for_update().select_related("user")
                    .filter(issuer=issuer, subject=subject).first())
        if identity is None:
            identity = _link_or_create_user(issuer=issuer, subject=subject, claims=claims)
        user = identity.user
        if not user.is_active:
            raise SignInRefused(_("your console account is disabled; ask a platform admin"),
                                code="oidc_user_disabled")
        _update_profile(user, claims)
        identity.groups = groups_from_claims(claims)
        identity.claims = {name: claims[name] for name in PROFILE_CLAIMS if isinstance(claims.get(name), str)}
        identity.last_login_at = timezone.now()
        identity.save(update_fields=["groups", "claims", "last_login_at"])
        oidc_roles_apply(identity=identity)
    return user


def _desired_memberships(groups: list[str]) -> dict[tuple[Organization, Project | None], str]:
    """The roles the groups give on organizations and (not archived) projects that exist: two queries."""
    roles = roles_from_groups(
        groups,
        organization_pattern=compile_pattern(settings.OIDC_ORGANIZATION_GROUP_PATTERN, project=False),
        project_pattern=compile_pattern(settings.OIDC_PROJECT_GROUP_PATTERN, project=True),
    )
    if not roles:
        return {}
    organizations = {o.slug: o for o in Organization.objects.filter(slug__in={org for org, _ in roles})}
    wanted_projects = [(org, project) for org, project in roles
                       if project is not None and org in organizations]
    projects: dict[tuple[str, str], Project] = {}
    if wanted_projects:
        query = Q()
        for org, project in wanted_projects:
            query |= Q(organization=organizations[org], slug=project)
        by_id = {organization.pk: organization for organization in organizations.values()}
        for project in Project.objects.filter(query).exclude(status=Project.Status.ARCHIVED):
            project.organization = by_id[project.organization_id]
            projects[(project.organization.slug, project.slug)] = project
    desired = {}
    for (org, project), role in roles.items():
        if project is None and org in organizations:
            desired[(organizations[org], None)] = role
        elif (org, project) in projects:
            desired[(organizations[org], projects[(org, project)])] = role
    return desired


def _admin_group_member(groups: list[str]) -> bool:
    admin = (settings.OIDC_ADMIN_GROUP or "").strip("/")
    return bool(admin) and any(group.strip("/") == admin for group in groups)


def oidc_roles_apply(*, identity: OidcIdentity) -> dict[str, list[str]]:
    """Bring the user's group-given roles and platform-admin flag in line with `identity.groups`."""
    user = identity.user
    actor = Actor.system("oidc groups", user=user)
    with transaction.atomic():
        changes = memberships_sync_from_groups(actor=actor, user=user,
                                               desired=_desired_memberships(identity.groups))
        admin = _admin_group_member(identity.groups)
        if admin and not user.is_staff:
            user.is_staff = user.is_superuser = True
            identity.staff_from_groups = True
            changes.setdefault("admin", []).append("granted")
        elif not admin and identity.staff_from_groups:
            user.is_staff = user.is_superuser = False
            identity.staff_from_groups = False
            changes.setdefault("admin", []).append("revoked")
        if "admin" in changes:
            user.save(update_fields=["is_staff", "is_superuser"])
            identity.save(update_fields=["staff_from_groups"])
            audit_record(actor=actor, action="user.platform_admin", target=user,
                         before={"is_staff": not admin}, after={"is_staff": admin})
    if any(changes.values()):
        log.info("roles of %s from groups: %s", user.username, changes)
    return changes


def oidc_resync_all() -> dict[str, int]:
    """Re-apply every OIDC user's stored groups (`manage.py oidc_resync`)."""
    counts = {"users": 0, "added": 0, "changed": 0, "removed": 0}
    for identity in OidcIdentity.objects.select_related("user").order_by("pk").iterator():
        changes = oidc_roles_apply(identity=identity)
        counts["users"] += 1
        for name in ("added", "changed", "removed"):
            counts[name] += len(changes.get(name, []))
    return counts
