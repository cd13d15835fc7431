"""The internal forge: where mirrored repositories and the GitOps platform repository live."""

from provisioning.forge.base import Forge, ForgeGroup, ForgeRepository, GitRemote

__all__ = ["Forge", "ForgeGroup", "ForgeRepository", "GitRemote"]
