"""Drift: what differs between what the console renders and what is there, recorded while it lasts.

Delivery mode ``direct`` compares the rendered objects with the cluster's (listed once per kind and cluster by
console.services.readback.ClusterView); mode ``gitops`` compares the rendered files with what the platform
repository holds under the project's directory (one listing per pass; only files whose blob id differs are
read). Both also record what Argo CD reports: resources OutOfSync and orphaned resources. With the cluster's
self-heal on, drift the console can correct is corrected through a provisioning run (cause "drift
correction"), which re-applies (direct) or re-commits (gitops).
"""

from __future__ import annotations

import logging
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import timedelta

import yaml
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from console.models import (
    DriftReason, DriftRecord, Project, ProjectObservation, ProvisioningCause, ReadbackPass, Trigger,
)
from console.services.actors import Actor
from console.services.errors import DomainError
from console.services.provisioning import delivery_directory
from console.services.readback_targets import DIRECT, Target
from provisioning import manifests
from provisioning.drift import field_paths, git_blob_sha, object_key
from provisioning.errors import ProvisioningError

log = logging.getLogger(__name__)

CLUSTER, PLATFORM, ARGOCD = "cluster", "platform_repository", "argocd"
CORRECTABLE = (CLUSTER, PLATFORM)
_YAML_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


@dataclass(frozen=True)
class Finding:
    source: str
    api_version: str
    kind: str
    namespace: str
    name: str
    reason: str
    field_paths: tuple[str, ...] = ()
    detail: str = ""

    @property
    def key(self) -> tuple:
        return (self.source, self.api_version, self.kind, self.namespace, self.name, self.reason)


def _finding(source: str, ref: tuple, reason: str, paths=(), detail: str = "") -> Finding:
    api_version, kind, namespace, name = ref
    return Finding(source, api_version[:200], kind[:100], namespace[:253], name[:253], reason, tuple(paths), detail)


# ---------------------------------------------------------------------------------------- comparisons


def compare_live(desired: list[dict], view, *, organization: str, project: str) -> list[Finding]:
    """Rendered objects against the cluster's, plus objects labelled as the project's that are not rendered."""
    findings, wanted, kinds = [], set(), set()
    for obj in desired:
        namespace = obj["metadata"].get("namespace")
        scope = namespace if namespace == view.target.argocd_namespace else None
        kinds.add((obj["apiVersion"], obj["kind"], scope))
        ref = object_key(obj)
        wanted.add(ref)
        live = view.live(obj["apiVersion"], obj["kind"], scope).get(ref)
        if live is None:
            findings.append(_finding(CLUSTER, ref, DriftReason.MISSING, detail="not in the cluster"))
        elif paths := field_paths(obj, live):
            findings.append(_finding(CLUSTER, ref, DriftReason.CHANGED, paths,
                                     detail="the cluster's object differs from the rendered one"))
    for api_version, kind, scope in sorted(kinds, key=str):
        for ref in view.owned_by(api_version, kind, scope, organization, project):
            if ref not in wanted:
                findings.append(_finding(CLUSTER, ref, DriftReason.UNEXPECTED,
                                         detail="carries the project's labels but the console no longer renders it"))
    return findings


def _documents(text: str) -> list[dict]:
    try:
        return [doc for doc in yaml.load_all(text, Loader=_YAML_LOADER) if isinstance(doc, dict)]
    except yaml.YAMLError:
        return []


def _ref_of(doc: dict | None, file: str) -> tuple:
    if doc:
        return object_key(doc)
    return ("", "File", "", file)


