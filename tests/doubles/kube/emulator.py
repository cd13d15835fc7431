"""kmock 0.8's KubernetesEmulator with the gaps the console's tests would fall into filled in.

kmock keeps what it does well: the aiohttp server, discovery (``/api``, ``/apis/...``), the request log and
the object store with its history. This subclass serves the object endpoints itself, because 0.8:
mis-parses ``/api/v1/namespaces[/NAME]``, treats server-side apply as a merge that never creates, does not
route PUT, ignores label selectors and never sets uid/resourceVersion/creationTimestamp/generation or
``managedFields``. It also checks the bearer token, answers SelfSubjectAccessReviews from a deny list (the
same list turns the matching real requests into 403s), and can be told to answer 5xx or hang.
"""

from __future__ import annotations

import asyncio
import copy
import datetime
import itertools
import json
import re
import uuid
from typing import Any

import aiohttp.web
import attrs
import jsonpatch
import yaml
from kmock import KubernetesEmulator, ResourceInfo, resource
from kmock._internal import dicts as kmock_dicts
from kmock._internal import enums, rendering

from tests.doubles.kube import fields as F
from tests.doubles.kube.switches import Denial, Fault, StatusError  # noqa: F401 - re-exported

ARGOCD_GROUP_VERSION = "argoproj.io/v1alpha1"
# What Argo CD's controller does for the finalizer it puts on Applications: there is no controller here,
# so a deleted Application goes away at once instead of waiting forever with a deletionTimestamp.
CONTROLLER_FINALIZERS = frozenset({"resources-finalizer.argocd.argoproj.io"})
_NAMESPACES_PATH = re.compile(r"^/api/v1/namespaces(?:/([^/]+))?(?:/(status|finalize))?/?$")
_VERBS = {"GET": "get", "POST": "create", "PUT": "update", "PATCH": "patch", "DELETE": "delete"}


