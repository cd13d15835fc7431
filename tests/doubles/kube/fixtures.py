from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.doubles.kube.server import KubeDouble


@pytest.fixture
def kube_double() -> Iterator[KubeDouble]:
    """A fresh, empty Kubernetes API (with the Argo CD CRDs) on 127.0.0.1 for one test."""
    with KubeDouble() as double:
        yield double