def compare_files(desired: dict[str, str], committed: dict[str, str], read_blob) -> list[Finding]:
    """Rendered files (name -> YAML) against the committed ones (name -> blob id); only differing files are
    read. A committed file is compared both ways: a key someone added in Git is drift too."""
    findings = []
    for name, content in desired.items():
        blob = committed.get(name)
        if blob == git_blob_sha(content):
            continue
        wanted = (_documents(content) or [None])[0]
        if blob is None:
            findings.append(_finding(PLATFORM, _ref_of(wanted, name), DriftReason.MISSING,
                                     detail=f"{name} is missing from the platform repository"))
            continue
        found = (_documents(read_blob(blob)) or [None])[0]
        if found is None:
            paths = ["."]
        else:
            paths = field_paths(wanted, found)
            paths += [p for p in field_paths(found, wanted) if p not in paths]
        findings.append(_finding(PLATFORM, _ref_of(wanted, name), DriftReason.CHANGED, paths or ["."],
                                 detail=f"{name} was changed in the platform repository"))
    for name in sorted(set(committed) - set(desired)):
        found = (_documents(read_blob(committed[name])) or [None])[0]
        findings.append(_finding(PLATFORM, _ref_of(found, name), DriftReason.UNEXPECTED,
                                 detail=f"{name} is in the project's directory but the console does not render it"))
    return findings


def argocd_findings(app: dict) -> list[Finding]:
    """Argo CD's own view of an Application: resources OutOfSync, orphaned resources."""
    status = app.get("status") or {}
    metadata = app.get("metadata") or {}
    app_ref = (manifests.ARGOCD_API_VERSION, "Application", metadata.get("namespace") or "", metadata.get("name", ""))
    findings = []
    if (status.get("sync") or {}).get("status") == "OutOfSync":
        resources = [r for r in status.get("resources") or [] if r.get("status") == "OutOfSync"]
        for resource in resources:
            group, version = resource.get("group") or "", resource.get("version") or ""
            api_version = f"{group}/{version}" if group else version
            findings.append(_finding(ARGOCD, (api_version, resource.get("kind", ""), resource.get("namespace") or "",
                                              resource.get("name", "")), DriftReason.OUT_OF_SYNC,
                                     detail=f"Argo CD Application {app_ref[3]} reports it OutOfSync"))
        if not resources:
            findings.append(_finding(ARGOCD, app_ref, DriftReason.OUT_OF_SYNC,
                                     detail="Argo CD reports the Application OutOfSync"))
    for condition in status.get("conditions") or []:
        if condition.get("type") == "OrphanedResourceWarning":
            findings.append(_finding(ARGOCD, app_ref, DriftReason.ORPHANED,
                                     detail=condition.get("message") or "Argo CD reports orphaned resources"))
    return findings


# ------------------------------------------------------------------------------------------- the pass


class PlatformSnapshot:
    """The platform repository's project directories, listed once per pass."""

    def __init__(self):
        from console.integrations import get_delivery

        self.delivery = get_delivery()
        self.error: ProvisioningError | None = None
        self.by_directory: dict[str, dict[str, str]] = defaultdict(dict)
        try:
            files = self.delivery.snapshot("projects")
        except ProvisioningError as error:
            self.error = error
            log.info("platform repository unreadable for drift: %s", error)
            return
        for path, blob in files.items():
            organization, _, rest = path.partition("/")
            project, _, name = rest.partition("/")
            if name:
                self.by_directory[f"projects/{organization}/{project}"][name] = blob

    def files(self, directory: str) -> dict[str, str]:
        return self.by_directory.get(directory, {})


