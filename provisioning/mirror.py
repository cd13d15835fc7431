"""Mirror an external repository's branches and tags into the internal forge.

Each mirrored repository keeps a bare cache on local disk, so a sync fetches only what is new upstream and
pushes only the delta: cost follows the change, not the repository size. A sync compares the target's refs
with the source's before pushing and does nothing when they already match.

Credentials reach git only through ``provisioning.git`` (askpass + environment). URLs given to git carry
none, the cache's config never records a remote, and every git message is redacted before it is raised.
"""

from __future__ import annotations

import fcntl
import re
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from provisioning.errors import InvalidInput
from provisioning.forge.base import GitRemote
from provisioning.git.client import GitClient, GitResult, parse_refs

REFSPECS = ("+refs/heads/*:refs/heads/*", "+refs/tags/*:refs/tags/*")
# Large pushes are otherwise sent in many small chunked requests; one buffer keeps them in one POST.
_POST_BUFFER = str(512 * 1024 * 1024)
_CACHE_KEY = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,199}$")


@dataclass(frozen=True)
class RefChange:
    ref: str
    old_sha: str | None
    new_sha: str | None
    kind: str  # "created" | "updated" | "deleted" | "forced"


@dataclass(frozen=True)
class MirrorResult:
    # Against ``recorded_refs`` when the caller gave them, otherwise against what the target held.
    changes: tuple[RefChange, ...]
    default_branch: str | None
    head_sha: str | None
    # The target's branches and tags after the sync (the source's), for the caller to record.
    refs: dict[str, str] = field(default_factory=dict)
    # Whether this sync pushed: false when the target already matched (e.g. an earlier attempt's push landed).
    pushed: bool = False

    @property
    def changed(self) -> bool:
        return bool(self.changes)


def ls_remote(remote: GitRemote, *, timeout_seconds: float = 60) -> dict[str, str]:
    """Branches and tags of ``remote`` as {ref: sha} (annotated tags give the tag object's sha)."""
    client = GitClient(remote=remote, timeout_seconds=timeout_seconds)
    return parse_refs(client.run("ls-remote", "--heads", "--tags", remote.url, remote=True).text)


def _remote_head(remote: GitRemote, *, timeout: float) -> tuple[str | None, str | None]:
    """(default branch name, sha HEAD points at) as advertised by ``remote``."""
    client = GitClient(remote=remote, timeout_seconds=timeout)
    branch = sha = None
    for line in client.run("ls-remote", "--symref", remote.url, "HEAD", remote=True).text.splitlines():
        left, _, right = line.partition("\t")
        if left.startswith("ref: refs/heads/") and right == "HEAD":
            branch = left.removeprefix("ref: refs/heads/")
        elif right == "HEAD":
            sha = left.strip()
    return branch, sha


class _CacheLock:
    """Exclusive flock on a file next to the cache: held across processes, released if one dies."""

    def __init__(self, path: Path):
        self.path = path
        self._file = None

    def __enter__(self) -> _CacheLock:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._file = open(self.path, "a")  # noqa: SIM115 - closed in __exit__
        # Blocks until free; the worker's task time limit bounds the wait.
        fcntl.flock(self._file.fileno(), fcntl.LOCK_EX)
        return self

    def __exit__(self, *exc_info) -> None:
        fcntl.flock(self._file.fileno(), fcntl.LOCK_UN)
        self._file.close()
        self._file = None


