"""Pending work on the page and the live fragments portal.js polls: a bump in progress replaces its bump
button, and once the work ends the fragments say so and show the outcome."""

from __future__ import annotations

import pytest
from django.utils import timezone

from console.models import ProvisioningRun, RunStatus, SyncRun
from console.models.images import ImageBump
from tests.console.portal.test_images import (  # noqa: F401 - fixtures
    BACKEND, backend, bump_from_warning, deploy, enqueued_bumps, release,
)
from tests.factories import make_repository

pytestmark = pytest.mark.django_db


def test_a_queued_bump_shows_in_place_of_its_button_until_it_ends(client_for, user, owner_project, deploy, backend):
    waiting = release(owner_project, backend)
    client = client_for(user)
    bump_from_warning(client, deploy)
    bump = ImageBump.objects.get()

    page = client.get(f"/projects/{owner_project.pk}/").content.decode()
    warnings = page[page.index('id="live-warnings"'):page.index('id="live-provisioning"')]
    assert f"bump #{bump.pk} to <code>1.4.0</code>" in warnings
    assert f"Bump deploy-helm chart/values.yaml image to 1.4.0" not in warnings  # no second bump button
    assert f'data-live-url="/projects/{owner_project.pk}/live/" data-live-active' in page
    assert f"bump #{bump.pk} of <code>{BACKEND}</code> to <code>1.4.0</code>" in page  # in "In progress"

    live = client.get(f"/projects/{owner_project.pk}/live/").content.decode()
    assert "data-live-active" in live
    for section in ("live-pending", "live-warnings", "live-provisioning", "live-syncs"):
        assert f'id="{section}"' in live

    # The worker pushed the bump, its sync recorded the new tag and the warning cleared.
    sync = SyncRun.objects.create(repository=deploy, trigger="portal", status=RunStatus.SUCCEEDED,
                                  trigger_detail={"by": "alice", "interface": "system", "image_bump": bump.pk})
    ImageBump.objects.filter(pk=bump.pk).update(status=RunStatus.SUCCEEDED, finished_at=timezone.now(),
                                                sync_run=sync)
    waiting.resolved_at = timezone.now()
    waiting.save()

    after = client.get(f"/projects/{owner_project.pk}/live/").content.decode()
    assert "data-live-active" not in after and "In progress" not in after
    assert "redeploy-warnings" not in after
    assert f'id="sync-run-{sync.pk}"' in after  # the bump's sync, without a reload
    assert f"DSO Console after bump #{bump.pk}, asked by alice" in after


def test_provisioning_and_syncs_in_progress_are_listed(client_for, user, owner_project):
    repository = make_repository(owner_project, "api")
    run = ProvisioningRun.objects.create(project=owner_project, trigger="portal", cause="repository_added",
                                         causes=[{"cause": "repository_added", "subject": "api"}],
                                         status=RunStatus.RUNNING)
    sync = SyncRun.objects.create(repository=repository, trigger="initial")

    page = client_for(user).get(f"/projects/{owner_project.pk}/").content.decode()
    pending = page[page.index('id="live-pending"'):page.index('id="live-warnings"')]
    assert f"provision #{run.pk}: repository added (api)" in pending
    assert f"sync #{sync.pk} of" in pending
    repo_live = client_for(user).get(f"/repositories/{repository.pk}/live/").content.decode()
    assert f"sync #{sync.pk} of" in repo_live and 'id="live-history"' in repo_live


def test_nothing_pending_means_no_polling(client_for, user, owner_project):
    page = client_for(user).get(f"/projects/{owner_project.pk}/").content.decode()
    assert 'id="live-pending"' in page and "data-live-active" not in page and "In progress" not in page


def test_who_asked_is_said_once(client_for, user, owner_project):
    repository = make_repository(owner_project, "api")
    by_console = SyncRun.objects.create(repository=repository, trigger="schedule", status=RunStatus.SUCCEEDED,
                                        trigger_detail={"by": "DSO Console", "interface": "system"})
    by_api = SyncRun.objects.create(repository=repository, trigger="api", status=RunStatus.FAILED,
                                    trigger_detail={"by": "API", "interface": "api"})
    by_ci = SyncRun.objects.create(repository=repository, trigger="ci", status=RunStatus.FAILED,
                                   trigger_detail={"by": "release-token", "interface": "ci"})

    page = client_for(user).get(f"/repositories/{repository.pk}/").content.decode()

    def row(run):
        start = page.index(f'id="sync-run-{run.pk}"')
        return page[start:page.index("</tr>", start)]

    assert row(by_console).count("DSO Console") == 1 and "DSO Console by DSO Console" not in page
    assert row(by_api).count("API") == 1
    assert "GitLab CI" in row(by_ci) and "release-token" in row(by_ci) and ">Ci<" not in page
