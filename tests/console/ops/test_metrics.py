"""/metrics: behind the token, request latency by view, runs counted by outcome when their task finishes
them, the sweeper's corrections, and the state gauges read from the database at scrape (query count pinned)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone
from prometheus_client.parser import text_string_to_metric_families

from console.models import ImageRelease, RunStatus, SyncRun, Trigger
from console.ops import metrics
from console.services.actors import Actor
from console.services.syncs import sync_request
from console.tasks import sweep_stuck_runs_task, sync_execute_task
from tests.factories import make_project, make_repository

pytestmark = pytest.mark.django_db
TOKEN = "metrics-token-0123456789"


@pytest.fixture
def scrape(client, settings):
    settings.METRICS_TOKEN = TOKEN

    def get() -> dict[tuple[str, tuple], float]:
        response = client.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}", HTTP_HOST="10.0.0.7:8000")
        assert response.status_code == 200
        assert response["Content-Type"].startswith("text/plain")
        samples = {}
        for family in text_string_to_metric_families(response.content.decode()):
            for sample in family.samples:
                samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
        return samples

    return get


def value(samples, name, **labels) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def test_metrics_are_off_without_a_token_and_refused_with_a_wrong_one(client, settings):
    settings.METRICS_TOKEN = ""
    assert client.get("/metrics").status_code == 404
    assert client.get("/metrics").json()["code"] == "metrics_disabled"

    settings.METRICS_TOKEN = TOKEN
    assert client.get("/metrics").status_code == 401
    refused = client.get("/metrics", HTTP_AUTHORIZATION="Bearer not-the-token")
    assert refused.status_code == 401 and refused["WWW-Authenticate"] == "Bearer"
    assert client.get("/metrics", HTTP_AUTHORIZATION=f"Token {TOKEN}").status_code == 401


def test_request_latency_is_recorded_by_view_name(client, scrape):
    before = scrape()
    for _ in range(3):
        assert client.get("/accounts/login/").status_code == 200
    client.get("/no-such-page/")

    after = scrape()
    assert value(after, "dso_http_requests_total", view="login", method="GET", status="2xx") == \
        value(before, "dso_http_requests_total", view="login", method="GET", status="2xx") + 3
    assert value(after, "dso_http_request_duration_seconds_count", view="login", method="GET") == \
        value(before, "dso_http_request_duration_seconds_count", view="login", method="GET") + 3
    assert value(after, "dso_http_requests_total", view="unresolved", method="GET", status="4xx") >= 1


def test_state_gauges_come_from_the_database_in_a_few_queries(scrape, django_assert_num_queries):
    project = make_project()
    queued = make_repository(project)
    running = make_repository(project)
    SyncRun.objects.create(repository=queued, trigger=Trigger.API)
    SyncRun.objects.create(repository=running, trigger=Trigger.API, status=RunStatus.RUNNING,
                           claimed_at=timezone.now() - timedelta(minutes=5))
    ImageRelease.objects.create(project=project, image="registry.example.com/app", tag="1.2.3",
                                source=ImageRelease.Source.CI_REPORT)

    from console.services.run_kinds import KINDS

    with django_assert_num_queries(len(KINDS) + 2):  # one per run kind, one for the warnings, one for drift
        samples = scrape()

    assert value(samples, "dso_runs", kind="sync", status="queued") == 1
    assert value(samples, "dso_runs", kind="sync", status="running") == 1
    assert value(samples, "dso_runs", kind="provisioning", status="queued") == 0
    assert value(samples, "dso_run_oldest_age_seconds", kind="sync", status="running") >= 300
    assert value(samples, "dso_redeploy_warnings_open") == 1
    assert samples[("dso_drift_open", ())] == 0  # present, and nothing drifted


def test_a_state_gauge_can_be_plugged_in_and_a_failing_one_is_skipped(scrape, monkeypatch):
    from prometheus_client.core import GaugeMetricFamily

    def drift():
        family = GaugeMetricFamily("dso_drift_open", "test")
        family.add_metric([], 7)
        return [family]

    def broken():
        raise RuntimeError("this reader fails")

    monkeypatch.setitem(metrics._STATE_READERS, "drift", drift)
    monkeypatch.setitem(metrics._STATE_READERS, "broken", broken)

    samples = scrape()

    assert value(samples, "dso_drift_open") == 7
    assert value(samples, "dso_redeploy_warnings_open") == 0


def test_a_finished_sync_is_counted_by_outcome_with_its_duration_and_queue_wait(
        scrape, forge_server, external_forge):
    external_forge.create("app")
    project = make_project()
    repository = make_repository(project, name="app", external_url=external_forge.url("app"))
    from console.services.provisioning import forge_clone_url, repository_forge_path

    repository.internal_path = repository_forge_path(repository)
    repository.internal_url = forge_clone_url(repository)
    repository.save()
    run = sync_request(actor=Actor.system(), repository=repository, trigger=Trigger.API).run
    before = scrape()

    sync_execute_task.apply(args=[run.pk])

    run.refresh_from_db()
    assert run.status == RunStatus.SUCCEEDED, run.error_message
    after = scrape()
    labels = {"kind": "sync", "outcome": "succeeded"}
    assert value(after, "dso_runs_finished_total", **labels) == value(before, "dso_runs_finished_total", **labels) + 1
    assert value(after, "dso_run_duration_seconds_count", **labels) == \
        value(before, "dso_run_duration_seconds_count", **labels) + 1
    assert value(after, "dso_run_queue_wait_seconds_count", kind="sync") == \
        value(before, "dso_run_queue_wait_seconds_count", kind="sync") + 1

    sync_execute_task.apply(args=[run.pk])  # a redelivered message for a finished run: not counted twice
    assert value(scrape(), "dso_runs_finished_total", **labels) == value(after, "dso_runs_finished_total", **labels)


def test_the_sweepers_corrections_are_counted(scrape, settings):
    repository = make_repository()
    stuck = SyncRun.objects.create(repository=repository, trigger=Trigger.API, status=RunStatus.RUNNING,
                                   task_id="gone", started_at=timezone.now() - timedelta(hours=3))
    SyncRun.objects.filter(pk=stuck.pk).update(claimed_at=timezone.now() - timedelta(hours=3))
    settings.CELERY_TASK_ALWAYS_EAGER = False
    before = scrape()

    sweep_stuck_runs_task.apply()

    stuck.refresh_from_db()
    assert stuck.status == RunStatus.FAILED
    assert value(scrape(), "dso_sweeper_corrections_total", kind="sync", action="failed") == \
        value(before, "dso_sweeper_corrections_total", kind="sync", action="failed") + 1