class Mirror:
    """Source → target mirroring through a persistent per-repository bare cache under ``cache_root``."""

    def __init__(self, cache_root: Path, *, timeout_seconds: float = 600):
        self.cache_root = Path(cache_root)
        self.timeout_seconds = timeout_seconds

    def cache_path(self, cache_key: str) -> Path:
        if not _CACHE_KEY.match(cache_key):
            raise InvalidInput(
                f"invalid mirror cache key {cache_key!r}: use letters, digits, '.', '_' or '-'"
            )
        return self.cache_root / f"{cache_key}.git"

    def _lock(self, cache_key: str) -> _CacheLock:
        return _CacheLock(self.cache_root / f"{self.cache_path(cache_key).stem}.lock")

    def sync(self, *, cache_key: str, source: GitRemote, target: GitRemote,
             set_default_branch: Callable[[str], None] | None = None,
             recorded_refs: dict[str, str] | None = None) -> MirrorResult:
        """Make ``target``'s branches and tags equal to ``source``'s.

        ``set_default_branch`` (e.g. the forge's) is called with the source's default branch once new
        branches are pushed and before deletions: a forge refuses to delete its current default branch, so
        a source that renamed ``master`` to ``main`` can only be mirrored if the target's HEAD moves first.

        What is pushed follows the target's refs; the changes reported follow ``recorded_refs`` (the target
        as the caller last recorded it) when given: an attempt that died after its push landed left the
        target equal to the source, and its changes must still be reported by the attempt that redoes it.
        """
        cache = self.cache_path(cache_key)
        with self._lock(cache_key):
            self._ensure_cache(cache)
            default_branch, head_sha = _remote_head(source, timeout=self.timeout_seconds)
            old = ls_remote(target, timeout_seconds=self.timeout_seconds)
            fetch = ["fetch", "--prune", "--prune-tags", "--no-write-fetch-head", "--quiet"]
            self._client(cache, source).run(*fetch, source.url, *REFSPECS, remote=True)
            new = self._local_refs(cache)
            to_push = self._diff(cache, old, new)
            changes = to_push if recorded_refs is None else self._diff(cache, recorded_refs, new)
            known_branch = default_branch if f"refs/heads/{default_branch}" in new else None
            if known_branch:
                head_sha = new[f"refs/heads/{known_branch}"]
                # Keeps the cache browsable and lets a later clone from it pick the same default.
                self._local(cache, "symbolic-ref", "HEAD", f"refs/heads/{known_branch}")
            if to_push:
                self._push(cache, target, to_push, known_branch, set_default_branch)
        return MirrorResult(changes=changes, default_branch=default_branch, head_sha=head_sha, refs=new,
                            pushed=bool(to_push))

    def _push(self, cache: Path, target: GitRemote, changes: tuple[RefChange, ...], default_branch: str | None,
              set_default_branch: Callable[[str], None] | None) -> None:
        def push(*options: str) -> None:
            self._client(cache, target).run("push", *options, "--quiet", target.url, *REFSPECS, remote=True,
                                            config={"http.postBuffer": _POST_BUFFER})

        if set_default_branch is None or not default_branch:
            push("--prune")
            return
        deletions = any(change.kind == "deleted" for change in changes)
        if not deletions or any(change.kind != "deleted" for change in changes):
            push()  # creations and updates first, so the new default branch exists on the target
        set_default_branch(default_branch)
        if deletions:
            push("--prune")

    def remove_cache(self, cache_key: str) -> None:
        cache = self.cache_path(cache_key)
        with self._lock(cache_key):
            shutil.rmtree(cache, ignore_errors=True)
        # The lock file stays: unlinking it while another process waits on it would split the lock.

    # --- local cache -------------------------------------------------------------------------------------

    def _client(self, cache: Path | None, remote: GitRemote | None = None) -> GitClient:
        return GitClient(cache, remote=remote, timeout_seconds=self.timeout_seconds)

    def _local(self, cache: Path, *args: str) -> GitResult:
        return self._client(cache).run(*args)

    def _ensure_cache(self, cache: Path) -> None:
        if (cache / "HEAD").is_file() and (cache / "objects").is_dir():
            return
        # A half-created cache (crash during init) is rebuilt rather than trusted.
        shutil.rmtree(cache, ignore_errors=True)
        cache.parent.mkdir(parents=True, exist_ok=True)
        self._client(None).run("init", "--bare", "--quiet", str(cache))
        # Reflogs would only grow: the run history is the record of what changed.
        self._local(cache, "config", "core.logAllRefUpdates", "false")

    def _local_refs(self, cache: Path) -> dict[str, str]:
        proc = self._local(cache, "for-each-ref", "--format=%(objectname) %(refname)",
                           "refs/heads", "refs/tags")
        return parse_refs(proc.text)

    def _diff(self, cache: Path, old: dict[str, str], new: dict[str, str]) -> tuple[RefChange, ...]:
        changes = []
        for ref in sorted(old.keys() | new.keys()):
            before, after = old.get(ref), new.get(ref)
            if before == after:
                continue
            if before is None:
                kind = "created"
            elif after is None:
                kind = "deleted"
            else:
                kind = "updated" if self._is_ancestor(cache, before, after) else "forced"
            changes.append(RefChange(ref=ref, old_sha=before, new_sha=after, kind=kind))
        return tuple(changes)

    def _is_ancestor(self, cache: Path, old_sha: str, new_sha: str) -> bool:
        # Exit 1 means "not an ancestor"; 128 means the old object is unknown here (rewritten history the
        # cache never saw): both count as a forced update.
        proc = self._client(cache).run("merge-base", "--is-ancestor", old_sha, new_sha, check=False)
        return proc.returncode == 0