@dataclass
class DriftPass:
    record: ReadbackPass
    open_count: int = 0
    corrections: int = 0
    _platform: PlatformSnapshot | None = field(default=None, repr=False)

    def platform(self) -> PlatformSnapshot:
        if self._platform is None:
            self._platform = PlatformSnapshot()
            if self._platform.error is not None:
                self.record.clusters["platform_repository"] = {"reachable": False,
                                                               "error_code": self._platform.error.code,
                                                               "error": str(self._platform.error)}
        return self._platform

    def check(self, observed: list, target: Target, view) -> None:
        now = timezone.now()
        findings: dict[int, list[Finding]] = defaultdict(list)
        checked: dict[int, set[str]] = defaultdict(set)
        for item in observed:
            project = item.project
            if item.problem or project.status != Project.Status.READY:
                continue  # nothing delivered yet, or nothing comparable: not drift
            if target.delivery_mode == DIRECT:
                if view.reachable:
                    findings[project.pk] += compare_live(item.desired, view, organization=project.organization.slug,
                                                         project=project.slug)
                    checked[project.pk].add(CLUSTER)
            else:
                platform = self.platform()
                if platform.error is None:
                    findings[project.pk] += compare_files(manifests.render_files(item.spec),
                                                          platform.files(delivery_directory(project)),
                                                          platform.delivery.read_blob)
                    checked[project.pk].add(PLATFORM)
            if view.reachable:
                apps = view.applications()
                for deployment in item.deployments.values():
                    if app := apps.get(deployment.application):
                        findings[project.pk] += argocd_findings(app)
                checked[project.pk].add(ARGOCD)
        open_records = self._persist([o.project.pk for o in observed], findings, checked, now)
        if checked:
            ProjectObservation.objects.filter(project_id__in=list(checked)).update(drift_checked_at=now)
        self.open_count += sum(len(records) for records in open_records.values())
        if target.self_heal:
            for item in observed:
                self._heal(item.project, open_records.get(item.project.pk, []), now)

    def _persist(self, project_ids, findings, checked, now) -> dict[int, list[DriftRecord]]:
        existing = defaultdict(dict)
        for record in DriftRecord.objects.filter(project_id__in=project_ids, resolved_at__isnull=True):
            existing[record.project_id][record.key] = record
        created, seen, resolved = [], [], []
        for project_id in project_ids:
            current = existing.get(project_id, {})
            keys = set()
            for finding in findings.get(project_id, []):
                if finding.key in keys:
                    continue
                keys.add(finding.key)
                record = current.get(finding.key)
                if record is None:
                    created.append(DriftRecord(
                        project_id=project_id, source=finding.source, api_version=finding.api_version,
                        kind=finding.kind, namespace=finding.namespace, name=finding.name, reason=finding.reason,
                        field_paths=list(finding.field_paths), detail=finding.detail, first_seen=now, last_seen=now))
                else:
                    record.last_seen, record.field_paths, record.detail = now, list(finding.field_paths), finding.detail
                    seen.append(record)
            for key, record in current.items():
                if key not in keys and record.source in checked.get(project_id, ()):
                    resolved.append(record.pk)
        with transaction.atomic():
            DriftRecord.objects.bulk_create(created, batch_size=500)
            DriftRecord.objects.bulk_update(seen, ["last_seen", "field_paths", "detail"], batch_size=500)
            if resolved:
                DriftRecord.objects.filter(pk__in=resolved).update(resolved_at=now)
        open_records = defaultdict(list)
        for record in created + seen:
            open_records[record.project_id].append(record)
        gone = set(resolved) | {record.pk for record in seen}
        for project_id, current in existing.items():
            for record in current.values():
                if record.pk not in gone:
                    open_records[project_id].append(record)
        return open_records

    def _heal(self, project: Project, records: list[DriftRecord], now) -> None:
        """Ask one provisioning run for the project's correctable drift, unless one was asked lately."""
        from console.services.projects import project_provision_request

        retry_before = now - timedelta(seconds=settings.DRIFT_HEAL_RETRY_SECONDS)
        due = [r for r in records if r.source in CORRECTABLE
               and (r.correction_requested_at is None or r.correction_requested_at < retry_before)]
        if not due:
            return
        subject = ", ".join(sorted({f"{r.kind} {r.name}" for r in due}))[:300]
        try:
            queued = project_provision_request(
                actor=Actor.system("drift correction", detail={"readback_pass": self.record.pk}),
                project=project, trigger=Trigger.SCHEDULE, cause=ProvisioningCause.DRIFT_CORRECTION,
                subject=subject)
        except DomainError as error:
            log.info("drift of %s not corrected: %s", project, error.message)
            return
        DriftRecord.objects.filter(pk__in=[r.pk for r in due]).update(correction_run=queued.run,
                                                                       correction_requested_at=now)
        self.corrections += 1
