"""The one place where Django settings become provisioning adapters.

Services ask here for the forge, the mirror and the delivery; tests swap settings, not code.
"""

from __future__ import annotations

from functools import lru_cache

from django.conf import settings

from provisioning.delivery import GitOpsDelivery
from provisioning.forge.base import Forge
from provisioning.mirror import Mirror


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
