"""A forge made of bare repositories on local disk, served over Git smart HTTP by ``GitHttpServer``.

It lets DSO Console run with no GitLab at all: groups are directories carrying a small JSON marker,
repositories are ``<path>.git`` bare directories. Two fixed tokens stand in for GitLab's access tokens: the
write token is the console's (mirror pushes, GitOps commits), the read token is handed to Argo CD.
"""

from __future__ import annotations

import hmac
import json
import os
import re
import shutil
import tempfile
from pathlib import Path

from provisioning.errors import InvalidInput, NotFound
from provisioning.forge.base import Forge, ForgeGroup, ForgeRepository, GitRemote
from provisioning.git.client import GitClient, GitResult
from provisioning.githttp import GitAccess

GROUP_MARKER = ".dso-group.json"
ARCHIVED_MARKER = "dso-archived"
DEFAULT_BRANCH = "main"
# DNS-1123 labels: the same segments become Kubernetes and Argo CD names downstream.
_SEGMENT = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")
_MAX_DEPTH = 20


class LocalForge(Forge):
    def __init__(self, root: Path, base_url: str, *, root_group: str = "dso",
                 write_username: str = "dso-console", write_token: str, read_username: str = "argocd",
                 read_token: str):
        if not write_token or not read_token:
            raise InvalidInput("LocalForge needs a write token and a read token")
        if hmac.compare_digest(write_token, read_token):
            raise InvalidInput("LocalForge's read token must differ from its write token")
        self.root = Path(root)
        self.base_url = base_url.rstrip("/")
        self.root_group = root_group
        self.write_username = write_username
        self.read_username = read_username
        self._write_token = write_token
        self._read_token = read_token

    def __repr__(self) -> str:
        return f"LocalForge(root={str(self.root)!r}, base_url={self.base_url!r})"

    # --- access --------------------------------------------------------------------------------------------

    def authorize(self, repo_path: str, username: str | None, password: str | None) -> GitAccess:
        """Authorizer for ``GitHttpServer``: the token decides, the username is informational."""
        if not password:
            return GitAccess.NONE
        if hmac.compare_digest(password.encode(), self._write_token.encode()):
            archived = (self.root / repo_path / ARCHIVED_MARKER).exists()
            return GitAccess.READ if archived else GitAccess.WRITE
        if hmac.compare_digest(password.encode(), self._read_token.encode()):
            return GitAccess.READ
        return GitAccess.NONE

    # --- paths ---------------------------------------------------------------------------------------------

    def _validate(self, path: str, what: str) -> str:
        segments = path.split("/") if isinstance(path, str) else []
        if not segments or len(segments) > _MAX_DEPTH or not all(_SEGMENT.match(s) for s in segments):
            raise InvalidInput(
                f"invalid {what} path {path!r}: "
                "use '/'-separated lowercase segments of letters, digits and '-'"
            )
        return path

    def repository_dir(self, path: str) -> Path:
        return self.root / f"{self._validate(path, 'repository')}.git"

    def _group_dir(self, path: str) -> Path:
        return self.root / self._validate(path, "group")

    def clone_url(self, path: str) -> str:
        return f"{self.base_url}/{self._validate(path, 'repository')}.git"

    # --- groups --------------------------------------------------------------------------------------------

    def ensure_group(self, path: str, *, name: str, description: str = "") -> ForgeGroup:
        self._validate(path, "group")
        segments = path.split("/")
        created = False
        for depth in range(1, len(segments) + 1):
            sub = "/".join(segments[:depth])
            is_leaf = depth == len(segments)
            created = self._create_group(
                sub, name=name if is_leaf else segments[depth - 1], description=description if is_leaf else ""
            )
        return ForgeGroup(path=path, name=self._group_info(path).get("name", name), created=created)

    def _create_group(self, path: str, *, name: str, description: str) -> bool:
        directory = self._group_dir(path)
        if (self.root / f"{path}.git").exists():
            raise InvalidInput(f"{path!r} is a repository, not a group")
        directory.mkdir(parents=True, exist_ok=True)
        marker = directory / GROUP_MARKER
        # O_EXCL decides which of two concurrent callers created the group.
        try:
            fd = os.open(marker, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        except FileExistsError:
            return False
        with os.fdopen(fd, "w") as handle:
            json.dump({"name": name, "description": description}, handle)
        return True

    def _group_info(self, path: str) -> dict:
        try:
            return json.loads((self._group_dir(path) / GROUP_MARKER).read_text())
        except (FileNotFoundError, json.JSONDecodeError):
            return {}

    def _group_exists(self, path: str) -> bool:
        return (self._group_dir(path) / GROUP_MARKER).is_file()

    # --- repositories --------------------------------------------------------------------------------------

    def ensure_repository(self, path: str, *, description: str = "") -> ForgeRepository:
        directory = self.repository_dir(path)
        parent = path.rpartition("/")[0]
        if not parent or not self._group_exists(parent):
            raise NotFound(
                f"group {parent or '(none)'!r} does not exist: create it before repository {path!r}"
            )
        if self._group_exists(path):
            raise InvalidInput(f"{path!r} is a group, not a repository")
        if self._is_repository(directory):
            return self._describe(path, created=False)
        # Build the repository aside, then rename it into place: readers never see a half-made one, and of
        # two concurrent callers exactly one rename succeeds.
        staging = Path(tempfile.mkdtemp(prefix=".creating-", dir=directory.parent))
        try:
            self._git("init", "--bare", "--quiet", f"--initial-branch={DEFAULT_BRANCH}", str(staging))
            if description:
                (staging / "description").write_text(description.strip() + "\n")
            try:
                staging.rename(directory)
            except OSError:
                if self._is_repository(directory):
                    return self._describe(path, created=False)
                raise
        finally:
            shutil.rmtree(staging, ignore_errors=True)
        return self._describe(path, created=True)

    def get_repository(self, path: str) -> ForgeRepository:
        if not self._is_repository(self.repository_dir(path)):
            raise NotFound(f"repository {path!r} does not exist")
        return self._describe(path, created=False)

    def push_remote(self, path: str) -> GitRemote:
        return GitRemote(self.clone_url(path), self.write_username, self._write_token)

    def read_remote(self, path: str) -> GitRemote:
        return GitRemote(self.clone_url(path), self.read_username, self._read_token)

    def set_default_branch(self, path: str, branch: str) -> None:
        directory = self._existing_dir(path)
        check = self._git("check-ref-format", "--branch", branch, check=False)
        if check.returncode != 0 or branch.startswith("-"):
            raise InvalidInput(f"invalid branch name {branch!r}")
        self._git("symbolic-ref", "HEAD", f"refs/heads/{branch}", cwd=directory)

    def archive_repository(self, path: str) -> None:
        directory = self._existing_dir(path)
        (directory / ARCHIVED_MARKER).write_text("archived: read-only, kept for history\n")
        # Defence in depth: http-backend refuses pushes even if an authorizer were to grant WRITE.
        self._git("config", "http.receivepack", "false", cwd=directory)

    def retire_repository(self, path: str, *, new_path: str) -> str | None:
        old_dir, new_dir = self.repository_dir(path), self.repository_dir(new_path)
        if self._is_repository(old_dir):
            if new_dir.exists():
                raise InvalidInput(f"cannot retire {path!r}: {new_path!r} already exists")
            # Rename first, archive second: a retry after a crash in between finds it at its new path.
            old_dir.rename(new_dir)
        elif not self._is_repository(new_dir):
            return None
        self.archive_repository(new_path)
        return new_path

    def is_archived(self, path: str) -> bool:
        return (self._existing_dir(path) / ARCHIVED_MARKER).exists()

    def _existing_dir(self, path: str) -> Path:
        directory = self.repository_dir(path)
        if not self._is_repository(directory):
            raise NotFound(f"repository {path!r} does not exist")
        return directory

    # --- helpers -------------------------------------------------------------------------------------------

    @staticmethod
    def _is_repository(directory: Path) -> bool:
        return (directory / "HEAD").is_file() and (directory / "objects").is_dir()

    def _describe(self, path: str, *, created: bool) -> ForgeRepository:
        # HEAD is a file holding "ref: refs/heads/<branch>" (gitrepository-layout); read on every sync, so
        # read here rather than by a git process.
        try:
            head = (self.repository_dir(path) / "HEAD").read_text()
        except OSError:
            head = ""
        branch = (head.strip().removeprefix("ref: refs/heads/") or None) if head.startswith("ref: refs/heads/") else None
        return ForgeRepository(path=path, clone_url=self.clone_url(path), created=created,
                               default_branch=branch)

    @staticmethod
    def _git(*args: str, cwd: Path | None = None, check: bool = True) -> GitResult:
        return GitClient(cwd, timeout_seconds=60).run(*args, check=check)
