"""Someone who opens the console in several tabs at once signs in several times at once: one user, one
identity, one set of group roles."""

from __future__ import annotations

import pytest

from console.models import Membership, OidcIdentity
from console.services.oidc import oidc_sign_in
from tests.factories import make_organization
from tests.support.concurrency import run_concurrently, skip_on_sqlite


@pytest.mark.django_db(transaction=True)
def test_simultaneous_first_sign_ins_make_one_user():
    skip_on_sqlite()
    make_organization("acme")
    claims = {"sub": "tabs-1", "preferred_username": "vera", "groups": ["dso/acme/developer"]}
    users = run_concurrently(lambda _: oidc_sign_in(issuer="https://sso.example.com", claims=claims), 4)
    assert len({user.pk for user in users}) == 1
    assert OidcIdentity.objects.count() == 1
    assert list(Membership.objects.values_list("user__username", "role", "source")) == [
        ("vera", "developer", "oidc")]