def _now() -> str:
    return datetime.datetime.now(tz=datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@attrs.define(kw_only=True)
class ConsoleKubeEmulator(KubernetesEmulator):
    token: str = ""
    user: str = "system:serviceaccount:dso-system:dso-console"
    faults: list = attrs.field(factory=list)
    denials: list = attrs.field(factory=list)
    stopping: asyncio.Event = attrs.field(factory=asyncio.Event)
    _versions: Any = attrs.field(factory=lambda: itertools.count(1000), init=False)

    def declare_resources(self) -> None:
        self.resources.load_bundled()
        verbs = {"create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"}
        self.resources[f"{ARGOCD_GROUP_VERSION}/applications"] = ResourceInfo(
            kind="Application", singular="application", namespaced=True, verbs=verbs, shortnames={"app", "apps"})
        self.resources[f"{ARGOCD_GROUP_VERSION}/appprojects"] = ResourceInfo(
            kind="AppProject", singular="appproject", namespaced=True, verbs=verbs, shortnames={"appproj"})

    # ------------------------------------------------------------------------------------- entry

    async def __call__(self, raw_request: aiohttp.web.BaseRequest) -> aiohttp.web.StreamResponse:
        await raw_request.read()
        try:
            request = await self._parse(raw_request)
            self._requests.append(request)
            return await self._serve(request)
        except StatusError as error:
            return self._status(error)
        except Exception as error:  # noqa: BLE001 - a bug in the double shows as a 500 with its reason
            if self._errors:
                self._errors[-1].append(error)
            return await self._render_error(error)

    async def _parse(self, raw_request) -> rendering.Request:
        match = _NAMESPACES_PATH.match(raw_request.path)
        if not match:
            return await rendering.Request._parse(raw_request, id=len(self._requests))
        body = await raw_request.read()
        try:
            data = json.loads(body) if body else None
        except ValueError:
            data = None
        name, sub = match.groups()
        method = enums.method(raw_request.method)
        action = (enums.action.WATCH if raw_request.query.get("watch") == "true" else
                  (enums.action.LIST if method == enums.method.GET else enums.action.CREATE) if name is None
                  else None)
        return rendering.Request(
            id=len(self._requests), raw_request=raw_request, url=raw_request.url, method=raw_request.method,
            params=dict(raw_request.query), headers=dict(raw_request.headers), cookies=dict(raw_request.cookies),
            data=data, body=body, text=body.decode("utf-8", "replace"), action=action,
            resource=resource("", "v1", "namespaces"), namespace=None, name=name, subresource=sub,
        )

    async def _serve(self, request: rendering.Request) -> aiohttp.web.StreamResponse:
        method, path = str(request.method.value).upper(), request.url.path
        for fault in self.faults:
            if fault.matches(method, path):
                fault.served += 1
                if fault.hang_seconds:
                    try:
                        await asyncio.wait_for(self.stopping.wait(), fault.hang_seconds)
                    except TimeoutError:
                        pass
                    raise StatusError(504, "Timeout", "the double hung on purpose")
                reason = {429: "TooManyRequests", 503: "ServiceUnavailable"}.get(fault.status, "InternalError")
                raise StatusError(fault.status, reason, fault.message or f"injected {fault.status}")
        if self.token and request.headers.get("Authorization") != f"Bearer {self.token}":
            raise StatusError(401, "Unauthorized", "Unauthorized")
        res = request.resource
        if res is None or res.plural is None or request.action == enums.action.WATCH:
            return await super()._handle(request)  # discovery, /version, unknown paths
        if res not in list(self.resources):
            raise StatusError(404, "NotFound", "the server could not find the requested resource")
        if res.group == "authorization.k8s.io" and res.plural == "selfsubjectaccessreviews":
            return self._json(self._access_review(request.data or {}), 201)
        self._authorize(request)
        async with self._lock:
            payload, code = self._dispatch(request, method)
        return self._json(payload, code)

    # ------------------------------------------------------------------------------ authorization

    def _verb(self, request, method: str) -> str:
        if method == "GET":
            return "get" if request.name else "list"
        return _VERBS.get(method, method.lower())

    def _authorize(self, request) -> None:
        res, method = request.resource, str(request.method.value).upper()
        verb = self._verb(request, method)
        namespace = request.namespace
        if any(d.covers(verb, res.plural, res.group, namespace) for d in self.denials):
            where = f'in the namespace "{namespace}"' if namespace else "at the cluster scope"
            subject = f'{res.plural} "{request.name}"' if request.name else res.plural
            raise StatusError(
                403, "Forbidden",
                f'{subject} is forbidden: User "{self.user}" cannot {verb} resource "{res.plural}" '
                f'in API group "{res.group}" {where}',
                {"name": request.name or "", "group": res.group, "kind": res.plural},
            )

    def _access_review(self, review: dict) -> dict:
        attrs_ = (review.get("spec") or {}).get("resourceAttributes") or {}
        denied = any(d.covers(attrs_.get("verb", ""), attrs_.get("resource", ""), attrs_.get("group", ""),
                              attrs_.get("namespace") or None) for d in self.denials)
        return {**review, "status": {"allowed": not denied, **({"reason": "denied by the double"} if denied else {})}}

    # ---------------------------------------------------------------------------------- objects

    def _info(self, res) -> ResourceInfo:
        return self.resources[res]

    def _key(self, request, name: str | None = None):
        namespace = request.namespace if self._info(request.resource).namespaced else None
        return (request.resource, namespace, name or request.name)

    def _live(self, key) -> dict | None:
        if key not in self.objects or self.objects[key].deleted:
            return None
        return self.objects[key].raw

    def _store(self, key, obj: dict) -> None:
        if key not in self.objects:
            self.objects[key] = obj
        else:
            self.objects[key].create(obj)

    def _not_found(self, request, name: str) -> StatusError:
        res = request.resource
        kind = f"{res.plural}.{res.group}" if res.group else res.plural
        return StatusError(404, "NotFound", f'{kind} "{name}" not found', {"name": name, "group": res.group,
                                                                             "kind": res.plural})

    def _dispatch(self, request, method: str) -> tuple[dict, int]:
        res, info = request.resource, self._info(request.resource)
        if method == "GET" and request.name is None:
            return self._list(request, info), 200
        if method == "POST" and request.name is None:
            return self._create(request, info), 201
        key = self._key(request)
        live = self._live(key)
        if method == "GET":
            if live is None:
                raise self._not_found(request, request.name)
            return live, 200
        if method == "DELETE":
            if live is None:
                raise self._not_found(request, request.name)
            return self._delete(key, live), 200
        if method == "PUT":
            if live is None:
                raise self._not_found(request, request.name)
            body = request.data or {}
            expected = (body.get("metadata") or {}).get("resourceVersion")
            if expected and expected != live["metadata"]["resourceVersion"]:
                raise StatusError(409, "Conflict", f'Operation cannot be fulfilled on {res.plural} '
                                  f'"{request.name}": the object has been modified; please apply your changes '
                                  "to the latest version and try again")
            if request.subresource == "status":
                body = {**copy.deepcopy(live), "status": body.get("status")}
            new = self._update(live, body, self._manager(request, "Update"))
            if new is not live:
                self.objects[key].create(new)
            return new, 200
        if method == "PATCH":
            content_type = request.headers.get("Content-Type", "").split(";")[0].strip()
            if content_type == "application/apply-patch+yaml":
                return self._apply(request, key, live, info)
            if live is None:
                raise self._not_found(request, request.name)
            body = self._body(request)
            if content_type == "application/json-patch+json":
                patched = jsonpatch.apply_patch(copy.deepcopy(live), body)
            else:  # merge and strategic merge: the console's objects have no list merge keys worth emulating
                patched = kmock_dicts.patch_dict(copy.deepcopy(live), body)
            if request.subresource == "status":
                patched = {**copy.deepcopy(live), "status": patched.get("status")}
            new = self._update(live, patched, self._manager(request, "Update"))
            if new is not live:
                self.objects[key].create(new)
            return new, 200
        raise StatusError(405, "MethodNotAllowed", f"{method} is not supported here")

    def _list(self, request, info: ResourceInfo) -> dict:
        try:
            matches = F.label_matcher(request.params.get("labelSelector"))
        except F.SelectorError as error:
            raise StatusError(400, "BadRequest", str(error)) from None
        items = []
        for (res, namespace, _name), obj in self.objects.items():
            if res != request.resource or obj.deleted:
                continue
            if request.namespace and namespace != request.namespace:
                continue
            if matches((obj.raw.get("metadata") or {}).get("labels") or {}):
                items.append(copy.deepcopy(obj.raw))
        group_version = f"{request.resource.group}/{request.resource.version}".lstrip("/")
        return {"apiVersion": group_version, "kind": f"{info.kind}List",
                "metadata": {"resourceVersion": str(next(self._versions))}, "items": items}

    def _body(self, request) -> Any:
        if request.data is not None:
            return request.data
        try:
            return yaml.safe_load(request.text) if request.text else {}
        except yaml.YAMLError as error:
            raise StatusError(400, "BadRequest", f"the body is neither JSON nor YAML: {error}") from None

    def _manager(self, request, operation: str) -> str:
        if request.params.get("fieldManager"):
            return request.params["fieldManager"]
        if operation == "Apply":
            raise StatusError(422, "Invalid", "PATCH, application/apply-patch+yaml: fieldManager is required",
                              {"causes": [{"reason": "FieldValueRequired", "field": "fieldManager",
                                           "message": "Required value: is required for apply patch"}]})
        agent = request.headers.get("User-Agent", "unknown")
        return agent.split("/")[0] or "unknown"

    def _check_identity(self, request, body: dict, info: ResourceInfo) -> None:
        meta = body.get("metadata") or {}
        group_version = f"{request.resource.group}/{request.resource.version}".lstrip("/")
        causes = []
        if body.get("apiVersion") != group_version:
            causes.append(("apiVersion", f"Invalid value: {body.get('apiVersion')!r}: must be {group_version}"))
        if body.get("kind") != info.kind:
            causes.append(("kind", f"Invalid value: {body.get('kind')!r}: must be {info.kind}"))
        if not meta.get("name"):
            causes.append(("metadata.name", "Required value: name or generateName is required"))
        elif not re.fullmatch(r"[a-z0-9]([-a-z0-9.]*[a-z0-9])?", meta["name"]) or len(meta["name"]) > 253:
            causes.append(("metadata.name", f"Invalid value: {meta['name']!r}: a lowercase RFC 1123 subdomain "
                           "must consist of lower case alphanumeric characters, '-' or '.'"))
        if request.name and meta.get("name") and meta["name"] != request.name:
            causes.append(("metadata.name", f"Invalid value: {meta['name']!r}: the name of the object "
                           f"({meta['name']}) does not match the name on the URL ({request.name})"))
        ns = meta.get("namespace")
        if info.namespaced and ns and request.namespace and ns != request.namespace:
            causes.append(("metadata.namespace", "Invalid value: the namespace of the object does not match "
                           "the namespace on the request"))
        if causes:
            field_, message = causes[0]
            raise StatusError(
                422, "Invalid", f'{info.kind} "{meta.get("name", "")}" is invalid: {field_}: {message}',
                {"name": meta.get("name", ""), "kind": info.kind,
                 "causes": [{"reason": "FieldValueInvalid", "field": f, "message": m} for f, m in causes]})

    def _new_object(self, request, body: dict, info: ResourceInfo, manager: str, operation: str) -> dict:
        obj = copy.deepcopy(body)
        meta = obj.setdefault("metadata", {})
        if info.namespaced:
            meta["namespace"] = request.namespace or meta.get("namespace")
            if not meta["namespace"] or self._live((resource("", "v1", "namespaces"), None, meta["namespace"])) \
                    is None:
                raise StatusError(404, "NotFound", f'namespaces "{meta.get("namespace")}" not found',
                                  {"name": meta.get("namespace") or "", "kind": "namespaces"})
        else:
            meta.pop("namespace", None)
        meta.update(uid=str(uuid.uuid4()), resourceVersion=str(next(self._versions)),
                    creationTimestamp=_now(), generation=1)
        if info.kind == "Namespace":
            meta.setdefault("labels", {})["kubernetes.io/metadata.name"] = meta["name"]
            obj.setdefault("spec", {"finalizers": ["kubernetes"]})
            obj["status"] = {"phase": "Active"}
        meta["managedFields"] = [self._entry(manager, operation, obj["apiVersion"], F.leaf_paths(body))]
        return obj

    def _entry(self, manager: str, operation: str, api_version: str, paths: set) -> dict:
        return {"manager": manager, "operation": operation, "apiVersion": api_version, "time": _now(),
                "fieldsType": "FieldsV1", "fieldsV1": F.to_fields_v1(paths)}

    def _create(self, request, info: ResourceInfo) -> dict:
        body = request.data or {}
        self._check_identity(request, body, info)
        key = self._key(request, body["metadata"]["name"])
        if self._live(key) is not None:
            raise StatusError(409, "AlreadyExists", f'{request.resource.plural} "{key[2]}" already exists',
                              {"name": key[2], "kind": request.resource.plural})
        obj = self._new_object(request, body, info, self._manager(request, "Update"), "Update")
        self._store(key, obj)
        return obj

    def _update(self, live: dict, new: dict, manager: str) -> dict:
        """``new`` with the server's bookkeeping; ``live`` itself when nothing changed (no new version)."""
        result = copy.deepcopy(new)
        keep = {k: live["metadata"][k] for k in ("uid", "creationTimestamp", "generation", "resourceVersion",
                                                 "managedFields") if k in live["metadata"]}
        result.setdefault("metadata", {}).update(copy.deepcopy(keep))
        if F.without_bookkeeping(result) == F.without_bookkeeping(live):
            return live
        changed = {p for p in F.leaf_paths(result) | F.leaf_paths(live)
                   if F.get_path(result, p) != F.get_path(live, p)}
        entries = self._disown(result["metadata"].get("managedFields", []), changed, except_manager=None)
        own = next((e for e in entries if e["manager"] == manager and e["operation"] == "Update"), None)
        paths = (F.from_fields_v1(own["fieldsV1"]) if own else set()) | {p for p in changed
                                                                         if F.has_path(result, p)}
        entries = [e for e in entries if e is not own] + [self._entry(manager, "Update", result["apiVersion"], paths)]
        result["metadata"]["managedFields"] = entries
        self._bump(live, result)
        return result

    def _bump(self, live: dict, result: dict) -> None:
        result["metadata"]["resourceVersion"] = str(next(self._versions))
        if result.get("spec") != live.get("spec"):
            result["metadata"]["generation"] = live["metadata"].get("generation", 1) + 1

    def _disown(self, entries: list, paths: set, *, except_manager: str | None) -> list:
        out = []
        for entry in copy.deepcopy(entries):
            if entry["manager"] != except_manager:
                owned = {p for p in F.from_fields_v1(entry["fieldsV1"])
                         if not any(F.overlaps(p, q) for q in paths)}
                if not owned:
                    continue
                entry["fieldsV1"] = F.to_fields_v1(owned)
            out.append(entry)
        return out

    def _apply(self, request, key, live: dict | None, info: ResourceInfo) -> tuple[dict, int]:
        body = self._body(request)
        if not isinstance(body, dict):
            raise StatusError(400, "BadRequest", "an apply patch must be an object")
        self._check_identity(request, body, info)
        manager = self._manager(request, "Apply")
        if live is None:
            obj = self._new_object(request, body, info, manager, "Apply")
            self._store(key, obj)
            return obj, 201
        applied = F.leaf_paths(body)
        force = request.params.get("force") in ("true", "True", "1")
        entries = live["metadata"].get("managedFields", [])
        conflicts = []
        for entry in entries:
            if entry["manager"] == manager and entry["operation"] == "Apply":
                continue
            for owned in F.from_fields_v1(entry["fieldsV1"]):
                for path in applied:
                    if F.overlaps(owned, path) and F.get_path(live, owned) != F.get_path(body, owned):
                        conflicts.append((entry["manager"], owned))
        if conflicts and not force:
            causes = [{"reason": "FieldManagerConflict", "field": "." + ".".join(p),
                       "message": f'conflict with "{m}": .{".".join(p)}'} for m, p in sorted(set(conflicts))]
            raise StatusError(409, "Conflict", f"Apply failed with {len(causes)} conflict(s): "
                              + "; ".join(c["message"] for c in causes), {"causes": causes})
        new = copy.deepcopy(live)
        ours = next((e for e in entries if e["manager"] == manager and e["operation"] == "Apply"), None)
        before = F.from_fields_v1(ours["fieldsV1"]) if ours else set()
        others = set().union(*(F.from_fields_v1(e["fieldsV1"]) for e in entries if e is not ours)) \
            if len(entries) > (1 if ours else 0) else set()
        for path in before - applied:
            if not any(F.overlaps(path, o) for o in others):
                F.delete_path(new, path)
        for path in applied:
            F.set_path(new, path, F.get_path(body, path))
        others_entries = [e for e in entries if e is not ours]
        # Forcing takes the conflicting fields away from their previous managers.
        kept = self._disown(others_entries, applied, except_manager=None) if force else others_entries
        new["metadata"]["managedFields"] = kept + [self._entry(manager, "Apply", body["apiVersion"], applied)]
        if F.without_bookkeeping(new) == F.without_bookkeeping(live) and before == applied:
            return live, 200
        self._bump(live, new)
        self.objects[key].create(new)
        return new, 200

    def _delete(self, key, live: dict) -> dict:
        finalizers = [f for f in live["metadata"].get("finalizers", []) if f not in CONTROLLER_FINALIZERS]
        if finalizers:
            marked = copy.deepcopy(live)
            marked["metadata"].setdefault("deletionTimestamp", _now())
            marked["metadata"]["finalizers"] = finalizers
            self.objects[key].create(marked)
            return marked
        self.objects[key].delete()
        if key[0].plural == "namespaces" and key[0].group == "":
            # The namespace controller removes everything inside: model it at once.
            for other_key, obj in list(self.objects.items()):
                if other_key[1] == key[2] and not obj.deleted:
                    obj.delete()
        return live

    # ------------------------------------------------------------------------------------ output

    def _json(self, payload: dict, code: int) -> aiohttp.web.Response:
        return aiohttp.web.json_response(payload, status=code)

    def _status(self, error: StatusError) -> aiohttp.web.Response:
        return aiohttp.web.json_response(
            {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure", "message": error.message,
             "reason": error.reason, "details": error.details, "code": error.code}, status=error.code)
