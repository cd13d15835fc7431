"""Deployment health on the dashboard: one badge per project, read from the Deployment rows the read-back pass
writes, in words; the attention count and filter include unhealthy projects; constant queries."""

from __future__ import annotations

import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from console.models import Cluster, Deployment, DriftRecord, Membership, Role
from console.services.readback import readback_pass
from tests.console.services.readback_support import (
    app_ref,
    apply_project,
    argocd_status,
    make_delivered_project,
)
from tests.factories import make_organization, make_project, make_repository, make_user

pytestmark = pytest.mark.django_db


def infra(project, name="infra"):
    return make_repository(project, name, is_infra=True, deploy_kind="helm")


def read_back(project, *, sync="Synced", health="Healthy", found=True, observed=True, error="", name="infra"):
    repository = infra(project, name)
    now = timezone.now()
    return Deployment.objects.create(
        repository=repository, project=project, cluster_name="prod", application=f"{project.slug}-{name}",
        argocd_namespace="argocd", found=found, sync_status=sync if found else "",
        health_status=health if found else "", observed_at=now if observed else None, checked_at=now,
        error_code=error, error_message=f"cluster prod could not be read: {error}" if error else "")


def badge(page: str, project) -> str:
    """The text of the deployment badge in the project's row."""
    match = re.search(rf'href="/projects/{project.pk}/#what-runs">'
                      r'<span class="badge badge-health-(\w+)">([^<]*)<', page)
    assert match, f"no deployment badge for {project.slug}"
    return f"{match[1]}: {match[2]}"


@pytest.fixture
def cluster(db):
    return Cluster.objects.create(name="prod", api_url="https://127.0.0.1:6443", token="t")


def test_each_project_shows_its_deployment_health_in_words(client_for, user, cluster):
    organization = make_organization("acme", owner=user)
    healthy = make_project(organization, "healthy", cluster=cluster)
    read_back(healthy)
    degraded = make_project(organization, "degraded", cluster=cluster)
    read_back(degraded, name="a")
    read_back(degraded, health="Degraded", sync="Synced", name="b")  # the worst Application wins
    out_of_sync = make_project(organization, "drifting", cluster=cluster)
    read_back(out_of_sync, sync="OutOfSync")
    progressing = make_project(organization, "rolling", cluster=cluster)
    read_back(progressing, health="Progressing")
    missing = make_project(organization, "missing", cluster=cluster)
    read_back(missing, found=False)
    never = make_project(organization, "never", cluster=cluster)
    read_back(never, observed=False)
    no_infra = make_project(organization, "noinfra", cluster=cluster)
    make_repository(no_infra, "app")
    no_cluster = make_project(organization, "nocluster")  # and no default cluster
    infra(no_cluster)

    page = client_for(user).get("/dashboard/").content.decode()

    assert badge(page, healthy) == "healthy: Healthy / Synced"
    assert badge(page, degraded) == "degraded: Degraded"
    assert badge(page, out_of_sync) == "out_of_sync: OutOfSync"
    assert badge(page, progressing) == "progressing: Progressing"
    assert badge(page, missing) == "missing: Missing"
    assert badge(page, never) == "not_read: not read back yet"
    assert badge(page, no_infra) == "no_infra: no infra repository"
    assert badge(page, no_cluster) == "no_cluster: no cluster"
    # Degraded, out of sync and missing need attention; progressing, never read and no cluster do not.
    assert "3 need attention" in page
    assert page.count("read <time") == 5


def test_what_the_read_back_pass_reads_from_argo_cd_is_what_the_dashboard_shows(client_for, user,
                                                                                 kube_double):
    """The real pass, the real kubernetes client, the Kubernetes API double: no hand-made Deployment rows."""
    cluster = Cluster.objects.create(name="double", api_url=kube_double.url, token=kube_double.token,
                                     delivery_mode="direct")
    project = make_delivered_project()
    type(project).objects.filter(pk=project.pk).update(cluster=cluster)
    Membership.objects.create(user=user, organization=project.organization, role=Role.OWNER)
    client = client_for(user)
    assert badge(client.get("/dashboard/").content.decode(), project) == "not_read: not read back yet"
    apply_project(kube_double, project)

    kube_double.patch_status(app_ref(project), argocd_status())
    readback_pass()
    healthy = client.get("/dashboard/").content.decode()
    kube_double.patch_status(app_ref(project),
                             argocd_status(sync="OutOfSync", health="Degraded", phase="Failed"))
    readback_pass()
    degraded = client.get("/dashboard/").content.decode()

    assert badge(healthy, project) == "healthy: Healthy / Synced" and "attention</small>" not in healthy
    assert badge(degraded, project) == "degraded: Degraded" and "1 needs attention" in degraded


