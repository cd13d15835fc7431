"""Clusters registered against the Kubernetes API double, and provisioning runs executed in-process."""

from __future__ import annotations

import pytest

from console.services.actors import Actor
from console.services.clusters import cluster_register
from console.services.provisioning import provisioning_execute
from tests.factories import make_user
from tests.support.enqueue import stand_in


@pytest.fixture(autouse=True)
def fast_cluster_retries(settings):
    settings.CLUSTER_RETRIES = 1
    settings.CLUSTER_BACKOFF_SECONDS = 0.0
    settings.CLUSTER_TIMEOUT_SECONDS = 2.0


@pytest.fixture
def admin_actor(db):
    return Actor.for_user(make_user("root", staff=True), "admin")


@pytest.fixture
def register(admin_actor):
    def make(double, name: str = "prod", **fields):
        fields.setdefault("delivery_mode", "direct")
        fields.setdefault("is_default", True)
        return cluster_register(actor=admin_actor, name=name, api_url=double.url, token=double.token, **fields)

    return make


@pytest.fixture
def executed(monkeypatch):
    """Provisioning runs execute in this process on commit, as the worker would (retries re-run them)."""
    from console.services.runs import RetryLater

    def run(run_id, task_id=None):
        try:
            provisioning_execute(run_id=run_id, task_id=task_id or f"prov-{run_id}")
        except RetryLater:
            pass  # the test looks at the run; the real task would retry later

    stand_in(monkeypatch, "provisioning", run)
