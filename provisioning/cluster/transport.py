"""HTTP to one API server through the official client's ApiClient, and the translation of its failures.

Every call carries the configured timeout; urllib3's own retries are off so that the one retry policy
(backoff on 5xx, 429 and timeouts) lives here and is counted. Errors leave this module as the classes
of base.py, with messages that say what to grant or fix.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from typing import Any

import urllib3
from kubernetes.client import ApiClient, Configuration
from kubernetes.client.exceptions import ApiException

from provisioning.cluster.base import (
    ClusterConfig,
    ClusterConflict,
    ClusterError,
    ClusterForbidden,
    ClusterInvalid,
    ClusterTransient,
    ClusterUnauthorized,
    ClusterUnreachable,
)
from provisioning.errors import NotFound

log = logging.getLogger(__name__)

_MAX_BACKOFF = 5.0


class Transport:
    def __init__(self, config: ClusterConfig, *, retries: int = 3, backoff_seconds: float = 0.5,
                 sleep: Callable[[float], None] = time.sleep):
        self.config = config
        self.retries = retries
        self.backoff_seconds = backoff_seconds
        self.sleep = sleep
        self.attempts = 0  # every HTTP attempt, retries included (benchmarks and tests read it)
        configuration = Configuration(host=config.api_url.rstrip("/"), retries=False)
        if config.token:
            configuration.api_key = {"BearerToken": config.token}
            configuration.api_key_prefix = {"BearerToken": "Bearer"}
        if config.ca_bundle:
            configuration.ca_cert_data = config.ca_bundle
        configuration.verify_ssl = not config.insecure_skip_tls_verify
        self._client = ApiClient(configuration)

    def close(self) -> None:
        self._client.close()

    def request(self, method: str, path: str, *, query: list[tuple[str, Any]] | None = None, body: Any = None,
                content_type: str = "application/json", action: tuple[str, str, str, str | None] = ("", "", "", None),
                ) -> dict | None:
        """The decoded JSON answer; None for 404 on GET/DELETE. ``action`` is (verb, resource, group,
        namespace), used to word a refusal."""
        attempt = 0
        while True:
            try:
                return self._once(method, path, query=query, body=body, content_type=content_type, action=action)
            except (ClusterTransient, ClusterUnreachable) as error:
                if attempt >= self.retries:
                    raise
                delay = min(_MAX_BACKOFF, self.backoff_seconds * (2 ** attempt))
                retry_after = getattr(error, "retry_after", None)
                if retry_after is not None:
                    delay = min(_MAX_BACKOFF, max(delay, retry_after))
                log.info("cluster %s: %s %s failed (%s); retrying in %.1fs", self.config.name, method, path,
                         error.code, delay)
                attempt += 1
                self.sleep(delay)

    def _once(self, method, path, *, query, body, content_type, action) -> dict | None:
        self.attempts += 1
        headers = {"Accept": "application/json", "Content-Type": content_type}
        try:
            prepared = self._client.param_serialize(
                method, path, query_params=query or [], header_params=headers, body=body,
                auth_settings=["BearerToken"],
            )
            response = self._client.call_api(*prepared, _request_timeout=self.config.timeout_seconds)
            data = response.read()
        except (urllib3.exceptions.TimeoutError, urllib3.exceptions.MaxRetryError,
                urllib3.exceptions.ProtocolError, urllib3.exceptions.NewConnectionError, OSError) as error:
            raise ClusterUnreachable(self._unreachable_message(error)) from None
        except ApiException as error:  # TLS trouble (status 0)
            raise ClusterUnreachable(f"cannot reach the API server of cluster {self.config.name} at "
                                     f"{self.config.api_url}: {error.reason}") from None
        if 200 <= response.status < 300:
            return json.loads(data) if data else {}
        status = self._decode(data)
        if response.status == 404 and method in ("GET", "DELETE"):
            return None
        raise self._translate(response.status, status, response.headers, method, action)

    def _unreachable_message(self, error: Exception) -> str:
        reason = getattr(error, "reason", None) or error
        text = str(reason)
        if isinstance(error, urllib3.exceptions.TimeoutError) or "timed out" in text.lower():
            return (f"the API server of cluster {self.config.name} did not answer within "
                    f"{self.config.timeout_seconds:g}s ({self.config.api_url})")
        return f"cannot reach the API server of cluster {self.config.name} at {self.config.api_url}: {text}"

    @staticmethod
    def _decode(data: bytes) -> dict:
        try:
            decoded = json.loads(data) if data else {}
        except ValueError:
            return {"message": data[:300].decode("utf-8", "replace")}
        return decoded if isinstance(decoded, dict) else {}

    def _translate(self, code: int, status: dict, headers, method: str, action) -> ClusterError:
        verb, resource, group, namespace = action
        message = status.get("message") or status.get("reason") or f"HTTP {code}"
        details = status.get("details") or {}
        cluster = self.config.name
        if code == 401:
            return ClusterUnauthorized(f"cluster {cluster} refused the console's token (401 Unauthorized): "
                                       "it is wrong, expired or revoked; register a new service-account token")
        if code == 403:
            scope = f'in namespace "{namespace}"' if namespace else "cluster-wide"
            api_group = f' of API group "{group}"' if group else ""
            return ClusterForbidden(
                f'the token of cluster {cluster} may not {verb or method.lower()} "{resource}"{api_group} {scope}: '
                f"grant it in the console service account's (Cluster)Role. The API server said: {message}",
                verb=verb, resource=resource, namespace=namespace, group=group,
            )
        if code == 422 or (code == 400 and details.get("causes")):
            causes = details.get("causes") or []
            fields = tuple(c.get("field", "") for c in causes if c.get("field"))
            named = "; ".join(f"{c.get('field') or '?'}: {c.get('message', '')}" for c in causes) or message
            what = f'{details.get("kind", resource)} "{details.get("name", "")}"'.strip()
            return ClusterInvalid(f"cluster {cluster} refused {what} as invalid: {named}", fields=fields)
        if code == 409:
            return ClusterConflict(f"cluster {cluster}: {message}")
        if code == 429 or code >= 500:
            error = ClusterTransient(f"cluster {cluster} answered {code} ({status.get('reason') or 'error'}): "
                                     f"{message}")
            retry_after = (headers or {}).get("Retry-After")
            try:
                error.retry_after = float(retry_after) if retry_after else None
            except ValueError:
                error.retry_after = None
            return error
        if code == 404:
            return NotFound(f"cluster {cluster}: {message}")
        return ClusterError(f"cluster {cluster} answered {code}: {message}")
