"""`Authorization: Bearer <CI token | GitLab id_token>` for the pipeline endpoints, and nothing else.

The principal is not a user: it is not staff, not authenticated as far as IsAuthenticated is concerned
(so every ordinary endpoint answers 403), and the only permission that accepts it is `HasCiGrant`, which
only the sync action, the image-tag bump and the built-image report list. What the caller proved travels in
`request.auth` as a CiGrant; each of those endpoints asks it for its own scope (sync, bump, report_build).
"""

from __future__ import annotations

from django.contrib.auth.models import AnonymousUser
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import authentication, exceptions, permissions

from console.services.ci_identity import CiAuthenticationFailed, ci_identity_verify, looks_like_jwt
from console.services.ci_tokens import SECRET_PREFIX, CiGrant, ci_token_authenticate, ci_token_refusal


class CiPrincipal(AnonymousUser):
    """A pipeline: never staff, never a member, never `is_authenticated` for user-facing checks."""

    def __init__(self, label: str):
        super().__init__()
        self.label = label

    def __str__(self) -> str:
        return self.label

    def get_username(self) -> str:
        return self.label


class CiAuthentication(authentication.BaseAuthentication):
    keyword = "Bearer"

    def authenticate(self, request):
        parts = authentication.get_authorization_header(request).split()
        if not parts or parts[0].lower() != self.keyword.lower().encode():
            return None
        if len(parts) != 2:
            raise exceptions.AuthenticationFailed("use 'Authorization: Bearer <CI token or GitLab id_token>'")
        try:
            credential = parts[1].decode()
        except UnicodeError as exc:
            raise exceptions.AuthenticationFailed("the bearer token is not valid text") from exc
        if credential.startswith(SECRET_PREFIX):
            token = ci_token_authenticate(credential)
            if token is None:
                raise exceptions.AuthenticationFailed(ci_token_refusal(credential), code="ci_token_refused")
            grant = CiGrant.for_token(token)
        elif looks_like_jwt(credential):
            try:
                grant = CiGrant.for_identity(ci_identity_verify(credential))
            except CiAuthenticationFailed as error:
                raise exceptions.AuthenticationFailed(error.message, code=error.code) from error
        else:
            raise exceptions.AuthenticationFailed(
                "the bearer token is neither a CI token nor a GitLab id_token"
            )
        return CiPrincipal(grant.label), grant

    def authenticate_header(self, request) -> str:
        return f'{self.keyword} realm="api"'


class HasCiGrant(permissions.BasePermission):
    def has_permission(self, request, view) -> bool:
        return isinstance(request.auth, CiGrant)


class CiAuthenticationScheme(OpenApiAuthenticationExtension):
    target_class = "console.api.ci_auth.CiAuthentication"
    name = "ciBearer"

    def get_security_definition(self, auto_schema):
        return {"type": "http", "scheme": "bearer",
                "description": "a CI token (dsoci_...) or a GitLab CI id_token; accepted only by the sync "
                               "(scope sync), image-tag bump (bump) and built-image (report_build) endpoints"}
