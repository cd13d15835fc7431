"""`manage.py oidc_resync` re-applies stored groups: after a pattern change, or once the organization or
project a group names exists; console-given roles stay; an organization keeps its last owner."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import call_command

from console.models import Membership, OidcIdentity, Role
from console.services.oidc import oidc_sign_in
from tests.factories import make_organization, make_project, make_user

pytestmark = pytest.mark.django_db
ISSUER = "https://sso.example.com/realms/dso"


def _sign_in(sub: str, username: str, groups: list[str]):
    return oidc_sign_in(issuer=ISSUER, claims={"sub": sub, "preferred_username": username, "groups": groups})


def _roles(user) -> set[tuple]:
    return {(m.organization.slug, m.project.slug if m.project else None, m.role, m.source)
            for m in Membership.objects.filter(user=user).select_related("organization", "project")}


def test_resync_applies_groups_naming_what_now_exists_and_a_new_pattern(settings):
    user = _sign_in("s-1", "jane", ["dso/acme/developer", "teams/acme/shop/owner"])
    assert _roles(user) == set()  # acme did not exist yet
    acme = make_organization("acme")
    make_project(acme, "shop")
    settings.OIDC_PROJECT_GROUP_PATTERN = "teams/{organization}/{project}/{role}"
    out = StringIO()
    call_command("oidc_resync", stdout=out)
    assert "Resynced 1 OIDC users: 2 roles added, 0 changed, 0 removed." in out.getvalue()
    assert _roles(user) == {("acme", None, Role.DEVELOPER, "oidc"), ("acme", "shop", Role.OWNER, "oidc")}

    settings.OIDC_ORGANIZATION_GROUP_PATTERN = "other/{organization}/{role}"
    call_command("oidc_resync", stdout=StringIO())
    assert _roles(user) == {("acme", "shop", Role.OWNER, "oidc")}


def test_console_roles_stay_and_a_console_change_takes_a_group_role_over():
    from console.services.actors import Actor
    from console.services.memberships import membership_set

    acme = make_organization("acme")
    user = _sign_in("s-2", "kim", ["dso/acme/owner"])
    admin = make_user("root", staff=True)
    Membership.objects.create(user=admin, organization=acme, role=Role.OWNER)
    membership_set(actor=Actor.for_user(admin, "portal"), username="kim", role=Role.READER, organization=acme)
    assert _roles(user) == {("acme", None, Role.READER, "console")}
    _sign_in("s-2", "kim", [])
    assert _roles(user) == {("acme", None, Role.READER, "console")}
    _sign_in("s-2", "kim", ["dso/acme/owner"])  # console-given wins over a group
    assert _roles(user) == {("acme", None, Role.READER, "console")}


def test_a_group_never_removes_an_organizations_last_owner():
    make_organization("acme")
    user = _sign_in("s-3", "lee", ["dso/acme/owner"])
    _sign_in("s-3", "lee", ["dso/acme/reader"])
    assert _roles(user) == {("acme", None, Role.OWNER, "oidc")}
    other = make_user("second")
    Membership.objects.create(user=other, organization_id=OidcIdentity.objects.get().user.memberships.get()
                              .organization_id, role=Role.OWNER)
    _sign_in("s-3", "lee", [])
    assert _roles(user) == set()


def test_groups_of_archived_projects_give_nothing():
    from console.models import Project

    make_project(make_organization("acme"), "old", status=Project.Status.ARCHIVED)
    user = _sign_in("s-4", "max", ["dso/acme/old/owner"])
    assert _roles(user) == set()


def test_sign_in_queries_stay_constant_with_many_groups(django_assert_max_num_queries):
    acme = make_organization("acme")
    for index in range(10):
        make_project(acme, f"p{index}")
    _sign_in("s-5", "ned", [])
    groups = [f"dso/acme/p{index}/developer" for index in range(10)] + ["dso/acme/reader"]
    # Each new membership is a row and an audit event; everything else is a constant number of queries.
    with django_assert_max_num_queries(12 + 2 * 11):
        _sign_in("s-5", "ned", groups)
