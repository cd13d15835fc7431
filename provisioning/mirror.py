"""Mirror an external repository's branches and tags into the internal forge.

Each mirrored repository keeps a bare cache on local disk, so a sync fetches only what is new upstream and
pushes only the delta: cost follows the change, not the repository size. A sync compares the target's refs
with the source's before pushing and does nothing when they already match.

Credentials reach git only through ``provisioning.gitenv`` (askpass + environment). URLs given to git carry
none, the cache's config never records a remote, and every git message is redacted before it is raised.
"""

from __future__ import annotations

import fcntl
import re
import shutil
import subprocess
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from provisioning.errors import (
    AuthenticationFailed,
    InvalidInput,
    NotFound,
    PermissionDenied,
    ProvisioningError,
    Unreachable,
)
from provisioning.forge.base import GitRemote
from provisioning.gitenv import git_environment, redact, untrusted_remote_error

REFSPECS = ("+refs/heads/*:refs/heads/*", "+refs/tags/*:refs/tags/*")
# Large pushes are otherwise sent in many small chunked requests; one buffer keeps them in one POST.
_POST_BUFFER = str(512 * 1024 * 1024)
_CACHE_KEY = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,199}$")
_STDERR_TAIL = 1500

_AUTH_FAILED = ("authentication failed", "could not read username", "could not read password",
                "returned error: 401")
_NOT_FOUND = ("not found", "returned error: 404", "does not appear to be a git repository",
              "no such file or directory")
_FORBIDDEN = ("returned error: 403",)
_UNREACHABLE = ("could not resolve host", "failed to connect", "connection refused", "timed out",
                "connection reset", "empty reply from server", "recv failure", "couldn't connect",
                "network is unreachable", "returned error: 5", "remote end hung up unexpectedly",
                "ssl_connect", "ssl connection")
_REJECTED = ("[remote rejected]", "pre-receive hook declined", "[rejected]", "protected branch",
             "permission denied", "not allowed to push")


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


def _display_url(url: str) -> str:
    """The URL as it may appear in a message: any user-info dropped, just in case a caller put some there."""
    parts = urlsplit(url)
    if "@" not in parts.netloc:
        return url
    return urlunsplit(parts._replace(netloc=parts.netloc.rsplit("@", 1)[1]))


def _environment(remote: GitRemote | None, extra_config: dict[str, str] | None = None) -> dict[str, str]:
    env = git_environment(remote)
    # A sync started from inside a git hook or a checkout must not act on that repository.
    for variable in ("GIT_DIR", "GIT_WORK_TREE", "GIT_INDEX_FILE", "GIT_OBJECT_DIRECTORY"):
        env.pop(variable, None)
    # gitenv already fills some GIT_CONFIG_* slots; append after them rather than overwrite index 0.
    count = int(env.get("GIT_CONFIG_COUNT", "0"))
    for key, value in (extra_config or {}).items():
        env[f"GIT_CONFIG_KEY_{count}"] = key
        env[f"GIT_CONFIG_VALUE_{count}"] = value
        count += 1
    env["GIT_CONFIG_COUNT"] = str(count)
    return env


def _git(args: list[str], *, remote: GitRemote | None, cwd: Path | None, timeout: float,
         secrets: tuple[str | None, ...] = (), operation: str = "",
         extra_config: dict[str, str] | None = None, check: bool = True) -> subprocess.CompletedProcess:
    """Run one git command; translate a failure involving ``remote`` into a provisioning error."""
    url = _display_url(remote.url) if remote is not None else ""
    try:
        proc = subprocess.run(
            ["git", *args], cwd=cwd, env=_environment(remote, extra_config), capture_output=True,
            text=True, timeout=timeout, stdin=subprocess.DEVNULL,
        )
    except subprocess.TimeoutExpired:
        what = operation or args[0]
        raise Unreachable(f"git {what} timed out after {timeout:g}s talking to {url}") from None
    except OSError as exc:
        raise ProvisioningError(f"cannot run git: {exc.strerror}", code="git_unavailable") from None
    if check and proc.returncode != 0:
        if remote is not None and remote.network is not None:
            raise untrusted_remote_error(proc.stderr, url=url, action=f"git {operation or args[0]}")
        raise _translate(proc.stderr, url=url, operation=operation or args[0], secrets=secrets)
    return proc


