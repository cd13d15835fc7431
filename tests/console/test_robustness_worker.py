"""A worker killed in the middle of a sync: real Celery worker processes, a real broker, real git over HTTP.

The internal repository's post-receive hook stalls the first push after its refs are updated, so the push
has landed when the worker is SIGKILLed. A second worker, running beat's sweeper every second, notices the
lapsed lease and redoes the run; the ref changes are recorded once, against what the console last recorded.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.db import connection

from console.celery import app
from console.models import RunStatus, SyncRun, Trigger
from console.services.actors import Actor
from console.services.syncs import sync_request
from tests.factories import make_project, make_repository
from tests.support.gitrepos import refs

pytestmark = [pytest.mark.broker, pytest.mark.django_db(transaction=True)]

ROOT = Path(__file__).resolve().parents[2]
LEASE_SECONDS = 2

STALLING_HOOK = """#!/bin/sh
cat >/dev/null
# The first push stalls here, after its refs were updated, until the test releases it (or two minutes pass).
if [ ! -e '{landed}' ]; then
    touch '{landed}'
    n=0
    while [ ! -e '{release}' ] && [ $n -lt 600 ]; do sleep 0.2; n=$((n+1)); done
fi
"""


def wait_for(predicate, timeout: float = 90.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.2)
    return False


class Workers:
    """Celery worker processes sharing this test's database, broker and data folders."""

    def __init__(self, tmp_path: Path, settings):
        database = connection.settings_dict
        self.tmp_path = tmp_path
        self.env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "console.settings",
            "DATABASE_URL": f"postgres://{database['USER']}@{database['HOST']}:{database['PORT']}/{database['NAME']}",
            "CELERY_BROKER_URL": settings.CELERY_BROKER_URL,
            "DSO_FORGE": "local",
            "DSO_LOCAL_FORGE_ROOT": str(settings.LOCAL_FORGE_ROOT),
            "DSO_LOCAL_FORGE_URL": settings.LOCAL_FORGE_URL,
            "DSO_LOCAL_FORGE_WRITE_TOKEN": settings.LOCAL_FORGE_WRITE_TOKEN,
            "DSO_LOCAL_FORGE_READ_TOKEN": settings.LOCAL_FORGE_READ_TOKEN,
            "DSO_MIRROR_CACHE_DIR": str(settings.MIRROR_CACHE_DIR),
            "DSO_DELIVERY_WORK_DIR": str(settings.DELIVERY_WORK_DIR),
            "DSO_ALLOW_HTTP_LOOPBACK": "1",
            "DSO_RUN_LEASE_SECONDS": str(LEASE_SECONDS),
            "DSO_RUN_SWEEP_INTERVAL_SECONDS": "1",
            "DSO_TASKS_EAGER": "0",
        }
        if database.get("PASSWORD"):
            self.env["DATABASE_URL"] = self.env["DATABASE_URL"].replace("@", f":{database['PASSWORD']}@", 1)
        self.processes: list[subprocess.Popen] = []

    def start(self, name: str, *, beat: bool = False) -> subprocess.Popen:
        command = [sys.executable, "-m", "celery", "-A", "console", "worker", "--pool=solo", "-Q", "dso",
                   "-n", f"{name}@%h", "--without-gossip", "--without-mingle", "--without-heartbeat",
                   "-l", "INFO"]
        if beat:
            command += ["--beat", "--schedule", str(self.tmp_path / f"{name}-beat-schedule")]
        log = open(self.tmp_path / f"{name}.log", "w")  # noqa: SIM115 - closed with the process
        # Its own session: killing the group takes git's child processes along, as losing a host would.
        process = subprocess.Popen(command, cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT,
                                   start_new_session=True)
        process.log = log  # type: ignore[attr-defined]
        self.processes.append(process)
        return process

    def kill(self, process: subprocess.Popen) -> None:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=30)
        process.log.close()  # type: ignore[attr-defined]

    def log(self, name: str) -> str:
        return self.full_log(name)[-4000:]

    def full_log(self, name: str) -> str:
        return (self.tmp_path / f"{name}.log").read_text(errors="replace")

    def recovered_by(self, name: str, run, dead_task: str) -> str | None:
        """How worker `name` got the dead worker's run back, or None when neither way shows.

        RabbitMQ hands the dead worker's unacknowledged message to the next one at once (same task id,
        which may reclaim its own run); Redis holds it until its visibility timeout, so the sweeper first
        relaunches the run under a new task id, which it logs."""
        if run.task_id == dead_task:
            return "broker redelivery"
        if f"redoing it as task {run.task_id}" in self.full_log(name):
            return "sweeper"
        return None


