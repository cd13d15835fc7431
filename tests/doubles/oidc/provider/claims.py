"""Claims the double puts in ID tokens and userinfo, like a Keycloak client with a group-membership mapper:
`preferred_username`, `name`, `email` and `groups` (the user's Django group names)."""

from __future__ import annotations

import time

from django.utils.translation import gettext_lazy as _
from oidc_provider.lib.claims import ScopeClaims

from tests.doubles.oidc.provider import state


class GroupsScopeClaims(ScopeClaims):
    """The `groups` scope: the user's groups in userinfo (and the ID token), as a Keycloak client scope."""

    info_groups = (_("Groups"), _("The groups you belong to."))

    def scope_groups(self):
        return {"groups": sorted(self.user.groups.values_list("name", flat=True))}


def userinfo(claims, user):
    claims["name"] = user.get_full_name() or user.username
    claims["given_name"] = user.first_name
    claims["family_name"] = user.last_name
    claims["preferred_username"] = user.username
    claims["email"] = user.email
    claims["email_verified"] = bool(user.email)
    return claims


def idtoken_hook(id_token, user, token, request, **kwargs):
    id_token["preferred_username"] = user.username
    id_token["groups"] = sorted(user.groups.values_list("name", flat=True))
    if state.mode == "userinfo_groups":
        del id_token["groups"]  # a provider that sends groups only from its userinfo endpoint
    if state.mode == "expired":
        now = int(time.time())
        id_token["iat"] = now - 1200
        id_token["exp"] = now - 600
    elif state.mode == "wrong_audience":
        id_token["aud"] = "another-client"
    return id_token
