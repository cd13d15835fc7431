"""The Forge interface the rest of DSO Console talks to.

Two adapters implement it: ``LocalForge`` (bare repositories on disk, served over Git smart HTTP by the
console) and ``GitLabForge`` (python-gitlab). Callers see only the dataclasses below, never library types.
Every ``ensure_*`` method is idempotent: it looks up by path first and creates only what is missing.
"""

from __future__ import annotations

import abc
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from provisioning.netguard import NetworkPolicy


@dataclass(frozen=True)
class GitRemote:
    """Where to reach a Git repository and with which credentials.

    ``url`` never carries credentials; they travel separately so they can be handed to git through an
    askpass helper or the environment, never a command line or a log line.
    """

    url: str
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    # Set for URLs someone outside the platform team typed: git then connects only to addresses the policy
    # allows, resolved and pinned right before each git process (provisioning.netguard).
    network: NetworkPolicy | None = None

    @property
    def has_credentials(self) -> bool:
        return bool(self.password)


@dataclass(frozen=True)
class ForgeGroup:
    path: str  # full path, e.g. "dso/acme/shop"
    name: str
    created: bool = False  # True when this call created it
    id: int | None = None  # the forge's own id, where it has one: stable across renames, one request to check


@dataclass(frozen=True)
class ForgeRepository:
    path: str  # full path without ".git", e.g. "dso/acme/shop/backend"
    clone_url: str  # HTTP(S) URL Argo CD and people clone from, no credentials
    created: bool = False
    default_branch: str | None = None
    id: int | None = None  # the forge's own id, where it has one (see Forge.find_repository_by_id)


class Forge(abc.ABC):
    """Internal forge operations DSO Console needs."""

    @abc.abstractmethod
    def ensure_group(self, path: str, *, name: str, description: str = "") -> ForgeGroup:
        """Ensure a group (and its parents) exists at ``path``."""

    @abc.abstractmethod
    def ensure_repository(self, path: str, *, description: str = "") -> ForgeRepository:
        """Ensure an empty repository exists at ``path`` (its group must exist)."""

    @abc.abstractmethod
    def get_repository(self, path: str) -> ForgeRepository:
        """Return the repository at ``path`` or raise ``provisioning.errors.NotFound``."""

    @abc.abstractmethod
    def clone_url(self, path: str) -> str:
        """The HTTP(S) clone URL the repository at ``path`` has (or will have once created)."""

    @abc.abstractmethod
    def push_remote(self, path: str) -> GitRemote:
        """Remote with write credentials, used by the mirror and by GitOps delivery."""

    def find_repository_by_id(self, forge_id: int) -> ForgeRepository | None:
        """The repository with this forge id, or None (gone, or a forge without ids: look up by path)."""
        return None

    def push_remote_for(self, repository: ForgeRepository) -> GitRemote:
        """``push_remote`` for a repository already looked up, so no second lookup is needed."""
        return self.push_remote(repository.path)

    @abc.abstractmethod
    def read_remote(self, path: str) -> GitRemote:
        """Remote with read-only credentials, as handed to Argo CD."""

    @abc.abstractmethod
    def set_default_branch(self, path: str, branch: str) -> None:
        """Point the repository's HEAD at ``branch`` (a mirror push does not carry it)."""

    @abc.abstractmethod
    def archive_repository(self, path: str) -> None:
        """Make the repository read-only. Never deletes data."""

    @abc.abstractmethod
    def retire_repository(self, path: str, *, new_path: str) -> str | None:
        """A repository the console no longer mirrors: move it to ``new_path`` (so its path is free for a
        new registration) and archive it there, read-only with its whole history. Never deletes data.

        Idempotent: returns the path it now lives at, or None when neither path holds a repository.
        """

    def group_path_for(self, *segments: str) -> str:
        """Join path segments under the forge's root group."""
        return "/".join(s.strip("/") for s in (self.root_group, *segments) if s)

    root_group: str = "dso"
