"""Faults: the broker stops while people keep asking for syncs, then comes back empty.

A private Redis, started by this test on a free loopback port (never the shared one), plays the broker.
What must hold: every request during the outage is answered 202 and recorded as a queued run; nothing is
lost once the broker is back (the sweeper re-enqueues runs whose message never arrived or was lost with
the broker's memory); every run ends, each repository's changes are recorded once, and mirrors equal
their sources.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from collections import Counter

import kombu.pools
import pytest
import requests
from celery.contrib.testing.worker import start_worker
from celery.signals import task_postrun
from django.test import Client

from console.celery import app
from console.models import RefChange, RunStatus, SyncRun
from console.services.provisioning import forge_clone_url, repository_forge_path
from console.services.sweeper import runs_sweep
from tests.console.test_tasks import close_worker_connections, wait_for
from tests.factories import make_member, make_project, make_repository, make_user
from tests.reliability.figures import record_figures
from tests.support.gitrepos import refs

pytestmark = pytest.mark.django_db(transaction=True)
REDIS = shutil.which("redis-server")
CSRF = "c" * 32


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class PrivateRedis:
    def __init__(self, port: int):
        self.port = port
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.process = subprocess.Popen(
            [REDIS, "--bind", "127.0.0.1", "--port", str(self.port), "--save", "", "--appendonly", "no"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        assert wait_for(self._answers, timeout=15), "the private Redis did not start"

    def stop(self) -> None:
        if self.process is not None:
            self.process.kill()
            self.process.wait(timeout=15)
            self.process = None

    def _answers(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=1) as connection:
                connection.sendall(b"PING\r\n")
                return connection.recv(16).startswith(b"+PONG")
        except OSError:
            return False


@pytest.fixture
def private_redis(settings):
    redis = PrivateRedis(free_port())
    redis.start()
    previous = app.conf.broker_url
    settings.CELERY_BROKER_URL = redis.url
    app.conf.broker_url = redis.url
    app.conf.task_always_eager = False
    # Fail fast while the broker is down: the request must not hang on publish retries.
    app.conf.broker_connection_timeout = 1
    app.conf.task_publish_retry_policy = {"max_retries": 1, "interval_start": 0, "interval_step": 0.2}
    reset_connections()
    try:
        yield redis
    finally:
        redis.stop()
        app.conf.broker_url = previous
        reset_connections()


def reset_connections() -> None:
    """Drop pooled broker connections, as a restarted process would; the next publish connects anew."""
    kombu.pools.reset()  # closes and forgets the producer pools kombu keeps per connection
    if app._pool is not None:
        app._pool.force_close_all()
        app._pool = None
    app.amqp._producer_pool = None


@pytest.mark.skipif(REDIS is None, reason="redis-server is not installed")
@pytest.mark.timeout(600)
def test_requests_during_a_broker_outage_are_not_lost(live_server, forge_server, external_forge, private_redis,
                                                      settings):
    settings.STALE_QUEUED_AFTER_SECONDS = 0
    developer = make_user("outage-developer")
    project = make_project()
    make_member(developer, project)
    repositories, sources = [], {}
    for index in range(8):
        name = f"svc{index}"
        work = external_forge.create(name)
        repository = make_repository(project, name=name, external_url=external_forge.url(name))
        repository.internal_path = repository_forge_path(repository)
        repository.internal_url = forge_clone_url(repository)
        repository.save()
        repositories.append(repository)
        sources[repository.pk] = work.bare

    client = Client()
    client.force_login(developer)
    cookies = {"sessionid": client.cookies["sessionid"].value, "csrftoken": CSRF}

    def request_sync(repository) -> int:
        response = requests.post(f"{live_server.url}/api/v1/repositories/{repository.pk}/sync/", json={},
                                 cookies=cookies, headers={"X-CSRFToken": CSRF}, timeout=60)
        return response.status_code

    before = [request_sync(repository) for repository in repositories[:4]]  # published, not consumed yet
    private_redis.stop()
    reset_connections()
    during = [request_sync(repository) for repository in repositories[4:]]
    private_redis.start()  # back, and empty: the first four messages died with it
    reset_connections()

    assert before == [202] * 4 and during == [202] * 4
    assert SyncRun.objects.filter(status=RunStatus.QUEUED).count() == len(repositories)

    task_postrun.connect(close_worker_connections)
    try:
        with start_worker(app, queues=["dso"], perform_ping_check=False, pool="solo", shutdown_timeout=30):
            def drained() -> bool:
                runs_sweep()
                return not SyncRun.objects.filter(status__in=[RunStatus.QUEUED, RunStatus.RUNNING]).exists()

            started = time.monotonic()
            assert wait_for(drained, timeout=240)
            recovered_in = time.monotonic() - started
    finally:
        task_postrun.disconnect(close_worker_connections)

    outcomes = Counter(SyncRun.objects.values_list("status", flat=True))
    assert outcomes == {RunStatus.SUCCEEDED: len(repositories)}, outcomes
    for repository in repositories:
        internal = settings.LOCAL_FORGE_ROOT / f"{repository.internal_path}.git"
        assert refs(internal) == refs(sources[repository.pk])
        changes = RefChange.objects.filter(sync_run__repository=repository)
        assert changes.count() == len(refs(sources[repository.pk])), "each change recorded exactly once"
    record_figures("broker outage", {"requests": 2 * 4, "answered_202": before.count(202) + during.count(202),
                                     "lost": 0, "recovered_s": round(recovered_in, 1)})
