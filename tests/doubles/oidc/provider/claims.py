"""Claims the double puts in ID tokens and userinfo, like a Keycloak client with a group-membership mapper:
`preferred_username`, `name`, `email` and `groups` (the user's Django group names)."""

from __future__ import annotations

import time

from tests.doubles.oidc.provider import state


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
    if state.mode == "expired":
        now = int(time.time())
        id_token["iat"] = now - 1200
        id_token["exp"] = now - 600
    elif state.mode == "wrong_audience":
        id_token["aud"] = "another-client"
    return id_token
