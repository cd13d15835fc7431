"""In `tampered` mode the token endpoint's ID token leaves signed, then has its claims rewritten (the user
made a platform admin): exactly what a client must refuse by checking the signature."""

from __future__ import annotations

import base64
import json

from tests.doubles.oidc.provider import state


def _b64decode(part: str) -> bytes:
    return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))


def _b64encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def tamper(id_token: str) -> str:
    header, payload, signature = id_token.split(".")
    claims = json.loads(_b64decode(payload))
    claims["groups"] = sorted(set(claims.get("groups", [])) | {"dso/admin"})
    return ".".join([header, _b64encode(json.dumps(claims).encode()), signature])


class TokenResponseMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if state.mode != "tampered" or not request.path.rstrip("/").endswith("/openid/token"):
            return response
        if response.status_code != 200:
            return response
        body = json.loads(response.content)
        if "id_token" in body:
            body["id_token"] = tamper(body["id_token"])
            response.content = json.dumps(body).encode()
            response["Content-Length"] = str(len(response.content))
        return response
