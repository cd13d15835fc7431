"""The one place where Django settings become provisioning adapters.

Services ask here for the forge, the mirror, the delivery and the clusters; tests swap settings, not code.
"""

from __future__ import annotations

import threading
from functools import lru_cache
from typing import TYPE_CHECKING

from django.conf import settings

from provisioning.cluster import KubeCluster
from provisioning.delivery import GitOpsDelivery
from provisioning.forge.base import Forge
from provisioning.mirror import Mirror

if TYPE_CHECKING:
    from console.models import Cluster


def _forge_key() -> tuple:
    return (
        settings.FORGE_KIND,
        settings.FORGE_ROOT_GROUP,
        str(settings.LOCAL_FORGE_ROOT),
        settings.LOCAL_FORGE_URL,
        settings.LOCAL_FORGE_WRITE_TOKEN,
        settings.LOCAL_FORGE_READ_TOKEN,
        settings.GITLAB_URL,
        settings.GITLAB_TOKEN,
        settings.GITLAB_BOT_USERNAME,
        settings.GITLAB_BOT_TOKEN,
        settings.GITLAB_GIT_URL,
        settings.GITLAB_SSL_VERIFY,
        settings.GITLAB_TIMEOUT_SECONDS,
    )


@lru_cache(maxsize=4)
def _build_forge(key: tuple) -> Forge:
    kind = key[0]
    if kind == "gitlab":
        from provisioning.forge.gitlab import GitLabForge, GitLabSettings

        return GitLabForge(
            GitLabSettings(
                url=settings.GITLAB_URL,
                token=settings.GITLAB_TOKEN,
                root_group=settings.FORGE_ROOT_GROUP,
                bot_username=settings.GITLAB_BOT_USERNAME,
                bot_token=settings.GITLAB_BOT_TOKEN or None,
                ssl_verify=settings.GITLAB_SSL_VERIFY,
                timeout=settings.GITLAB_TIMEOUT_SECONDS,
                git_http_url=settings.GITLAB_GIT_URL or None,
            )
        )
    from provisioning.forge.local import LocalForge

    return LocalForge(
        settings.LOCAL_FORGE_ROOT,
        settings.LOCAL_FORGE_URL,
        root_group=settings.FORGE_ROOT_GROUP,
        write_token=settings.LOCAL_FORGE_WRITE_TOKEN,
        read_token=settings.LOCAL_FORGE_READ_TOKEN,
    )


def get_forge() -> Forge:
    return _build_forge(_forge_key())


def get_mirror() -> Mirror:
    return Mirror(settings.MIRROR_CACHE_DIR, timeout_seconds=settings.MIRROR_TIMEOUT_SECONDS,
                  verify_interval_seconds=settings.MIRROR_VERIFY_SECONDS)


def platform_repository_path() -> str:
    return get_forge().group_path_for(settings.PLATFORM_REPOSITORY)


def get_delivery() -> GitOpsDelivery:
    forge = get_forge()
    return GitOpsDelivery(
        forge.push_remote(platform_repository_path()),
        settings.DELIVERY_WORK_DIR,
        branch=settings.PLATFORM_BRANCH,
    )


_clusters: dict[int, tuple[tuple, KubeCluster]] = {}
_clusters_lock = threading.Lock()


def get_cluster(cluster: Cluster) -> KubeCluster:
    """The adapter for a registered cluster, reused while the row (and the retry settings) stay the same:
    its discovery cache then lasts across runs. An edited cluster (new token, URL) gets a new one."""
    key = (cluster.updated_at, settings.CLUSTER_TIMEOUT_SECONDS, settings.CLUSTER_RETRIES,
           settings.CLUSTER_BACKOFF_SECONDS)
    with _clusters_lock:
        cached = _clusters.get(cluster.pk)
        if cached is not None and cached[0] == key:
            return cached[1]
        client = KubeCluster(cluster.config(), retries=settings.CLUSTER_RETRIES,
                             backoff_seconds=settings.CLUSTER_BACKOFF_SECONDS)
        _clusters[cluster.pk] = (key, client)
    return client
