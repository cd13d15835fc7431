"""A worker killed in the middle of a provisioning run: real Celery worker processes, a real broker, the
local forge over real git HTTP.

The platform (GitOps) repository's post-receive hook stalls the run's push after its refs were updated, so
the commit has landed when the worker is SIGKILLed. A second worker, running beat's sweeper every second,
notices the lapsed lease and redoes the run: the platform repository holds the change as exactly one commit
with the complete manifests, and the history one run, succeeded, on its second attempt.
"""

from __future__ import annotations

import time

import pytest

from console.models import ProvisioningRun, RunStatus, Trigger
from console.services.actors import Actor
from console.services.projects import project_provision_request
from tests.console.test_robustness_worker import STALLING_HOOK, wait_for, workers  # noqa: F401 - fixture
from tests.factories import make_project
from tests.reliability.figures import record_figures
from tests.support.gitrepos import git

pytestmark = [pytest.mark.broker, pytest.mark.django_db(transaction=True)]


def _done(run_id: int) -> bool:
    return ProvisioningRun.objects.get(pk=run_id).status not in (RunStatus.QUEUED, RunStatus.RUNNING)


def test_a_worker_killed_after_its_gitops_commit_landed_is_redone_with_one_commit_and_one_run(
        forge_server, workers, tmp_path, settings):  # noqa: F811
    from console.integrations import get_forge, platform_repository_path
    from console.services.provisioning import delivery_directory, project_manifest_spec
    from provisioning import manifests

    project = make_project()
    forge = get_forge()
    platform_path = platform_repository_path()
    forge.ensure_group(platform_path.rsplit("/", 1)[0], name="Platform")
    forge.ensure_repository(platform_path)
    platform = forge.repository_dir(platform_path)
    landed, release = tmp_path / "push-landed", tmp_path / "release-push"
    hook = platform / "hooks" / "post-receive"
    hook.write_text(STALLING_HOOK.format(landed=landed, release=release))
    hook.chmod(0o755)

    started = time.monotonic()
    first = workers.start("first")
    try:
        run = project_provision_request(actor=Actor.system(), project=project, trigger=Trigger.API).run
        assert wait_for(landed.exists), workers.log("first")
        claimed = ProvisioningRun.objects.get(pk=run.pk)
        assert claimed.status == RunStatus.RUNNING
        workers.kill(first)
        killed = time.monotonic()
        assert ProvisioningRun.objects.get(pk=run.pk).status == RunStatus.RUNNING  # nothing recorded yet

        workers.start("second", beat=True)
        assert wait_for(lambda: _done(run.pk), timeout=60), workers.log("second")
        redone_within = time.monotonic() - killed
    finally:
        release.touch()

    run.refresh_from_db()
    assert run.status == RunStatus.SUCCEEDED, (run.status, run.error_code, run.error_message, run.result,
                                               workers.log("second"))
    # Claimed exactly once more, by broker redelivery (RabbitMQ) or by the sweeper (Redis).
    assert run.attempts == 2, run.attempts
    redone_by = workers.recovered_by("second", run, claimed.task_id)
    assert redone_by, workers.log("second")
    assert ProvisioningRun.objects.filter(project=project).count() == 1

    # Exactly one commit for the change, with the complete manifests.
    directory = delivery_directory(project)
    commits = git("log", "--format=%H", "main", "--", directory, cwd=platform).split()
    assert len(commits) == 1, git("log", "--stat", "main", cwd=platform)
    message = git("log", "-1", "--format=%B", commits[0], cwd=platform)
    assert f"Provisioning run #{run.pk}" in message
    files = set(git("ls-tree", "-r", "--name-only", "main", directory, cwd=platform).split())
    wanted = manifests.render_files(project_manifest_spec(project))
    assert files == {f"{directory}/{name}" for name in wanted}
    for name, content in wanted.items():
        assert git("show", f"main:{directory}/{name}", cwd=platform) == content
    assert run.result["commit"] == commits[0] and run.result["delivered_by_earlier_attempt"] is True

    record_figures("faults-worker-provisioning", {
        "workers_killed": 1, "redone": 1, "redone_by": redone_by,
        "attempts": run.attempts, "gitops_commits": len(commits),
        "runs": 1, "redone_within_seconds": round(redone_within, 1),
        "total_seconds": round(time.monotonic() - started, 1),
    })
