"""First in the middleware stack: probes, metrics, the request id and request timing.

``/healthz``, ``/readyz`` and ``/metrics`` are answered here, before host validation and the HTTPS redirect:
the kubelet and Prometheus call a pod by its IP over plain HTTP, which ``ALLOWED_HOSTS`` and
``SECURE_SSL_REDIRECT`` would otherwise refuse or redirect. They touch no session or user.

Every other request gets an id (the caller's ``X-Request-ID`` when it looks like one, else a new one),
echoed in the response so gunicorn's access line and the client can quote it, and timed by view.
"""

from __future__ import annotations

import re
import time
import uuid

from django.conf import settings
from django.http import HttpResponse, JsonResponse

from console.ops import metrics
from console.ops.logs import open_scope

# A caller's id is kept only when it cannot smuggle anything into a log line.
_REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,100}")
PROBE_HEADERS = {"Cache-Control": "no-store"}


def _request_id(request) -> str:
    offered = request.META.get("HTTP_X_REQUEST_ID", "")
    return offered if _REQUEST_ID.fullmatch(offered) else uuid.uuid4().hex


def healthz() -> JsonResponse:
    return JsonResponse({"status": "ok"}, headers=PROBE_HEADERS)


def readyz() -> JsonResponse:
    from console.ops.health import readiness

    ready, body = readiness()
    response = JsonResponse(body, status=200 if ready else 503, headers=PROBE_HEADERS)
    # Django would log every failing probe (every few seconds while a dependency is down) as an ERROR with
    # no more than the status; the access line and the body already say which dependency.
    response._has_been_logged = True
    return response


def metrics_response(request) -> HttpResponse:
    token = settings.METRICS_TOKEN
    if not token:
        return JsonResponse({"detail": "metrics are off: set DSO_METRICS_TOKEN", "code": "metrics_disabled"},
                            status=404)
    if not metrics.token_accepted(request.META.get("HTTP_AUTHORIZATION"), token):
        return JsonResponse({"detail": "metrics need Authorization: Bearer <DSO_METRICS_TOKEN>",
                             "code": "not_authenticated"}, status=401, headers={"WWW-Authenticate": "Bearer"})
    return HttpResponse(metrics.exposition(with_state=True), content_type=metrics.CONTENT_TYPE_LATEST,
                        headers=PROBE_HEADERS)


class OpsMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        path = request.path_info
        if path == "/healthz":
            return healthz()
        if path == "/readyz":
            return readyz()
        if path == "/metrics":
            return metrics_response(request)
        request_id = _request_id(request)
        request.request_id = request_id
        started = time.perf_counter()
        close_scope = open_scope(request_id=request_id)
        try:
            response = self.get_response(request)
        except BaseException:
            close_scope()
            raise
        # Closed with the response: Django logs a 4xx/5xx response once this middleware has returned it.
        response._resource_closers.append(close_scope)
        match = getattr(request, "resolver_match", None)
        if match is not None:
            view = match.view_name or match._func_path
        else:  # answered before URL resolution (WhiteNoise) or by no route at all
            view = "static" if path.startswith("/" + settings.STATIC_URL.lstrip("/")) else "unresolved"
        metrics.observe_request(view=view, method=request.method, status=response.status_code,
                                seconds=time.perf_counter() - started)
        response["X-Request-ID"] = request_id
        return response
