"""Beat runs the read-back pass every DSO_READBACK_INTERVAL_SECONDS (60 s by default) by its task name."""

from __future__ import annotations

import pytest

from console.models import ReadbackPass


def test_beat_schedules_the_pass_every_minute_by_default():
    from django.conf import settings

    entry = settings.CELERY_BEAT_SCHEDULE["read-back"]
    assert entry["task"] == "dso.readback.pass"
    assert entry["schedule"] == settings.READBACK_INTERVAL_SECONDS == 60.0
    assert entry["options"]["expires"] == 60.0


@pytest.mark.django_db
def test_the_tasks_are_registered_under_their_names_and_run_a_pass():
    from console import tasks
    from console.celery import app

    assert {"dso.readback.pass", "dso.readback.project"} <= set(app.tasks)
    result = tasks.readback_pass_task()
    assert ReadbackPass.objects.get(pk=result["pass"]).finished_at is not None
    # A refresh of a project that is gone ends quietly.
    assert tasks.readback_project_task(10**9) is None
