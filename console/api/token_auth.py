"""`Authorization: Token <secret>` with the console's hashed, expiring API tokens (console.models.tokens).

An unknown, expired or revoked token counts as a failed credential check for the caller's address
(console.throttle), and a throttled address is refused before its token is looked at.
"""

from __future__ import annotations

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import authentication, exceptions

from console.services.api_tokens import api_token_authenticate
from console.throttle import (
    credential_checks_blocked, record_credential_failure, refusal_message, retry_after_seconds,
)


class ApiTokenAuthentication(authentication.BaseAuthentication):
    keyword = "Token"

    def authenticate(self, request):
        parts = authentication.get_authorization_header(request).split()
        if not parts or parts[0].lower() != self.keyword.lower().encode():
            return None
        if len(parts) != 2:
            raise exceptions.AuthenticationFailed("use 'Authorization: Token <token>'")
        if credential_checks_blocked(request):
            raise exceptions.Throttled(wait=retry_after_seconds(), detail=refusal_message())
        try:
            secret = parts[1].decode()
        except UnicodeError:
            secret = ""
        token = api_token_authenticate(secret) if secret else None
        if token is None:
            record_credential_failure(request)
            raise exceptions.AuthenticationFailed("invalid, expired or revoked token", code="invalid_token")
        return token.user, token

    def authenticate_header(self, request) -> str:
        return self.keyword


class ApiTokenAuthenticationScheme(OpenApiAuthenticationExtension):
    target_class = "console.api.token_auth.ApiTokenAuthentication"
    name = "tokenAuth"

    def get_security_definition(self, auto_schema):
        return {"type": "apiKey", "in": "header", "name": "Authorization",
                "description": "`Token <token>`, from POST /api/v1/auth/token/"}
