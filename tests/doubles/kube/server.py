"""A stateful Kubernetes API on 127.0.0.1, run on its own event loop in a thread so that synchronous code
(the real ``kubernetes`` client, Django, Celery tasks) can talk to it like to any cluster."""

from __future__ import annotations

import asyncio
import copy
import secrets
import threading
from dataclasses import dataclass
from typing import Any

import logging

import kmock
from kmock import resource

from provisioning.cluster.base import ClusterConfig, ObjectRef
from tests.doubles.kube import fields as F
from tests.doubles.kube.emulator import ConsoleKubeEmulator
from tests.doubles.kube.switches import Denial, Fault


@dataclass(frozen=True)
class RecordedRequest:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: Any  # parsed JSON (or YAML for apply patches), None when empty

    @property
    def content_type(self) -> str:
        return self.headers.get("Content-Type", "").split(";")[0].strip()

    @property
    def is_write(self) -> bool:
        return self.method in ("POST", "PUT", "PATCH", "DELETE") and "accessreviews" not in self.path


# One line per request drowns a failing test's output; the double's own request log is what tests read.
logging.getLogger("aiohttp.access").setLevel(logging.WARNING)


class KubeDouble:
    def __init__(self, *, token: str | None = None, argocd_namespace: str = "argocd"):
        self.token = token or "kube-" + secrets.token_hex(12)
        self.argocd_namespace = argocd_namespace
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="kube-double", daemon=True)
        self.emulator: ConsoleKubeEmulator | None = None
        self._server: kmock.Server | None = None

    # ------------------------------------------------------------------------------ lifecycle

    def start(self) -> KubeDouble:
        self._thread.start()
        self._run(self._start())
        # Argo CD is installed: its namespace exists, created by someone else (no console labels).
        self.put_object({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": self.argocd_namespace}},
                        manager="helm")
        return self

    async def _start(self) -> None:
        self.emulator = ConsoleKubeEmulator(token=self.token)
        self.emulator.declare_resources()
        await self.emulator.__aenter__()
        self._server = kmock.Server(self.emulator, host="127.0.0.1")
        await self._server.__aenter__()

    def stop(self) -> None:
        async def _stop():
            self.emulator.stopping.set()
            await self._server.__aexit__(None, None, None)
            await self.emulator.__aexit__(None, None, None)

        try:
            self._run(_stop())
        finally:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout=10)
            self._loop.close()

    def __enter__(self) -> KubeDouble:
        return self.start()

    def __exit__(self, *exc_info) -> None:
        self.stop()

    def _run(self, coroutine, timeout: float = 30):
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop).result(timeout)

    def _locked(self, fn, *args):
        async def call():
            async with self.emulator._lock:
                return fn(*args)

        return self._run(call())

    # ------------------------------------------------------------------------------ addresses

    @property
    def url(self) -> str:
        return str(self._server.url).rstrip("/")

    def config(self, **overrides) -> ClusterConfig:
        values = {"name": "double", "api_url": self.url, "token": self.token, "timeout_seconds": 5.0, **overrides}
        return ClusterConfig(**values)

    # ------------------------------------------------------------------------------- requests

    @property
    def requests(self) -> list[RecordedRequest]:
        def snapshot():
            out = []
            for request in self.emulator._requests:
                body = request.data
                if body is None and request.text:
                    import yaml

                    try:
                        body = yaml.safe_load(request.text)
                    except yaml.YAMLError:
                        body = request.text
                out.append(RecordedRequest(str(request.method.value).upper(), request.url.path,
                                           dict(request.params), dict(request.headers), copy.deepcopy(body)))
            return out

        return self._locked(snapshot)

    def writes(self) -> list[RecordedRequest]:
        return [r for r in self.requests if r.is_write]

    def clear_requests(self) -> None:
        self._locked(self.emulator._requests.clear)

    # -------------------------------------------------------------------------------- objects

    def objects(self, *, kind: str | None = None, namespace: str | None = None) -> list[dict]:
        """What the server holds (not deleted), in creation order."""

        def snapshot():
            out = []
            for (_res, ns, _name), obj in self.emulator.objects.items():
                if obj.deleted:
                    continue
                raw = obj.raw
                if kind and raw.get("kind") != kind:
                    continue
                if namespace is not None and ns != namespace:
                    continue
                out.append(copy.deepcopy(raw))
            return out

        return self._locked(snapshot)

    def get(self, ref: ObjectRef) -> dict | None:
        key = self._key(ref)
        return self._locked(lambda: copy.deepcopy(self.emulator._live(key)))

    def _key(self, ref: ObjectRef):
        group, _, version = ref.api_version.rpartition("/")
        info_kind = ref.kind
        for res in self.emulator.resources:
            if res.group == group and res.version == version and self.emulator.resources[res].kind == info_kind:
                namespaced = self.emulator.resources[res].namespaced
                return (resource(group, version, res.plural), ref.namespace if namespaced else None, ref.name)
        raise KeyError(f"the double does not serve {ref.api_version} {ref.kind}")

    def put_object(self, obj: dict, *, manager: str = "kubectl-edit") -> dict:
        """Store ``obj`` as a person with kubectl would (an Update by ``manager``): hand edits, foreign objects."""
        ref = ObjectRef.of(obj)
        key = self._key(ref)

        def store():
            emu = self.emulator
            live = emu._live(key)
            info = emu.resources[key[0]]
            if live is None:
                fake = kmock.Request(resource=key[0], namespace=key[1], name=ref.name)
                new = emu._new_object(fake, obj, info, manager, "Update")
                emu._store(key, new)
                return copy.deepcopy(new)
            new = emu._update(live, obj, manager)
            if new is not live:
                emu.objects[key].create(new)
            return copy.deepcopy(new)

        return self._locked(store)

    def patch_status(self, ref: ObjectRef, status: dict) -> dict:
        """Replace the object's status as its controller (Argo CD, the quota controller) would."""
        key = self._key(ref)

        def store():
            emu = self.emulator
            live = emu._live(key)
            if live is None:
                raise KeyError(f"{ref} is not held by the double")
            new = copy.deepcopy(live)
            new["status"] = copy.deepcopy(status)
            new["metadata"]["resourceVersion"] = str(next(emu._versions))
            emu.objects[key].create(new)
            return copy.deepcopy(new)

        return self._locked(store)

    def remove_object(self, ref: ObjectRef) -> None:
        key = self._key(ref)
        self._locked(lambda: self.emulator.objects[key].delete())

    # -------------------------------------------------------------------------------- switches

    def deny(self, verb: str, resource_: str, *, group: str = "", namespace: str | None = None) -> None:
        """The token lacks ``verb`` on ``resource_``: real requests get 403 and access reviews say no."""
        self._locked(self.emulator.denials.append, Denial(verb, resource_, group, namespace))

    def fail(self, status: int = 500, *, method: str | None = None, path: str | None = None,
             times: int | None = None, message: str = "") -> Fault:
        fault = Fault(method=method, path=path, status=status, times=times, message=message)
        self._locked(self.emulator.faults.append, fault)
        return fault

    def hang(self, *, seconds: float = 30.0, method: str | None = None, path: str | None = None,
             times: int | None = None) -> Fault:
        fault = Fault(method=method, path=path, hang_seconds=seconds, times=times)
        self._locked(self.emulator.faults.append, fault)
        return fault

    def heal(self) -> None:
        """Forget every fault and denial."""

        def clear():
            self.emulator.faults.clear()
            self.emulator.denials.clear()

        self._locked(clear)


def paths_of(obj: dict) -> set[tuple[str, ...]]:
    return F.leaf_paths(obj)
