"""Load: 1,000 sync requests over HTTP across 50 repositories while a real worker mirrors them.

What must hold: no 5xx; every answer is a 202 naming a run (a coalescing promise: requests for a repository
join its queued run instead of piling up); once the queue drains, every internal mirror equals its source.
"""

from __future__ import annotations

import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests
from django.conf import settings
from django.test import Client

from console.models import RunStatus, SyncRun
from console.services.provisioning import forge_clone_url, repository_forge_path
from tests.console.test_tasks import wait_for, worker  # noqa: F401 - the real worker fixture
from tests.factories import make_member, make_project, make_repository, make_user
from tests.reliability.figures import record_figures
from tests.support.gitrepos import refs

pytestmark = [pytest.mark.broker, pytest.mark.django_db(transaction=True)]

REPOSITORIES = 50
REQUESTS = 1000
IN_FLIGHT = 40  # below PostgreSQL's default 100 connections, with room for the worker and other suites
CSRF = "b" * 32


@pytest.mark.timeout(900)
def test_a_thousand_sync_requests_coalesce_and_every_mirror_matches(
    live_server, forge_server, external_forge, worker  # noqa: F811
):
    developer = make_user("load-developer")
    project = make_project()
    make_member(developer, project)
    repositories, sources = [], {}
    for index in range(REPOSITORIES):
        name = f"app{index:02d}"
        work = external_forge.create(name)
        work.commit("second", {"VERSION": f"{index}\n"})
        work.publish(work.bare)
        repository = make_repository(project, name=name, external_url=external_forge.url(name))
        repository.internal_path = repository_forge_path(repository)
        repository.internal_url = forge_clone_url(repository)
        repository.save()
        repositories.append(repository)
        sources[repository.pk] = work.bare

    client = Client()
    client.force_login(developer)
    session_id = client.cookies["sessionid"].value

    def request_sync(number: int) -> tuple[int, int | None, float]:
        repository = repositories[number % REPOSITORIES]
        started = time.monotonic()
        response = requests.post(
            f"{live_server.url}/api/v1/repositories/{repository.pk}/sync/", json={},
            cookies={"sessionid": session_id, "csrftoken": CSRF}, headers={"X-CSRFToken": CSRF}, timeout=120,
        )
        elapsed = time.monotonic() - started
        run_id = response.json().get("id") if response.status_code == 202 else None
        return response.status_code, run_id, elapsed

    started = time.monotonic()
    with ThreadPoolExecutor(max_workers=IN_FLIGHT) as pool:
        answers = list(pool.map(request_sync, range(REQUESTS)))
    sent_in = time.monotonic() - started

    statuses = Counter(code for code, _, _ in answers)
    assert statuses == {202: REQUESTS}, statuses
    promised = {run_id for _, run_id, _ in answers}
    assert SyncRun.objects.filter(pk__in=promised).count() == len(promised)

    assert wait_for(lambda: not SyncRun.objects.filter(status__in=[RunStatus.QUEUED, RunStatus.RUNNING]).exists(),
                    timeout=600)
    drained_in = time.monotonic() - started
    outcomes = Counter(SyncRun.objects.values_list("status", flat=True))
    assert set(outcomes) <= {RunStatus.SUCCEEDED, RunStatus.NO_CHANGE}, outcomes
    for repository in repositories:
        repository.refresh_from_db()
        internal = settings.LOCAL_FORGE_ROOT / f"{repository.internal_path}.git"
        assert refs(internal) == refs(sources[repository.pk]), repository.name
    latencies = sorted(elapsed for _, _, elapsed in answers)
    record_figures("load", {
        "requests": REQUESTS, "repositories": REPOSITORIES, "in_flight": IN_FLIGHT, "status_5xx": 0,
        "runs_created": len(promised), "sent_s": round(sent_in, 1), "drained_s": round(drained_in, 1),
        "p50_ms": round(latencies[len(latencies) // 2] * 1000), "p95_ms": round(latencies[int(len(latencies) * .95)] * 1000),
    })
