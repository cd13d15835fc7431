"""0002_history on rows recorded before it: each change took effect at its own commit, in the order the
history showed, with the place key recording now uses (so a rescan of those commits adds no duplicate)."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from console.models.images import place_key

BEFORE = [("console", "0001_initial")]
AFTER = [("console", "0002_history")]


@pytest.mark.django_db(transaction=True)
def test_recorded_changes_get_their_effective_commit_order_and_place_key():
    executor = MigrationExecutor(connection)
    executor.migrate(BEFORE)
    old = executor.loader.project_state(BEFORE).apps
    organization = old.get_model("console", "Organization").objects.create(slug="acme", name="ACME")
    project = old.get_model("console", "Project").objects.create(organization=organization, slug="shop", name="Shop")
    repository = old.get_model("console", "Repository").objects.create(project=project, name="deploy",
                                                                       external_url="http://127.0.0.1/deploy.git")
    Change = old.get_model("console", "ImageTagChange")
    at = dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc)
    # Two scans, each numbering its rows from 0: only time, then scan position, gave the order.
    for sha, sequence, hours, tag in (("b" * 40, 0, 2, "1.1"), ("a" * 40, 0, 1, "1.0"), ("c" * 40, 1, 2, "1.2")):
        Change.objects.create(repository=repository, file="values.yaml", location="image", image="reg/x",
                              kind="changed", new_tag=tag, commit_sha=sha, commit_subject=f"to {tag}",
                              committed_at=at + dt.timedelta(hours=hours), sequence=sequence)

    executor = MigrationExecutor(connection)
    executor.migrate(AFTER)
    new = executor.loader.project_state(AFTER).apps
    rows = list(new.get_model("console", "ImageTagChange").objects.order_by("sequence"))
    try:
        assert [(r.new_tag, r.sequence) for r in rows] == [("1.0", 1), ("1.1", 2), ("1.2", 3)]
        assert all(r.effective_sha == r.commit_sha and r.effective_subject == r.commit_subject for r in rows)
        assert all(r.effective_committed_at == r.committed_at and r.on_deploy_line and r.own_change for r in rows)
        assert {r.place_key for r in rows} == {place_key("values.yaml", "image", "reg/x")}
    finally:
        executor.loader.build_graph()
        MigrationExecutor(connection).migrate(executor.loader.graph.leaf_nodes())


@pytest.mark.django_db(transaction=True)
def test_rollouts_failed_before_notifications_existed_are_not_notified_after_the_upgrade():
    before, after = [("console", "0007_run_causes")], [("console", "0008_rollout_history_and_notifications")]
    executor = MigrationExecutor(connection)
    executor.migrate(before)
    old = executor.loader.project_state(before).apps
    organization = old.get_model("console", "Organization").objects.create(slug="acme", name="ACME")
    project = old.get_model("console", "Project").objects.create(organization=organization, slug="shop", name="Shop")
    repository = old.get_model("console", "Repository").objects.create(project=project, name="deploy",
                                                                       external_url="http://127.0.0.1/deploy.git")
    Bump, Rollout = old.get_model("console", "ImageBump"), old.get_model("console", "BumpRollout")
    for tag, status in (("1.0", "deployed"), ("1.1", "failed"), ("1.2", "stuck"), ("1.3", "waiting")):
        bump = Bump.objects.create(repository=repository, image="reg/x", tag=tag, trigger="api", status="succeeded",
                                   commit_sha="a" * 40)
        Rollout.objects.create(bump=bump, status=status)

    executor = MigrationExecutor(connection)
    executor.migrate(after)
    new = executor.loader.project_state(after).apps
    try:
        rollouts = new.get_model("console", "BumpRollout").objects.order_by("bump__tag")
        assert [(r.status, r.notified_status) for r in rollouts] == [
            ("deployed", ""), ("failed", "failed"), ("stuck", "stuck"), ("waiting", "")]
    finally:
        executor.loader.build_graph()
        MigrationExecutor(connection).migrate(executor.loader.graph.leaf_nodes())
