"""The one answer to "may this actor do this action on this object?".

Every interface builds an Actor (console.services.actors) and every service calls `authorize` with an action
named in ACTIONS: a portal click, a REST call, an admin action, a pipeline, a webhook and the console's own
follow-up work all pass through here, so what a role or a CI scope allows is written once.

  * a user: staff may do everything; anyone else needs the action's role on the project (directly or through
    its organization) or on the organization;
  * a CI grant (CI token or GitLab id_token) or a verified webhook: only actions that name a CI scope, and only
    on a repository the grant covers; the grant itself says why not (missing scope, other repository, ...);
  * the console itself (Actor.system()): work a service does because an authorized request or a run asked
    for it (the sync after a pushed bump), so it is allowed;
  * and whoever asks, a write (a Rule with `write=True`) on a locked project or one of its repositories is
    refused with 409 `project_locked` once the role is checked (so that only those who may write learn of the
    lock); reads, and the lock and unlock themselves, pass.

tests/reliability/test_authz_matrix.py generates its cases from this table, over real HTTP.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from console.models import Organization, Project, Repository, Role
from console.models.organizations import ROLE_RANK
from console.permissions import ADMINISTER, MANAGE, SYNC, VIEW, has_organization_role, has_project_role
from console.services.errors import PermissionDenied, ProjectLocked

PROJECT, ORGANIZATION, PLATFORM = "project", "organization", "platform"


@dataclass(frozen=True)
class Rule:
    role: str | None  # the weakest role allowed (None with PLATFORM: staff only)
    doing: Any  # for the refusal: "<doing> needs the <role> role" (a lazily translated phrase)
    level: str = PROJECT  # where the role is held
    ci_scope: str | None = None  # the scope a CI grant needs; None: no pipeline may
    write: bool = True  # refused while the project is locked


ACTIONS: dict[str, Rule] = {
    "organization.edit": Rule(ADMINISTER, gettext_lazy("renaming an organization"), ORGANIZATION),
    "organization.members": Rule(ADMINISTER, gettext_lazy("managing the organization's members"), ORGANIZATION),
    # Quota limits bound what every project of the organization may ask for: the platform's to set.
    "organization.quota_limits": Rule(None, gettext_lazy("setting the organization's quota limits"), PLATFORM),
    "project.create": Rule(MANAGE, gettext_lazy("creating a project"), ORGANIZATION),
    "project.view": Rule(VIEW, gettext_lazy("seeing the project"), write=False),
    "project.edit": Rule(MANAGE, gettext_lazy("editing a project")),
    "project.provision": Rule(MANAGE, gettext_lazy("re-provisioning")),
    # Reads what runs into the console's own records, changes nothing outside: open during an incident's lock.
    "project.refresh": Rule(SYNC, gettext_lazy("refreshing what runs (read-back)"), write=False),
    "project.archive": Rule(ADMINISTER, gettext_lazy("archiving a project")),
    "project.members": Rule(ADMINISTER, gettext_lazy("managing members")),
    "project.argocd_credentials": Rule(None, gettext_lazy("reading Argo CD credentials"), PLATFORM, write=False),
    "project.lock": Rule(None, gettext_lazy("locking or unlocking a project"), PLATFORM, write=False),
    "platform.operations": Rule(None, gettext_lazy("seeing the operations view and acting on many projects"),
                                PLATFORM),
    "project.move_cluster": Rule(None, gettext_lazy("moving a project to another cluster"), PLATFORM),
    "cluster.manage": Rule(None, gettext_lazy("registering, editing, testing or removing clusters"), PLATFORM),
    "repository.register": Rule(MANAGE, gettext_lazy("registering a repository")),
    "repository.view": Rule(VIEW, gettext_lazy("seeing the repository"), write=False),
    "repository.manage": Rule(MANAGE, gettext_lazy("editing or removing a repository")),
    "repository.ci_manage": Rule(MANAGE, gettext_lazy("managing CI tokens, CI settings and the webhook secret")),
    "repository.sync": Rule(SYNC, gettext_lazy("requesting a sync"), ci_scope="sync"),
    "repository.bump": Rule(SYNC, gettext_lazy("bumping an image tag"), ci_scope="bump"),
    "repository.report_build": Rule(SYNC, gettext_lazy("reporting a built image"), ci_scope="report_build"),
    # No CI scope: a pin holds against pipelines, so no pipeline may set or lift one.
    "repository.pin": Rule(SYNC, gettext_lazy("pinning an image or rolling it back")),
    "registry.manage": Rule(MANAGE, gettext_lazy("managing the project's container registries and tag policies")),
    "platform.image_inventory": Rule(None, gettext_lazy("reading the platform-wide image inventory"), PLATFORM,
                                     write=False),
}


class SystemGrant:
    """The console acting on its own (a follow-up of work already authorized); see Actor.system()."""

    def __repr__(self) -> str:
        return "SYSTEM"


SYSTEM = SystemGrant()


def _project_of(obj: Any) -> Project | None:
    if isinstance(obj, Project):
        return obj
    if isinstance(obj, Repository):
        return obj.project
    return getattr(obj, "project", None)


def _organization_of(obj: Any) -> Organization | None:
    if isinstance(obj, Organization):
        return obj
    project = _project_of(obj)
    return project.organization if project is not None else getattr(obj, "organization", None)


def _roles_from(needed: str) -> str:
    """"maintainer or owner": the role and every stronger one, as a person would say it."""
    roles = [str(role.label).lower() for role in Role if ROLE_RANK[role] >= ROLE_RANK[needed]]
    if len(roles) == 1:
        return roles[0]
    return _("%(roles)s or %(last)s") % {"roles": ", ".join(roles[:-1]), "last": roles[-1]}


def authorize(actor, action: str, obj: Any, *, doing: str | None = None, reading: bool = False) -> None:
    """Return if `actor` may do `action` on `obj` (an organization, project or repository); raise
    PermissionDenied with a message a person can act on otherwise (`doing` words it for the caller's step), or
    ProjectLocked for a write on a locked project. `reading`: the caller only shows what the action's role
    may see (a list behind a maintainer's role), which a lock leaves open."""
    rule = ACTIONS[action]  # an unknown action is a programming error, not a refusal
    if doing:
        rule = Rule(rule.role, doing, rule.level, rule.ci_scope, rule.write)
    _authorize_role(actor, rule, obj)
    if rule.write and not reading:
        project = _project_of(obj)
        if project is not None and project.locked_at is not None:
            raise project_locked_error(project)


def project_locked_error(project: Project) -> ProjectLocked:
    """The 409 every interface shows: who locked the project, since when, and why."""
    who = project.locked_by.get_username() if project.locked_by_id and project.locked_by else _("a platform admin")
    return ProjectLocked(_("project %(project)s is locked by %(who)s since %(when)s: %(reason)s") % {
        "project": project.full_slug, "who": who,
        "when": project.locked_at.isoformat(timespec="seconds"), "reason": project.lock_reason})


def _authorize_role(actor, rule: Rule, obj: Any) -> None:
    grant = getattr(actor, "grant", None)
    if grant is SYSTEM:
        return
    if grant is not None:
        if rule.ci_scope is None or not isinstance(obj, Repository):
            raise PermissionDenied(_("%(doing)s is not open to %(interface)s credentials") % {
                "doing": rule.doing, "interface": actor.interface}, code="ci_not_allowed")
        grant.authorize(scope=rule.ci_scope, repository=obj)  # raises its own, precise refusal
        return
    user = actor.user
    if user is not None and user.is_authenticated and user.is_staff:
        return
    if rule.level == PLATFORM:
        raise PermissionDenied(_("only platform admins may do this: %(doing)s") % {"doing": rule.doing})
    if rule.level == ORGANIZATION:
        organization = _organization_of(obj)
        if organization is not None and has_organization_role(user, organization, rule.role):
            return
        raise PermissionDenied(_("%(doing)s needs the %(roles)s role in the organization") % {
            "doing": rule.doing, "roles": _roles_from(rule.role)})
    project = _project_of(obj)
    if project is not None and has_project_role(user, project, rule.role):
        return
    raise PermissionDenied(_("%(doing)s needs the %(roles)s role on the project") % {
        "doing": rule.doing, "roles": _roles_from(rule.role)})


def allows(actor, action: str, obj: Any) -> bool:
    """Whether `authorize` would let it through (for showing or hiding a button)."""
    try:
        authorize(actor, action, obj)
    except (PermissionDenied, ProjectLocked):
        return False
    return True
