"""The console's side of a Kubernetes cluster, on the official ``kubernetes`` client.

``KubeCluster`` (client.py) is built from a plain ``ClusterConfig`` (base.py); callers see dicts,
``ObjectRef``s, reports and the errors of base.py, never a ``kubernetes`` library type.
"""

from provisioning.cluster.base import (
    ApplyResult,
    ClusterConfig,
    ClusterConflict,
    ClusterForbidden,
    ClusterInvalid,
    ClusterTransient,
    ClusterUnauthorized,
    ClusterUnreachable,
    ConnectionReport,
    ObjectRef,
)
from provisioning.cluster.client import KubeCluster

__all__ = [
    "ApplyResult",
    "ClusterConfig",
    "ClusterConflict",
    "ClusterForbidden",
    "ClusterInvalid",
    "ClusterTransient",
    "ClusterUnauthorized",
    "ClusterUnreachable",
    "ConnectionReport",
    "KubeCluster",
    "ObjectRef",
]
