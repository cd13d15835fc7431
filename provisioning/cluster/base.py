"""Plain values the cluster adapter takes and returns, and the errors it raises."""

from __future__ import annotations

from dataclasses import dataclass, field

from provisioning.errors import ProvisioningError


@dataclass(frozen=True)
class ClusterConfig:
    name: str
    api_url: str
    ca_bundle: str = ""
    token: str = ""
    argocd_namespace: str = "argocd"
    timeout_seconds: float = 10.0
    insecure_skip_tls_verify: bool = False

    def __repr__(self) -> str:  # the token never reaches a log line or a traceback
        return f"ClusterConfig(name={self.name!r}, api_url={self.api_url!r}, token={'***' if self.token else ''!r})"


@dataclass(frozen=True, order=True)
class ObjectRef:
    api_version: str
    kind: str
    namespace: str | None
    name: str

    @classmethod
    def of(cls, obj: dict) -> ObjectRef:
        meta = obj.get("metadata") or {}
        return cls(obj["apiVersion"], obj["kind"], meta.get("namespace") or None, meta["name"])

    def __str__(self) -> str:
        where = f"{self.namespace}/" if self.namespace else ""
        return f"{self.kind} {where}{self.name}"

    def as_dict(self) -> dict:
        return {"api_version": self.api_version, "kind": self.kind, "namespace": self.namespace, "name": self.name}


@dataclass(frozen=True)
class Permission:
    verb: str
    resource: str
    group: str = ""
    namespace: str | None = None

    def __str__(self) -> str:
        group = f".{self.group}" if self.group else ""
        where = f" in namespace {self.namespace}" if self.namespace else " (cluster-wide)"
        return f"{self.verb} {self.resource}{group}{where}"


@dataclass(frozen=True)
class ConnectionReport:
    reachable: bool
    server_version: str = ""
    api_groups: tuple[str, ...] = ()
    missing_permissions: tuple[Permission, ...] = ()
    missing_api_groups: tuple[str, ...] = ()
    error: str = ""
    error_code: str = ""

    @property
    def ok(self) -> bool:
        return self.reachable and not self.missing_permissions and not self.missing_api_groups

    def as_dict(self) -> dict:
        return {
            "ok": self.ok,
            "reachable": self.reachable,
            "server_version": self.server_version,
            "api_groups": list(self.api_groups),
            "missing_api_groups": list(self.missing_api_groups),
            "missing_permissions": [str(p) for p in self.missing_permissions],
            "error": self.error,
            "error_code": self.error_code,
        }


@dataclass
class ApplyResult:
    created: list[ObjectRef] = field(default_factory=list)
    configured: list[ObjectRef] = field(default_factory=list)
    unchanged: list[ObjectRef] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return bool(self.created or self.configured)

    def as_dict(self) -> dict:
        return {key: [str(ref) for ref in getattr(self, key)] for key in ("created", "configured", "unchanged")}


# --------------------------------------------------------------------------------------------- errors


class ClusterError(ProvisioningError):
    code = "cluster_error"


class ClusterUnreachable(ClusterError):
    """Connection refused, TLS or DNS trouble, timeouts: the cluster may answer later."""

    code = "cluster_unreachable"
    transient = True


class ClusterUnauthorized(ClusterError):
    """401: the token is wrong, expired or revoked."""

    code = "cluster_unauthorized"


class ClusterForbidden(ClusterError):
    code = "cluster_forbidden"

    def __init__(self, message: str, *, verb: str = "", resource: str = "", namespace: str | None = None,
                 group: str = ""):
        super().__init__(message)
        self.verb, self.resource, self.namespace, self.group = verb, resource, namespace, group


class ClusterInvalid(ClusterError):
    code = "cluster_invalid"

    def __init__(self, message: str, *, fields: tuple[str, ...] = ()):
        super().__init__(message)
        self.fields = fields


class ClusterConflict(ClusterError):
    code = "cluster_conflict"


class ClusterTransient(ClusterError):
    """5xx and 429: the API server is busy or failing; retry with backoff."""

    code = "cluster_transient"
    transient = True
