"""A project delivered to the Kubernetes API double, and Argo CD's status written on its Application."""

from __future__ import annotations

from django.db.models import Q

from console.integrations import get_mirror
from console.models import Project, RunStatus, Trigger
from console.models.images import ImageBump
from console.services.provisioning import project_manifest_spec
from console.services.readback_targets import Target
from console.services.syncs import mirror_cache_key
from provisioning import manifests
from provisioning.cluster import KubeCluster, ObjectRef
from tests.factories import make_organization, make_project, make_repository
from tests.support.gitrepos import WorkRepo, init_bare

ARGO = manifests.ARGOCD_API_VERSION
ARGOCD_URL = "https://argocd.example.test"


def make_delivered_project(slug: str = "shop", organization=None, *, infra: str = "infra") -> Project:
    organization = organization or make_organization("acme")
    project = make_project(organization, slug, status=Project.Status.READY)
    make_repository(project, infra, is_infra=True, deploy_kind="helm",
                    internal_url=f"http://forge.example.test/dso/{organization.slug}/{slug}/{infra}.git")
    return project


def target_for(kube_double, *projects: Project, mode: str = "direct", self_heal: bool = False, **config) -> Target:
    return Target(name="double", projects=Q(pk__in=[p.pk for p in projects]), config=kube_double.config(**config),
                  delivery_mode=mode, self_heal=self_heal, argocd_namespace="argocd", argocd_url=ARGOCD_URL)


def apply_project(kube_double, project: Project):
    """What a direct-mode provisioning run puts in the cluster."""
    return KubeCluster(kube_double.config()).apply(manifests.render_objects(project_manifest_spec(project)))


def app_ref(project: Project, repository_name: str = "infra") -> ObjectRef:
    name = manifests.application_name_for(project.organization.slug, project.slug, repository_name)
    return ObjectRef(ARGO, "Application", "argocd", name)


def argocd_status(*, sync: str = "Synced", health: str = "Healthy", revision: str = "", images=(),
                  phase: str = "Succeeded", message: str = "", health_message: str = "", resources=(),
                  conditions=()) -> dict:
    return {
        "sync": {"status": sync, "revision": revision},
        "health": {"status": health, **({"message": health_message} if health_message else {})},
        "operationState": {"phase": phase, "message": message, "syncResult": {"revision": revision}},
        "summary": {"images": list(images)},
        "resources": list(resources),
        "conditions": list(conditions),
    }


def infra_history(repository, tmp_path, count: int = 2) -> list[str]:
    """Commits of the infra repository, as its mirror cache holds them after a sync."""
    work = WorkRepo.create(tmp_path / f"work-{repository.pk}")
    shas = [work.commit(f"change {n}", {"values.yaml": f"image:\n  tag: '{n}'\n"}) for n in range(count)]
    work.publish(init_bare(get_mirror().cache_path(mirror_cache_key(repository))))
    return shas


def pushed_bump(repository, commit_sha: str, *, image: str = "registry.example.test/acme/shop", tag: str = "1.1",
                finished_at=None) -> ImageBump:
    from django.utils import timezone

    return ImageBump.objects.create(repository=repository, image=image, tag=tag, trigger=Trigger.API,
                                    status=RunStatus.SUCCEEDED, commit_sha=commit_sha,
                                    finished_at=finished_at or timezone.now())
