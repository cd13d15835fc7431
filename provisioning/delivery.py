"""GitOps delivery: make one directory of the platform repository hold exactly the rendered files.

The local clone in ``work_dir`` is bare and persistent, so each delivery costs a fetch of the delta. A
change is built with git plumbing on a private index from the freshly fetched branch tip (the equivalent
of "fetch + hard reset + edit", minus a working tree that a crashed run could leave dirty), committed only
when the tree differs, and pushed without force. If someone else pushed meanwhile the push is rejected,
and the change is rebuilt on the new tip and pushed again.
"""

from __future__ import annotations

import fcntl
import os
import time
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from provisioning.errors import Conflict, InvalidInput, ProvisioningError
from provisioning.forge.base import GitRemote
from provisioning.git.client import GitClient
from provisioning.git.errors import BRANCH_MOVED

PUSH_RETRIES = 3
_FILE_MODE = "100644"


@dataclass(frozen=True)
class DeliveryResult:
    """Outcome of one delivery; paths are relative to the delivered directory, sorted."""

    changed: bool
    commit_sha: str | None  # the new commit when changed, else the branch tip (None for an empty remote)
    added: tuple[str, ...] = ()
    modified: tuple[str, ...] = ()
    removed: tuple[str, ...] = ()


class _PushRejected(Exception):
    """The branch moved on the remote since our fetch."""


def _clean_path(what: str, value: str) -> str:
    """A relative POSIX path inside the repository, normalised, or ``InvalidInput``."""
    if not isinstance(value, str) or not value.strip("/"):
        raise InvalidInput(f"{what} must be a non-empty relative path")
    if value.startswith("/") or "\\" in value or "\0" in value or any(c in value for c in "\r\n"):
        raise InvalidInput(f"{what} {value!r} must be a relative path")
    parts = [p for p in value.strip("/").split("/")]
    if any(p in ("", ".", "..") or p.lower() == ".git" for p in parts):
        raise InvalidInput(f"{what} {value!r} must not contain empty, '.', '..' or '.git' segments")
    return str(PurePosixPath(*parts))