@pytest.fixture
def workers(settings, tmp_path):
    if connection.vendor != "postgresql":
        pytest.skip("worker processes share the test database: needs PostgreSQL (make test)")
    app.conf.task_always_eager = False
    app.conf.broker_url = settings.CELERY_BROKER_URL
    with app.connection_for_write() as broker:
        try:
            broker.default_channel.queue_purge("dso")
        except Exception:  # noqa: BLE001 - no queue yet
            pass
    pool = Workers(tmp_path, settings)
    try:
        yield pool
    finally:
        for process in pool.processes:
            pool.kill(process)


def test_a_worker_killed_after_its_push_landed_is_redone_and_its_changes_recorded_once(
        forge_server, external_forge, workers, tmp_path, settings):
    from console.integrations import get_forge
    from console.services.provisioning import ensure_project_groups, forge_clone_url, repository_forge_path

    source = external_forge.create("app")
    source.tag("v1")
    source.publish(source.bare)  # type: ignore[attr-defined]
    project = make_project()
    repository = make_repository(project, name="app", external_url=external_forge.url("app"))
    repository.internal_path = repository_forge_path(repository)
    repository.internal_url = forge_clone_url(repository)
    repository.save()
    forge = get_forge()
    ensure_project_groups(project, forge)
    forge.ensure_repository(repository.internal_path)
    internal = forge.repository_dir(repository.internal_path)
    landed, release = tmp_path / "push-landed", tmp_path / "release-push"
    hook = internal / "hooks" / "post-receive"
    hook.write_text(STALLING_HOOK.format(landed=landed, release=release))
    hook.chmod(0o755)

    first = workers.start("first")
    try:
        run = sync_request(actor=Actor.system(), repository=repository, trigger=Trigger.API).run
        assert wait_for(landed.exists), workers.log("first")
        assert refs(internal) == refs(source.bare)  # type: ignore[attr-defined] - the push landed
        claimed = SyncRun.objects.get(pk=run.pk)
        assert claimed.status == RunStatus.RUNNING
        # The heartbeat renews the lease while the push stalls.
        assert wait_for(lambda: SyncRun.objects.get(pk=run.pk).lease_expires_at
                        > claimed.lease_expires_at), workers.log("first")

        workers.kill(first)
        dead_task = claimed.task_id
        assert SyncRun.objects.get(pk=run.pk).status == RunStatus.RUNNING  # nobody recorded anything yet

        workers.start("second", beat=True)
        assert wait_for(lambda: SyncRun.objects.get(pk=run.pk).status not in (RunStatus.QUEUED, RunStatus.RUNNING)), \
            workers.log("second")
    finally:
        release.touch()

    run.refresh_from_db()
    assert run.status == RunStatus.SUCCEEDED, (run.error_code, run.error_message, workers.log("second"))
    # Claimed exactly once more, by either of the two correct ways back.
    assert run.attempts == 2, run.attempts
    assert workers.recovered_by("second", run, dead_task), workers.log("second")
    assert refs(internal) == refs(source.bare)  # type: ignore[attr-defined]
    recorded = sorted((c.ref, c.old_sha, c.new_sha, c.kind) for c in run.ref_changes.all())
    assert recorded == [
        ("refs/heads/main", "", source.sha(), "created"),
        ("refs/tags/v1", "", source.sha(), "created"),
    ]

    # The next sync finds nothing new: each change is in the history exactly once.
    again = sync_request(actor=Actor.system(), repository=repository, trigger=Trigger.API).run
    assert wait_for(lambda: SyncRun.objects.get(pk=again.pk).status not in (RunStatus.QUEUED, RunStatus.RUNNING)), \
        workers.log("second")
    again.refresh_from_db()
    assert again.status == RunStatus.NO_CHANGE, (again.error_code, again.error_message)
    assert not again.ref_changes.exists()
    assert SyncRun.objects.filter(repository=repository).count() == 2
