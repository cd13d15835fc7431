"""console.integrations.get_cluster: one adapter per cluster while the row stays the same."""

from __future__ import annotations

import pytest

from console.integrations import get_cluster
from console.services.clusters import cluster_update

pytestmark = pytest.mark.django_db


def test_the_adapter_is_reused_until_the_cluster_changes(kube_double, register, admin_actor, settings):
    cluster = register(kube_double)
    first = get_cluster(cluster)

    assert get_cluster(cluster) is first
    assert first.config.token == kube_double.token and first.config.timeout_seconds == settings.CLUSTER_TIMEOUT_SECONDS
    assert kube_double.token not in repr(first.config)

    cluster = cluster_update(actor=admin_actor, cluster=cluster, token="rotated-token")
    second = get_cluster(cluster)

    assert second is not first and second.config.token == "rotated-token"