def test_the_default_cluster_connects_projects_without_their_own(client_for, user):
    Cluster.objects.create(name="main", api_url="https://127.0.0.1:6443", token="t", is_default=True)
    project = make_project(make_organization("acme", owner=user), "shop")
    infra(project)

    page = client_for(user).get("/dashboard/").content.decode()

    assert badge(page, project) == "not_read: not read back yet"


def test_a_stale_read_and_open_drift_are_said_and_counted(client_for, user, cluster):
    organization = make_organization("acme", owner=user)
    stale = make_project(organization, "stale", cluster=cluster)
    read_back(stale, error="unreachable")
    drifted = make_project(organization, "drifted", cluster=cluster)
    read_back(drifted)
    now = timezone.now()
    for name in ("web", "api"):
        DriftRecord.objects.create(project=drifted, source="cluster", api_version="apps/v1",
                                   kind="Deployment", namespace="acme-drifted", name=name, reason="changed",
                                   first_seen=now, last_seen=now)
    DriftRecord.objects.create(project=drifted, source="cluster", api_version="v1", kind="Service",
                               namespace="acme-drifted", name="old", reason="changed", first_seen=now,
                               last_seen=now, resolved_at=now)

    page = client_for(user).get("/dashboard/").content.decode()

    assert badge(page, stale) == "healthy: Healthy / Synced"
    assert "cluster unreachable: last known state" in page
    assert f'href="/projects/{drifted.pk}/#drift"><small>2 drifted objects</small>' in page
    assert "1 needs attention" in page


def test_the_attention_filter_keeps_the_projects_to_look_at(client_for, user, cluster):
    organization = make_organization("acme", owner=user)
    read_back(make_project(organization, "fine", cluster=cluster))
    read_back(make_project(organization, "broken", cluster=cluster), health="Degraded")
    read_back(make_project(organization, "behind", cluster=cluster), sync="OutOfSync")
    client = client_for(user)

    page = client.get("/dashboard/?show=attention").content.decode()
    calm = client.get("/dashboard/?show=attention&q=fine").content.decode()

    assert "acme/broken" in page and "acme/behind" in page and "acme/fine" not in page
    assert "2 projects" in page and '<option value="attention" selected>' in page
    assert "Nothing needs attention here." in calm


def test_the_french_dashboard_translates_the_health(client_for, user, cluster):
    project = make_project(make_organization("acme", owner=user), "shop", cluster=cluster)
    read_back(project, health="Degraded")

    page = client_for(user).get("/dashboard/", headers={"accept-language": "fr"}).content.decode()

    assert badge(page, project) == "degraded: Dégradé"


def populate(size: int, cluster) -> object:
    """``size`` projects of each health, each with ``size`` Applications and ``size`` open drift records."""
    member = make_user(f"member{size}")
    organization = make_organization(f"org{size}", owner=member)
    now = timezone.now()
    states = [{}, {"health": "Degraded"}, {"sync": "OutOfSync"}, {"found": False}, {"observed": False}]
    for p in range(size):
        for s, state in enumerate(states):
            project = make_project(organization, f"p{p}-{s}", cluster=cluster)
            for a in range(size):
                read_back(project, name=f"infra{a}", **state)
            DriftRecord.objects.bulk_create(
                DriftRecord(project=project, source="cluster", api_version="v1", kind="ConfigMap",
                            namespace=project.namespace, name=f"c{d}", reason="changed", first_seen=now,
                            last_seen=now) for d in range(size))
        make_project(organization, f"bare{p}")
    return member


@pytest.mark.parametrize("url", ["/dashboard/", "/dashboard/?show=attention", "/dashboard/?q=p"])
def test_the_dashboard_costs_the_same_queries_whatever_the_fleet(client_for, cluster, url):
    counts = []
    for size in (1, 4):
        client = client_for(populate(size, cluster))
        client.get(url)  # warm the session
        with CaptureQueriesContext(connection) as queries:
            assert client.get(url).status_code == 200
        counts.append(len(queries))

    assert counts == [5, 5]  # session, user, count, the page of projects with their health, organizations


def test_the_organization_page_shows_the_same_health(client_for, user, cluster):
    organization = make_organization("acme", owner=user)
    read_back(make_project(organization, "fine", cluster=cluster))
    broken = make_project(organization, "broken", cluster=cluster)
    read_back(broken, health="Degraded")

    page = client_for(user).get("/organizations/acme/").content.decode()

    assert badge(page, broken) == "degraded: Degraded"
    assert "Healthy / Synced" in page