def _translate(stderr: str, *, url: str, operation: str,
               secrets: tuple[str | None, ...]) -> ProvisioningError:
    text = redact(stderr, *secrets)
    lowered = text.lower()
    tail = text.strip()[-_STDERR_TAIL:]
    if any(marker in lowered for marker in _AUTH_FAILED):
        return AuthenticationFailed(f"authentication failed for {url}: check the username and token")
    if any(marker in lowered for marker in _FORBIDDEN):
        return PermissionDenied(f"access to {url} was refused: the token lacks the needed permission")
    if operation == "push" and any(marker in lowered for marker in _REJECTED):
        return PermissionDenied(f"{url} rejected the push: {tail}")
    if any(marker in lowered for marker in _UNREACHABLE):
        return Unreachable(f"cannot reach {url}: {tail}")
    if any(marker in lowered for marker in _NOT_FOUND):
        return NotFound(f"repository {url} was not found (or the token cannot see it)")
    if "returned error: 30" in lowered:
        return ProvisioningError(f"{url} answered with a redirect, which DSO Console does not follow: use the "
                                 "repository's final URL", code="redirect_refused")
    return ProvisioningError(f"git {operation} failed for {url}: {tail}", code="git_error")


def _parse_refs(output: str) -> dict[str, str]:
    refs: dict[str, str] = {}
    for line in output.splitlines():
        sha, _, ref = line.strip().partition("\t") if "\t" in line else line.strip().partition(" ")
        if ref and not ref.endswith("^{}"):
            refs[ref] = sha
    return refs


def ls_remote(remote: GitRemote, *, timeout_seconds: float = 60) -> dict[str, str]:
    """Branches and tags of ``remote`` as {ref: sha} (annotated tags give the tag object's sha)."""
    proc = _git(["ls-remote", "--heads", "--tags", remote.url], remote=remote, cwd=None,
                timeout=timeout_seconds, secrets=(remote.password,), operation="ls-remote")
    return _parse_refs(proc.stdout)


def _remote_head(remote: GitRemote, *, timeout: float) -> tuple[str | None, str | None]:
    """(default branch name, sha HEAD points at) as advertised by ``remote``."""
    proc = _git(["ls-remote", "--symref", remote.url, "HEAD"], remote=remote, cwd=None, timeout=timeout,
                secrets=(remote.password,), operation="ls-remote")
    branch = sha = None
    for line in proc.stdout.splitlines():
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
        secrets = (source.password, target.password)
        with self._lock(cache_key):
            self._ensure_cache(cache)
            default_branch, head_sha = _remote_head(source, timeout=self.timeout_seconds)
            old = ls_remote(target, timeout_seconds=self.timeout_seconds)
            fetch = ["fetch", "--prune", "--prune-tags", "--no-write-fetch-head", "--quiet"]
            _git([*fetch, source.url, *REFSPECS], remote=source, cwd=cache, timeout=self.timeout_seconds,
                 secrets=secrets, operation="fetch")
            new = self._local_refs(cache)
            to_push = self._diff(cache, old, new)
            changes = to_push if recorded_refs is None else self._diff(cache, recorded_refs, new)
            known_branch = default_branch if f"refs/heads/{default_branch}" in new else None
            if known_branch:
                head_sha = new[f"refs/heads/{known_branch}"]
                # Keeps the cache browsable and lets a later clone from it pick the same default.
                self._local(cache, "symbolic-ref", "HEAD", f"refs/heads/{known_branch}")
            if to_push:
                self._push(cache, target, to_push, known_branch, set_default_branch, secrets)
        return MirrorResult(changes=changes, default_branch=default_branch, head_sha=head_sha, refs=new,
                            pushed=bool(to_push))

    def _push(self, cache: Path, target: GitRemote, changes: tuple[RefChange, ...], default_branch: str | None,
              set_default_branch: Callable[[str], None] | None, secrets: tuple[str | None, ...]) -> None:
        def push(*options: str) -> None:
            _git(["push", *options, "--quiet", target.url, *REFSPECS], remote=target, cwd=cache,
                 timeout=self.timeout_seconds, secrets=secrets, operation="push",
                 extra_config={"http.postBuffer": _POST_BUFFER})

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

    def _local(self, cache: Path, *args: str) -> subprocess.CompletedProcess:
        return _git(list(args), remote=None, cwd=cache, timeout=self.timeout_seconds, operation=args[0])

    def _ensure_cache(self, cache: Path) -> None:
        if (cache / "HEAD").is_file() and (cache / "objects").is_dir():
            return
        # A half-created cache (crash during init) is rebuilt rather than trusted.
        shutil.rmtree(cache, ignore_errors=True)
        cache.parent.mkdir(parents=True, exist_ok=True)
        _git(["init", "--bare", "--quiet", str(cache)], remote=None, cwd=None, timeout=self.timeout_seconds,
             operation="init")
        # Reflogs would only grow: the run history is the record of what changed.
        self._local(cache, "config", "core.logAllRefUpdates", "false")

    def _local_refs(self, cache: Path) -> dict[str, str]:
        proc = self._local(cache, "for-each-ref", "--format=%(objectname) %(refname)",
                           "refs/heads", "refs/tags")
        return _parse_refs(proc.stdout)

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
        proc = _git(["merge-base", "--is-ancestor", old_sha, new_sha], remote=None, cwd=cache,
                    timeout=self.timeout_seconds, check=False)
        return proc.returncode == 0
