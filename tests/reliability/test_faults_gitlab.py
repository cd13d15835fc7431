"""GitLab failing at each step: every REST call of a provisioning run and a sync, answered in turn by a 500,
a timeout, and (on creates, where GitLab can answer it) a 409.

A clean run is recorded first to learn the calls. Then, for each call and each fault, a fresh GitLab double
and a fresh organization go through the same flow with that one call failing once. The runs go through the
real Celery tasks (eager), so a transient failure retries the way a worker retries it. Every case must end
with the runs succeeded, nothing duplicated in GitLab, and the failed attempt's reason recorded on the run.

- 500: answered before GitLab does anything.
- timeout: GitLab does the work, then answers after the client gave up (the nastiest case: a retry meets
  what the lost attempt created).
- 409: GitLab does the work and answers 409, as when a racing worker created it first: the adapter adopts.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from console import tasks
from console.integrations import _build_forge
from console.models import ProvisioningRun, RunStatus, SyncRun
from console.services.actors import Actor
from console.services.organizations import organization_create
from console.services.projects import project_create
from console.services.repositories import repository_register
from tests.doubles.gitlab.server import GitLabDouble
from tests.factories import make_user
from tests.reliability.figures import record_figures
from tests.support.enqueue import stand_in
from tests.support.gitrepos import refs

pytestmark = pytest.mark.django_db

TIMEOUT = 0.5  # the adapter's per-request timeout in this test; an injected delay exceeds it


@pytest.fixture
def eager_tasks(monkeypatch):
    """Enqueue through the real tasks, applied in-process: RetryLater becomes a Celery retry (eager retries
    run at once, so the backoff countdown costs no time here)."""
    stand_in(monkeypatch, "provisioning",
             lambda run_id, task_id=None: tasks.provisioning_execute_task.apply(args=[run_id]))
    stand_in(monkeypatch, "sync", lambda run_id, task_id=None: tasks.sync_execute_task.apply(args=[run_id]))


def _use(settings, double: GitLabDouble, root: Path) -> None:
    settings.FORGE_KIND = "gitlab"
    settings.GITLAB_URL = double.url
    settings.GITLAB_TOKEN = double.admin_token
    settings.GITLAB_BOT_USERNAME = "dso-console-bot"
    settings.GITLAB_BOT_TOKEN = double.bot_token
    settings.GITLAB_GIT_URL = double.git.url
    settings.GITLAB_TIMEOUT_SECONDS = TIMEOUT
    settings.DELIVERY_WORK_DIR = root / "delivery"
    settings.MIRROR_CACHE_DIR = root / "mirror-cache"
    _build_forge.cache_clear()


def _flow(case: int, external_url: str, capture) -> tuple[list, SyncRun]:
    """Provision a project, register a repository (provisioning + first sync); the runs it made."""
    actor = Actor.for_user(make_user(f"owner{case}"), "api")
    organization = organization_create(actor=actor, slug=f"org{case}", name=f"Org {case}")
    with capture(execute=True):
        project, _ = project_create(actor=actor, organization=organization, slug="shop", name="Shop")
    with capture(execute=True):
        repository = repository_register(actor=actor, project=project, name="backend", external_url=external_url)
    runs = list(ProvisioningRun.objects.filter(project=project).order_by("pk"))
    return runs, SyncRun.objects.get(repository=repository)


def _pattern(path: str) -> str:
    """A logged path as an exact pattern, ids generalized (they differ from one double to the next)."""
    def part(text: str) -> str:
        if text.isdigit():
            return r"\d+"
        return r"org\d+" if re.fullmatch(r"org\d+", text) else re.escape(text)  # each case its own org

    return "^" + "/".join(part(text) for text in path.split("/")) + "$"


def _duplicates(state, case: int) -> list[str]:
    """What GitLab holds more than once: groups/projects by path, active deploy tokens, branch rules."""
    found = []
    paths = [g.full_path for g in state.groups.values()] + [p.full_path for p in state.projects.values()]
    found += [f"path {p}" for p in set(paths) if paths.count(p) > 1]
    expected = {"dso", f"dso/org{case}", f"dso/org{case}/shop", "dso/platform", "dso/platform/gitops",
                f"dso/org{case}/shop/backend"}
    found += [f"unexpected {p}" for p in set(paths) - expected]
    found += [f"missing {p}" for p in expected - set(paths)]
    active = [(t.group_id, t.project_id, t.name) for t in state.deploy_tokens.values() if not t.revoked]
    found += [f"deploy tokens {key}" for key in set(active) if active.count(key) > 1]
    if len(active) != 1:
        found.append(f"{len(active)} active deploy tokens")
    rules = [(r.project_id, r.name) for r in state.protected.values()]
    found += [f"protected branch {key}" for key in set(rules) if rules.count(key) > 1]
    return found


def test_every_gitlab_call_failing_once_is_retried_to_success_without_duplicates(
        settings, tmp_path, external_forge, eager_tasks, django_capture_on_commit_callbacks):
    settings.FORGE_ROOT_GROUP = "dso"
    app = external_forge.create("app")
    capture = django_capture_on_commit_callbacks

    # A clean run first: the calls to walk.
    with GitLabDouble(tmp_path / "clean" / "gitlab") as double:
        _use(settings, double, tmp_path / "clean")
        runs, sync = _flow(0, external_forge.url("app"), capture)
        assert [r.status for r in runs] == [RunStatus.SUCCEEDED] * len(runs), [r.error_message for r in runs]
        assert sync.status == RunStatus.SUCCEEDED, sync.error_message
        calls = list(dict.fromkeys((r.method, _pattern(r.path)) for r in double.state.requests))
    assert len(calls) >= 10, calls
    print("calls walked:", *calls, sep="\n  ")

    cases = []
    for method, pattern in calls:
        cases.append((method, pattern, {"status": 500}))
        cases.append((method, pattern, {"delay": TIMEOUT + 0.3, "after": True}))
        if method == "POST" and re.search(r"/(groups|projects|protected_branches)\$$", pattern):
            # Where GitLab answers 409: a create of what exists. (Deploy tokens may share a name.)
            cases.append((method, pattern, {"status": 409, "after": True}))

    outcomes = []
    for number, (method, pattern, fault_spec) in enumerate(cases, start=1):
        root = tmp_path / f"case{number}"
        with GitLabDouble(root / "gitlab") as double:
            _use(settings, double, root)
            fault = double.state.faults.add(method, pattern, **fault_spec)
            runs, sync = _flow(number, external_forge.url("app"), capture)
            label = f"{method} {pattern} {fault_spec}"
            assert fault.hits == 1, f"{label}: the call was not made"
            failed = [r for r in [*runs, sync] if r.status != RunStatus.SUCCEEDED]
            assert not failed, (label, [(r.status, r.error_code, r.error_message) for r in failed])
            retried = [r for r in [*runs, sync] if r.attempts > 1]
            if fault_spec.get("status") != 409:  # a transient failure costs an attempt; a 409 is adopted
                assert len(retried) == 1, (label, [(r, r.attempts) for r in [*runs, sync]])
                assert retried[0].attempts == 2
                assert retried[0].error_code == "unreachable", label
                assert "retried" in retried[0].error_message and "GitLab" in retried[0].error_message, label
                assert double.admin_token not in retried[0].error_message
            assert _duplicates(double.state, number) == [], label
            assert refs(double.repo_dir(f"dso/org{number}/shop/backend")) == refs(app.bare), label
            outcomes.append(len(retried))

    record_figures("faults-gitlab", {
        "rest_calls_walked": len(calls),
        "faults_injected": len(cases),
        "recovered": len(outcomes),
        "recovered_by_retry": sum(outcomes),
        "adopted_409": sum(1 for _, _, spec in cases if spec.get("status") == 409),
        "duplicates": 0,
    })
