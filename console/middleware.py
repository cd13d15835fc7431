"""Response headers every page gets, and the 429 for sign-in forms of a throttled address."""

from __future__ import annotations

from django.conf import settings
from django.http import HttpResponse, JsonResponse
from django.urls import reverse

from console.throttle import credential_checks_blocked, refusal_message, retry_after_seconds


class ContentSecurityPolicyMiddleware:
    """Django 5.2 has no CSP of its own. The portal ships no inline script or style (portal.js/css only),
    so the policy needs neither nonces nor 'unsafe-inline'."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        policy = settings.CONTENT_SECURITY_POLICY
        if policy and "Content-Security-Policy" not in response:
            response["Content-Security-Policy"] = policy
        return response


class CredentialThrottleMiddleware:
    """Answer 429 to a sign-in POST from a throttled address before any password is looked at. The backend
    (console.throttle) refuses such checks anyway; this only makes the refusal honest instead of a 'wrong
    password'."""

    def __init__(self, get_response):
        self.get_response = get_response
        self._paths: dict[str, bool] | None = None

    def _sign_in_paths(self) -> dict[str, bool]:
        if self._paths is None:
            self._paths = {reverse("login"): False, reverse("admin:login"): False, reverse("api:auth-token"): True}
        return self._paths

    def __call__(self, request):
        if request.method == "POST":
            is_api = self._sign_in_paths().get(request.path_info)
            if is_api is not None and credential_checks_blocked(request):
                message = refusal_message()
                if is_api:
                    response = JsonResponse({"detail": message, "code": "throttled"}, status=429)
                else:
                    response = HttpResponse(message, status=429, content_type="text/plain; charset=utf-8")
                response["Retry-After"] = str(retry_after_seconds())
                return response
        return self.get_response(request)