class GitOpsDelivery:
    def __init__(
        self,
        remote: GitRemote,
        work_dir: Path,
        *,
        branch: str = "main",
        author_name: str = "DSO Console",
        author_email: str = "dso-console@localhost",
        timeout_seconds: float = 120,
    ):
        if not remote.url or remote.url.startswith("-"):
            raise InvalidInput("remote URL must not be empty or start with '-'")
        if "@" in remote.url.partition("://")[2].split("/", 1)[0] and remote.url.lower().startswith("http"):
            # Credentials travel only through askpass; a URL would put them in argv and reflogs.
            raise InvalidInput("remote URL must not carry credentials; pass them as username/password")
        if not branch or branch.startswith("-") or any(c.isspace() or c in "~^:?*[\\" for c in branch):
            raise InvalidInput(f"branch {branch!r} is not a valid branch name")
        self.remote = remote
        self.work_dir = Path(work_dir)
        self.branch = branch
        self.author_name = author_name
        self.author_email = author_email
        self.timeout_seconds = timeout_seconds
        self._repo = self.work_dir / "repo.git"
        self._client = GitClient(self.work_dir, git_dir=self._repo, remote=remote, timeout_seconds=timeout_seconds)
        self._tracking_ref = f"refs/remotes/origin/{branch}"

    # ------------------------------------------------------------------------------------ public API

    def deliver(self, directory: str, files: dict[str, str], *, message: str) -> DeliveryResult:
        """Make ``directory`` hold exactly ``files`` (stale files removed); one commit if anything changed."""
        directory = _clean_path("directory", directory)
        wanted = {_clean_path("file name", name): content for name, content in files.items()}
        if len(wanted) != len(files):
            raise InvalidInput("file names collide once normalised")
        parents = {str(parent) for name in wanted for parent in PurePosixPath(name).parents}
        if clash := sorted(parents & set(wanted)):
            raise InvalidInput(f"{clash[0]!r} cannot be both a file and a directory")
        for name, content in wanted.items():
            if not isinstance(content, str):
                raise InvalidInput(f"content of {name!r} must be text")
        return self._change(directory, wanted, message)

    def remove(self, directory: str, *, message: str) -> DeliveryResult:
        """Delete ``directory`` from the branch (a project was archived)."""
        return self._change(_clean_path("directory", directory), {}, message)

    def last_message(self, directory: str) -> str:
        """Message of the newest commit touching ``directory`` at the remote tip ('' when none): lets a
        redone run recognise the commit an earlier, killed attempt of it pushed."""
        directory = _clean_path("directory", directory)
        with self._locked():
            self._prepare()
            tip = self._fetch()
            if tip is None:
                return ""
            return self._git("log", "-1", "--format=%B", tip, "--", directory).decode("utf-8", "replace")

    def read(self, directory: str) -> dict[str, str]:
        """Files under ``directory`` at the remote branch tip, keyed by path relative to it."""
        directory = _clean_path("directory", directory)
        with self._locked():
            self._prepare()
            tip = self._fetch()
            if tip is None:
                return {}
            return {
                name: self._git("cat-file", "blob", entry.split()[1]).decode("utf-8")
                for name, entry in self._entries(tip, directory).items()
                if entry.startswith(_FILE_MODE)
            }

    def snapshot(self, directory: str) -> dict[str, str]:
        """Path under ``directory`` -> blob id of every file at the remote tip: one fetch and one listing,
        so a drift check of thousands of projects compares ids and reads only the files that differ."""
        directory = _clean_path("directory", directory)
        with self._locked():
            self._prepare()
            tip = self._fetch()
            if tip is None:
                return {}
            return {name: entry.split()[1] for name, entry in self._entries(tip, directory).items()
                    if entry.startswith(_FILE_MODE)}

    def read_blob(self, blob: str) -> str:
        """A file's content by the id ``snapshot`` gave (already in the local clone)."""
        if not blob or not all(c in "0123456789abcdef" for c in blob):
            raise InvalidInput(f"{blob!r} is not a blob id")
        return self._git("cat-file", "blob", blob).decode("utf-8", "replace")

    # ------------------------------------------------------------------------------------- the change

    def _change(self, directory: str, wanted: dict[str, str], message: str) -> DeliveryResult:
        if not message or not message.strip():
            raise InvalidInput("a commit message is required")
        with self._locked():
            self._prepare()
            for _attempt in range(PUSH_RETRIES + 1):
                tip = self._fetch()
                result, commit = self._build(tip, directory, wanted, message)
                if commit is None:
                    return result
                try:
                    self._push(commit)
                except _PushRejected:
                    continue
                return result
        raise Conflict(
            f"the branch {self.branch!r} kept moving while delivering {directory!r}; "
            f"gave up after {PUSH_RETRIES} retries",
            transient=True,
        )

    def _build(
        self, tip: str | None, directory: str, wanted: dict[str, str], message: str
    ) -> tuple[DeliveryResult, str | None]:
        """Commit ``wanted`` on top of ``tip``; the commit is None when nothing would change."""
        current = self._entries(tip, directory) if tip else {}
        new = {
            name: f"{_FILE_MODE} "
            + self._git("hash-object", "-w", "--stdin", input=content.encode("utf-8")).decode().strip()
            for name, content in wanted.items()
        }
        added = tuple(sorted(set(new) - set(current)))
        removed = tuple(sorted(set(current) - set(new)))
        modified = tuple(sorted(n for n in set(new) & set(current) if new[n] != current[n]))
        if not (added or removed or modified):
            return DeliveryResult(changed=False, commit_sha=tip), None

        # A private index keeps concurrent readers of the clone and half-finished runs out of the way.
        index = self._repo / f"dso-index-{os.getpid()}"
        index.unlink(missing_ok=True)
        env = {"GIT_INDEX_FILE": str(index)}
        try:
            if tip:
                self._git("read-tree", tip, env=env)
            # Mode 0 removes an entry; --replace drops a file standing where a directory must go.
            lines = "".join(f"0 {'0' * 40}\t{directory}/{name}\n" for name in removed)
            lines += "".join(f"{entry}\t{directory}/{name}\n" for name, entry in sorted(new.items()))
            self._git("update-index", "--replace", "--index-info", input=lines.encode("utf-8"), env=env)
            tree = self._git("write-tree", env=env).decode().strip()
        finally:
            index.unlink(missing_ok=True)

        parents = ["-p", tip] if tip else []
        commit = self._git("commit-tree", tree, *parents, "-F", "-", input=message.encode("utf-8"),
                           env=self._identity()).decode().strip()  # fmt: skip
        return DeliveryResult(True, commit, added, modified, removed), commit

    def _entries(self, commit: str, directory: str) -> dict[str, str]:
        """Path under ``directory`` -> "mode sha" for every entry (blobs, links, submodules) at ``commit``."""
        out = self._git("ls-tree", "-r", "-z", "--full-tree", commit, "--", f"{directory}/")
        entries: dict[str, str] = {}
        prefix = f"{directory}/"
        for line in filter(None, out.decode("utf-8").split("\0")):
            info, path = line.split("\t", 1)
            mode, _kind, sha = info.split()
            if path.startswith(prefix):
                entries[path[len(prefix):]] = f"{mode} {sha}"
        return entries

    # ------------------------------------------------------------------------------- remote plumbing

    def _prepare(self) -> None:
        if not (self._repo / "HEAD").exists():
            self._repo.mkdir(parents=True, exist_ok=True)
            GitClient(self.work_dir, timeout_seconds=self.timeout_seconds).run("init", "--bare", "-q", str(self._repo))

    def _fetch(self) -> str | None:
        """Fetch the branch; its tip, or None when the remote has no such branch yet (empty repository)."""
        refspec = f"+refs/heads/{self.branch}:{self._tracking_ref}"
        result = self._client.run("fetch", "--no-tags", "--quiet", self.remote.url, refspec, remote=True,
                                  check=False)
        if result.returncode != 0:
            if "couldn't find remote ref" not in self._client.output(result).lower():
                raise self._client.error(result, operation="fetch")
            # Also forget a tip fetched earlier: the branch was deleted upstream.
            self._git("update-ref", "-d", self._tracking_ref)
            return None
        return self._git("rev-parse", "--verify", f"{self._tracking_ref}^{{commit}}").decode().strip()

    def _push(self, commit: str) -> None:
        """Fast-forward the remote branch to ``commit``; ``_PushRejected`` if it moved meanwhile."""
        refspec = f"{commit}:refs/heads/{self.branch}"
        result = self._client.run("push", "--porcelain", "--quiet", self.remote.url, refspec, remote=True,
                                  check=False)
        if result.returncode != 0:
            error = self._client.error(result, operation="push")
            if error.code == BRANCH_MOVED:
                raise _PushRejected()
            raise error
        self._git("update-ref", self._tracking_ref, commit)

    # --------------------------------------------------------------------------------------- helpers

    def _identity(self) -> dict[str, str]:
        return {
            "GIT_AUTHOR_NAME": self.author_name,
            "GIT_AUTHOR_EMAIL": self.author_email,
            "GIT_COMMITTER_NAME": self.author_name,
            "GIT_COMMITTER_EMAIL": self.author_email,
        }

    def _locked(self):
        return _DirectoryLock(self.work_dir, self.timeout_seconds)

    def _git(self, *args: str, input: bytes | None = None, env: dict[str, str] | None = None) -> bytes:
        """Run a local git command in the clone and return its stdout, or raise the translated error."""
        return self._client.run(*args, input=input, env=env).stdout


class _DirectoryLock:
    """Exclusive ``flock`` on ``work_dir/.lock``: one delivery at a time per local clone.

    Waits up to ``timeout`` seconds, then gives up with a transient error so a task retries later.
    """

    def __init__(self, work_dir: Path, timeout: float):
        self.path = Path(work_dir) / ".lock"
        self.timeout = timeout
        self._fd: int | None = None

    def __enter__(self) -> _DirectoryLock:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        deadline = time.monotonic() + self.timeout
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    os.close(fd)
                    raise ProvisioningError(
                        f"another delivery holds {self.path} for more than {self.timeout:g}s",
                        code="lock_timeout",
                        transient=True,
                    ) from None
                time.sleep(0.05)
        self._fd = fd
        return self

    def __exit__(self, *exc_info) -> None:
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None
