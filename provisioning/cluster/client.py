"""``KubeCluster``: connection report, server-side apply in dependency order, list, delete and prune.

Apply reads each object first and writes only when the live object differs from the desired one in a
field the console sets, or still holds a field the console set earlier and no longer renders; a
re-apply with nothing changed is reads only. It refuses to touch a same-named object the console does
not own (no ``app.kubernetes.io/managed-by: dso-console`` label), and forces a field conflict only on an
object it owns (someone edited the console's object by hand: the console's intent wins).
"""

from __future__ import annotations

import copy
import logging
import re
from collections.abc import Callable, Iterable

from kubernetes.utils.quantity import parse_quantity

from provisioning.cluster.base import (
    ApplyResult,
    ClusterConfig,
    ClusterConflict,
    ClusterError,
    ConnectionReport,
    ObjectRef,
    Permission,
)
from provisioning.cluster.transport import Transport

log = logging.getLogger(__name__)

FIELD_MANAGER = "dso-console"
MANAGED_BY_LABEL = "app.kubernetes.io/managed-by"
MANAGED_BY_VALUE = "dso-console"
ARGOCD_GROUP = "argoproj.io"
APPLY_CONTENT_TYPE = "application/apply-patch+yaml"

# What the console does on a cluster; the connection report checks each with a SelfSubjectAccessReview.
NEEDED_PERMISSIONS: tuple[tuple[str, str, str, bool], ...] = tuple(
    (verb, resource, group, in_argocd)
    for resource, group, in_argocd in (
        ("namespaces", "", False),
        ("resourcequotas", "", False),
        ("limitranges", "", False),
        ("networkpolicies", "networking.k8s.io", False),
        ("appprojects", ARGOCD_GROUP, True),
        ("applications", ARGOCD_GROUP, True),
    )
    for verb in ("get", "list", "create", "patch", "delete")
)
NEEDED_API_GROUPS = ("networking.k8s.io", ARGOCD_GROUP)


def _order(ref: ObjectRef, argocd_namespace: str) -> tuple:
    """Namespaces first, other cluster-scoped objects, then the project's namespaced objects, then the
    AppProject and last the Applications that reference it."""
    group = ref.api_version.rpartition("/")[0]
    if ref.kind == "Namespace" and group == "":
        rank = 0
    elif ref.namespace is None:
        rank = 1
    elif group == ARGOCD_GROUP and ref.kind == "AppProject":
        rank = 3
    elif group == ARGOCD_GROUP and ref.kind == "Application":
        rank = 4
    elif ref.namespace == argocd_namespace:
        rank = 2.5
    else:
        rank = 2
    return (rank, ref.namespace or "", ref.kind, ref.name)


def _paths(obj, prefix: tuple = ()) -> Iterable[tuple]:
    if isinstance(obj, dict) and (obj or not prefix):
        for key, value in obj.items():
            yield from _paths(value, (*prefix, key))
    else:
        yield prefix


def _get(obj, path: tuple, default=None):
    for key in path:
        if not isinstance(obj, dict) or key not in obj:
            return default
        obj = obj[key]
    return obj


def _owned_paths(live: dict, manager: str) -> set[tuple]:
    """Leaf paths ``manager`` applied last time, from managedFields (FieldsV1). A list entry (``k:``/``v:``/
    ``i:``) ends the path at the list itself: the console always sends whole lists."""

    def walk(tree: dict, prefix: tuple) -> set[tuple]:
        children = {k[2:]: v for k, v in (tree or {}).items() if k.startswith("f:")}
        if not children:
            return {prefix} if prefix else set()
        out: set[tuple] = set()
        for key, sub in children.items():
            out |= walk(sub, (*prefix, key))
        return out

    owned: set[tuple] = set()
    for entry in (live.get("metadata") or {}).get("managedFields") or []:
        if entry.get("manager") == manager and entry.get("operation") == "Apply":
            owned |= walk(entry.get("fieldsV1") or {}, ())
    return owned


_QUANTITY = re.compile(r"^[+-]?[0-9]+(\.[0-9]+)?(m|k|M|G|T|P|E|Ki|Mi|Gi|Ti|Pi|Ei|e[0-9]+)?$")


def _same(desired, live) -> bool:
    """Whether ``live`` already says what ``desired`` says. The API server rewrites quantities to their
    canonical form ("1.5" -> "1500m") and defaults fields inside list items (a port's protocol), so
    quantities compare by value and a dict in a list by the keys the console sets."""
    if isinstance(desired, dict):
        return isinstance(live, dict) and all(k in live and _same(v, live[k]) for k, v in desired.items())
    if isinstance(desired, list):
        return isinstance(live, list) and len(desired) == len(live) and all(map(_same, desired, live))
    if desired == live:
        return True
    if isinstance(desired, str) and isinstance(live, str) and _QUANTITY.match(desired) and _QUANTITY.match(live):
        try:
            return parse_quantity(desired) == parse_quantity(live)
        except ValueError:
            return False
    return False


def differs(desired: dict, live: dict, *, manager: str = FIELD_MANAGER) -> list[str]:
    """Field paths where applying ``desired`` would change ``live``: a value the console sets that is not
    there, or a field the console applied before and no longer renders. Server-populated fields
    (status, uid, defaults...) do not count."""
    changes = []
    wanted = set()
    for path in _paths(desired):
        wanted.add(path)
        marker = object()
        value = _get(live, path, marker)
        if value is marker or not _same(_get(desired, path), value):
            changes.append(".".join(path))
    for path in _owned_paths(live, manager):
        if not any(path[: len(w)] == w or w[: len(path)] == path for w in wanted):
            if _get(live, path, None) is not None:
                changes.append(".".join(path) + " (no longer rendered)")
    return changes


class KubeCluster:
    def __init__(self, config: ClusterConfig, *, retries: int = 3, backoff_seconds: float = 0.5,
                 sleep: Callable[[float], None] | None = None):
        self.config = config
        kwargs = {"retries": retries, "backoff_seconds": backoff_seconds}
        if sleep is not None:
            kwargs["sleep"] = sleep
        self.transport = Transport(config, **kwargs)
        self._resources: dict[tuple[str, str], tuple[str, bool]] = {}
        self._group_versions: dict[str, dict[str, tuple[str, bool]]] = {}

    def close(self) -> None:
        self.transport.close()

    # ------------------------------------------------------------------------------ discovery

    def _resource(self, api_version: str, kind: str) -> tuple[str, bool]:
        """(plural, namespaced) for a kind, from the API server's discovery, once per group-version."""
        if (api_version, kind) in self._resources:
            return self._resources[(api_version, kind)]
        if api_version not in self._group_versions:
            path = f"/api/{api_version}" if "/" not in api_version else f"/apis/{api_version}"
            listing = self.transport.request("GET", path, action=("get", api_version, "", None)) or {}
            self._group_versions[api_version] = {
                r["kind"]: (r["name"], bool(r.get("namespaced")))
                for r in listing.get("resources", []) if "/" not in r.get("name", "")
            }
        found = self._group_versions[api_version].get(kind)
        if found is None:
            raise ClusterError(f"cluster {self.config.name} does not serve {kind} ({api_version}): "
                               "is the CRD installed (Argo CD for AppProject/Application)?",
                               code="cluster_kind_unknown")
        self._resources[(api_version, kind)] = found
        return found

    def _path(self, api_version: str, kind: str, namespace: str | None, name: str | None = None) -> str:
        plural, namespaced = self._resource(api_version, kind)
        base = f"/api/{api_version}" if "/" not in api_version else f"/apis/{api_version}"
        if namespaced and namespace:
            base += f"/namespaces/{namespace}"
        base += f"/{plural}"
        return f"{base}/{name}" if name else base

    def _action(self, verb: str, ref_or_kind: ObjectRef | tuple[str, str], namespace: str | None):
        api_version, kind = (ref_or_kind.api_version, ref_or_kind.kind) if isinstance(ref_or_kind, ObjectRef) \
            else ref_or_kind
        plural, namespaced = self._resource(api_version, kind)
        return (verb, plural, api_version.rpartition("/")[0], namespace if namespaced else None)

    # --------------------------------------------------------------------------------- report

    def report(self) -> ConnectionReport:
        try:
            version = self.transport.request("GET", "/version", action=("get", "version", "", None)) or {}
            groups_doc = self.transport.request("GET", "/apis", action=("list", "API groups", "", None)) or {}
        except ClusterError as error:
            return ConnectionReport(reachable=False, error=error.message, error_code=error.code)
        groups = sorted({"core"} | {g.get("name", "") for g in groups_doc.get("groups", [])})
        missing_groups = tuple(g for g in NEEDED_API_GROUPS if g not in groups)
        missing = []
        try:
            for verb, resource, group, in_argocd in NEEDED_PERMISSIONS:
                namespace = self.config.argocd_namespace if in_argocd else None
                review = {
                    "apiVersion": "authorization.k8s.io/v1",
                    "kind": "SelfSubjectAccessReview",
                    "spec": {"resourceAttributes": {"verb": verb, "resource": resource, "group": group,
                                                    **({"namespace": namespace} if namespace else {})}},
                }
                answer = self.transport.request(
                    "POST", "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews", body=review,
                    action=("create", "selfsubjectaccessreviews", "authorization.k8s.io", None)) or {}
                if not (answer.get("status") or {}).get("allowed"):
                    missing.append(Permission(verb, resource, group, namespace))
        except ClusterError as error:
            return ConnectionReport(reachable=True, server_version=version.get("gitVersion", ""),
                                    api_groups=tuple(groups), missing_api_groups=missing_groups,
                                    error=error.message, error_code=error.code)
        return ConnectionReport(reachable=True, server_version=version.get("gitVersion", ""),
                                api_groups=tuple(groups), missing_permissions=tuple(missing),
                                missing_api_groups=missing_groups)

    # ---------------------------------------------------------------------------------- reads

    def get(self, ref: ObjectRef) -> dict | None:
        return self.transport.request("GET", self._path(ref.api_version, ref.kind, ref.namespace, ref.name),
                                      action=self._action("get", ref, ref.namespace))

    def list_objects(self, *, api_version: str, kind: str, namespace: str | None, label_selector: str) -> list[dict]:
        """One LIST call; items as the server returned them, with apiVersion and kind filled in (a LIST of
        built-in kinds leaves them out of the items)."""
        answer = self.transport.request("GET", self._path(api_version, kind, namespace),
                                        query=[("labelSelector", label_selector)],
                                        action=self._action("list", (api_version, kind), namespace)) or {}
        items = []
        for item in answer.get("items") or []:
            item.setdefault("apiVersion", api_version)
            item.setdefault("kind", kind)
            items.append(item)
        return items

    # --------------------------------------------------------------------------------- writes

    def apply(self, objects: list[dict], *, field_manager: str = FIELD_MANAGER) -> ApplyResult:
        result = ApplyResult()
        ordered = sorted(objects, key=lambda o: _order(ObjectRef.of(o), self.config.argocd_namespace))
        for obj in ordered:
            ref = ObjectRef.of(obj)
            live = self.get(ref)
            if live is None:
                self._apply_one(ref, obj, field_manager, force=False)
                result.created.append(ref)
                continue
            labels = (live.get("metadata") or {}).get("labels") or {}
            if labels.get(MANAGED_BY_LABEL) != (obj["metadata"].get("labels") or {}).get(MANAGED_BY_LABEL):
                raise ClusterConflict(
                    f"{ref} already exists on cluster {self.config.name} and is not managed by DSO Console "
                    f"(no {MANAGED_BY_LABEL} label): the console does not take over objects it did not create; "
                    "remove or rename it")
            changes = differs(obj, live, manager=field_manager)
            if not changes:
                result.unchanged.append(ref)
                continue
            log.info("cluster %s: %s differs at %s", self.config.name, ref, ", ".join(changes[:5]))
            try:
                self._apply_one(ref, obj, field_manager, force=False)
            except ClusterConflict:
                # The object is the console's (label checked above): a hand edit holds some of its fields.
                self._apply_one(ref, obj, field_manager, force=True)
            result.configured.append(ref)
        return result

    def _apply_one(self, ref: ObjectRef, obj: dict, field_manager: str, *, force: bool) -> dict:
        body = copy.deepcopy(obj)
        query = [("fieldManager", field_manager)] + ([("force", "true")] if force else [])
        return self.transport.request(
            "PATCH", self._path(ref.api_version, ref.kind, ref.namespace, ref.name), query=query, body=body,
            content_type=APPLY_CONTENT_TYPE, action=self._action("patch", ref, ref.namespace)) or {}

    def delete(self, ref: ObjectRef) -> bool:
        answer = self.transport.request(
            "DELETE", self._path(ref.api_version, ref.kind, ref.namespace, ref.name),
            body={"kind": "DeleteOptions", "apiVersion": "v1", "propagationPolicy": "Background"},
            action=self._action("delete", ref, ref.namespace))
        return answer is not None

    def prune(self, *, label_selector: str, keep: set[ObjectRef], kinds: list[tuple[str, str]]) -> list[ObjectRef]:
        """Delete the objects matching ``label_selector`` (the console's own labels) of ``kinds`` that are not
        in ``keep``; one LIST per kind, cluster-wide. Returned in the order deleted (dependents first)."""
        doomed = []
        for api_version, kind in kinds:
            for item in self.list_objects(api_version=api_version, kind=kind, namespace=None,
                                          label_selector=label_selector):
                labels = (item.get("metadata") or {}).get("labels") or {}
                if labels.get(MANAGED_BY_LABEL) != MANAGED_BY_VALUE:
                    continue  # a selector that does not name the console's label must not widen the prune
                ref = ObjectRef.of(item)
                if ref not in keep and not (item.get("metadata") or {}).get("deletionTimestamp"):
                    doomed.append(ref)
        doomed.sort(key=lambda r: _order(r, self.config.argocd_namespace), reverse=True)
        return [ref for ref in doomed if self.delete(ref)]
