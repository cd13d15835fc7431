"""Mirror an external repository's branches and tags into the internal forge.

Each mirrored repository keeps a bare cache on local disk, so a sync fetches only what is new upstream and
pushes only the delta: cost follows the change, not the repository size.

A sync starts with one listing of the source (refs and HEAD in one ``ls-remote --symref``, or in one HTTP
request without git where the source speaks protocol v2) and compares it with what the cache recorded after
the last sync. Equal: nothing is fetched nor pushed, and the target is
only listed when its last check is older than ``verify_interval_seconds`` (it could have drifted: someone
pushed to the mirror). Different: fetch the new objects, then push every changed ref at once, without
listing the target first: each update names the SHA the record says the target holds, so the target
refuses one that moved. Both are one HTTP request of the console's own where they can be
(``provisioning.git.upload_pack``, ``provisioning.git.receive_pack``); otherwise, and for whatever those did
not apply, ``git fetch`` and one ``git push --porcelain``, whose per-ref status lines (with full SHAs) say
what changed and how (fast-forward, forced, created, deleted). A cache without a record (first sync, or one
that crashed) lists the target as before, so what it reports never rests on a guess.

Credentials reach git only through ``provisioning.git`` (askpass + environment), and the console's own
requests carry them in a header sent only to the remote's origin. URLs given to git carry none, the cache's
config never records a remote, and every git message is redacted before it is raised.
"""

from __future__ import annotations

import fcntl
import json
import os
import re
import shutil
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path

from provisioning.errors import (
    AuthenticationFailed,
    InvalidInput,
    PermissionDenied,
    ProvisioningError,
    Unreachable,
)
from provisioning.forge.base import GitRemote
from provisioning.git.cache_files import is_ancestor_by_loose_commits, is_maintenance_due, refs_from_files
from provisioning.git.client import GitClient, GitResult, parse_refs
from provisioning.git.ls_refs import list_refs
from provisioning.git.receive_pack import RefUpdate, post_push
from provisioning.git.upload_pack import fetch_pack

REFSPECS = ("+refs/heads/*:refs/heads/*", "+refs/tags/*:refs/tags/*")
# Large pushes are otherwise sent in many small chunked requests; one buffer keeps them in one POST.
_POST_BUFFER = str(512 * 1024 * 1024)
_CACHE_KEY = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,199}$")
# In the bare cache: the refs and HEAD the last sync left on the target, and when the target was last known
# to equal them. Removed with the cache; rewritten atomically after each sync.
_STATE_FILE = "dso-mirror-state.json"
_PUSH_KINDS = {" ": "updated", "+": "forced", "*": "created", "-": "deleted"}


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
    listed = list_refs(remote, timeout_seconds=timeout_seconds, need_head=False)
    if listed is not None:
        return listed[2]
    client = GitClient(remote=remote, timeout_seconds=timeout_seconds)
    return parse_refs(client.run("ls-remote", "--heads", "--tags", remote.url, remote=True).text)


def _advertised(remote: GitRemote, *, timeout: float) -> tuple[str | None, str | None, dict[str, str]]:
    """(default branch name, sha HEAD points at, {ref: sha} of branches and tags) of ``remote``, in one
    ``ls-remote`` (one connection) instead of one for HEAD and one for the refs; in one HTTP request and no
    process when the remote speaks protocol v2 (``provisioning.git.ls_refs``)."""
    listed = list_refs(remote, timeout_seconds=timeout)
    if listed is not None:
        return listed
    client = GitClient(remote=remote, timeout_seconds=timeout)
    branch = sha = None
    refs: dict[str, str] = {}
    for line in client.run("ls-remote", "--symref", remote.url, remote=True).text.splitlines():
        left, _, right = line.partition("\t")
        if right == "HEAD":
            if left.startswith("ref: refs/heads/"):
                branch = left.removeprefix("ref: refs/heads/")
            elif not left.startswith("ref: "):
                sha = left.strip()
        elif right.startswith(("refs/heads/", "refs/tags/")) and not right.endswith("^{}"):
            refs[right] = left.strip()
    return branch, sha, refs


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

    def __init__(self, cache_root: Path, *, timeout_seconds: float = 600, verify_interval_seconds: float = 0):
        self.cache_root = Path(cache_root)
        self.timeout_seconds = timeout_seconds
        # How long a sync that finds nothing new upstream trusts that the target still holds what was pushed
        # (0: it lists the target every time).
        self.verify_interval_seconds = verify_interval_seconds

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
            state = self._read_state(cache)
            target_listing = None
            if state is None:
                # Without a record the target is listed too (what it held is the base of the reported
                # changes): both listings are round trips to other servers, so they go at the same time.
                lister = ThreadPoolExecutor(max_workers=1, thread_name_prefix="mirror-ls-remote")
                target_listing = lister.submit(ls_remote, target, timeout_seconds=self.timeout_seconds)
                lister.shutdown(wait=False)
            try:
                default_branch, head_sha, advertised = _advertised(source, timeout=self.timeout_seconds)
            except BaseException:
                if target_listing is not None:
                    wait([target_listing])  # the source's error is the one reported, as before
                raise
            old = target_listing.result() if target_listing is not None else None
            if state is not None and advertised == state["refs"]:
                new, pushed, verified = state["refs"], (), state["verified_at"]
                if time.time() - verified >= self.verify_interval_seconds:
                    # Nothing new upstream: a listing of the target (read access only) tells whether it drifted.
                    old = ls_remote(target, timeout_seconds=self.timeout_seconds)
                    if old != new:
                        pushed = self._push(cache, target, old, new, default_branch, state, set_default_branch)
                    verified = time.time()
            else:
                new = self._fetch(cache, source, advertised)
                pushed = ()
                if old is None or old != new:
                    pushed = self._push(cache, target, old, new, default_branch, state, set_default_branch)
                verified = time.time()
            if recorded_refs is None:
                changes = pushed
            else:
                changes = self._diff(cache, recorded_refs, new, known=pushed)
            known_branch = default_branch if f"refs/heads/{default_branch}" in new else None
            if known_branch:
                head_sha = new[f"refs/heads/{known_branch}"]
                if state is None or state.get("head") != known_branch:
                    # Keeps the cache browsable and lets a later clone from it pick the same default.
                    self._local(cache, "symbolic-ref", "HEAD", f"refs/heads/{known_branch}")
            target_head = known_branch if pushed and known_branch else (state or {}).get("target_head")
            self._write_state(cache, {"refs": new, "head": known_branch or (state or {}).get("head"),
                                      "target_head": target_head, "verified_at": verified})
        return MirrorResult(changes=changes, default_branch=default_branch, head_sha=head_sha, refs=new,
                            pushed=bool(pushed))

    def _push(self, cache: Path, target: GitRemote, old: dict[str, str] | None, new: dict[str, str],
              default_branch: str | None, state: dict | None,
              set_default_branch: Callable[[str], None] | None) -> tuple[RefChange, ...]:
        """Push the cache's branches and tags to ``target``; the changes the push made, per ref.

        ``old`` is the target's refs when listed, else None (then the record stands for them: only the old
        SHA of a deleted ref comes from it, since a push reports none)."""
        before = old if old is not None else state["refs"]

        def push(*options: str) -> list[RefChange]:
            # core.abbrev=no: the porcelain status lines carry full SHAs, not abbreviations.
            result = self._client(cache, target).run(
                "push", "--porcelain", *options, target.url, *REFSPECS, remote=True,
                config={"http.postBuffer": _POST_BUFFER, "core.abbrev": "no"})
            return _push_changes(result.text, before, new)

        default_branch = default_branch if default_branch and f"refs/heads/{default_branch}" in new else None
        known_head = (state or {}).get("target_head")
        if set_default_branch is None or not default_branch or (known_head == default_branch and old is None):
            return tuple(sorted(self._push_everything(cache, target, before, new, push), key=lambda c: c.ref))
        # The default branch may move: creations and updates first, so that it exists on the target, then
        # the forge's HEAD, then deletions (a forge refuses to delete its current default branch).
        deletions = old is not None and any(ref not in new for ref in old)
        changes = push() if not deletions or any(old.get(r) != sha for r, sha in new.items()) else []
        set_default_branch(default_branch)
        if deletions or old is None:
            changes += push("--prune")
        return tuple(sorted(changes, key=lambda c: c.ref))

    def _push_everything(self, cache: Path, target: GitRemote, before: dict[str, str], new: dict[str, str],
                         push: Callable[..., list[RefChange]]) -> list[RefChange]:
        """Every update and deletion in one request of the console's own (``receive_pack``), naming the SHA
        each ref held at the last sync; ``git push --prune`` for whatever that did not apply."""
        updates = [RefUpdate(ref, before.get(ref), sha) for ref, sha in sorted(new.items()) if before.get(ref) != sha]
        updates += [RefUpdate(ref, sha, None) for ref, sha in sorted(before.items()) if ref not in new]
        accepted = post_push(cache, target, updates, remote_holds=set(before.values()),
                             timeout_seconds=self.timeout_seconds)
        changes = [self._pushed_change(cache, u) for u in updates if u.ref in accepted]
        if not updates or len(accepted) < len(updates):
            # Nothing to update still pushes: the target may have drifted from the record. What was applied
            # is up to date for git, which then pushes, and reports, only the rest.
            changes += push("--prune")
        return changes

    def _pushed_change(self, cache: Path, update: RefUpdate) -> RefChange:
        """The change as ``push --porcelain`` would have called it: a moved tag is always a forced update, a
        moved branch one unless its old commit is an ancestor of the new one."""
        if update.old_sha is None:
            kind = "created"
        elif update.new_sha is None:
            kind = "deleted"
        elif update.ref.startswith("refs/tags/") or not self._is_ancestor(cache, update.old_sha, update.new_sha):
            kind = "forced"
        else:
            kind = "updated"
        return RefChange(ref=update.ref, old_sha=update.old_sha, new_sha=update.new_sha, kind=kind)

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
        # Reflogs would only grow: the run history is the record of what changed. Appended to the config
        # ``init`` just wrote (a later section's value wins), a git process fewer on the first sync.
        with open(cache / "config", "a") as config:
            config.write("[core]\n\tlogAllRefUpdates = false\n")

    def _read_state(self, cache: Path) -> dict | None:
        try:
            state = json.loads((cache / _STATE_FILE).read_text())
        except (OSError, ValueError):
            return None
        if not isinstance(state, dict) or not isinstance(state.get("refs"), dict):
            return None
        state.setdefault("verified_at", 0.0)
        return state

    def _write_state(self, cache: Path, state: dict) -> None:
        partial = cache / f"{_STATE_FILE}.tmp"
        partial.write_text(json.dumps(state, sort_keys=True))
        os.replace(partial, cache / _STATE_FILE)

    def _fetch(self, cache: Path, source: GitRemote, advertised: dict[str, str]) -> dict[str, str]:
        """Make the cache's branches and tags those of the source; what they are now.

        The listing of the source already says what each ref points at, so the cache asks for exactly those
        objects (``+<sha>:<ref>``, without tag following): git then skips its own listing of the source, one
        round trip (over HTTP, one request and one server process), and the new refs are known without
        asking the cache. A deletion, a cache whose refs cannot be read from its files, or a source that
        refuses the wants (a protocol v0 server whose ref moved since the listing) takes the ordinary
        pruning fetch of every branch and tag instead."""
        held = refs_from_files(cache)
        if held is not None and held.keys() <= advertised.keys():
            moved = {ref: sha for ref, sha in advertised.items() if held.get(ref) != sha}
            # A cache with history asks for the few new objects in one request of its own (upload_pack); an
            # empty one (the first, full mirror) lets git stream the whole pack to disk.
            if moved and held and fetch_pack(cache, source, moved, have=set(held.values()),
                                             timeout_seconds=self.timeout_seconds):
                self._maintain_when_due(cache)
                return dict(advertised)
            wanted = "".join(f"+{sha}:{ref}\n" for ref, sha in sorted(moved.items()))
            try:
                if wanted:
                    self._client(cache, source).run(
                        "fetch", "--no-tags", "--no-write-fetch-head", "--no-auto-maintenance", "--quiet", "--stdin",
                        source.url, input=wanted, remote=True)
                    self._maintain_when_due(cache)
                return dict(advertised)
            except ProvisioningError as exc:
                if isinstance(exc, (AuthenticationFailed, PermissionDenied, Unreachable)):
                    raise
        fetch = ["fetch", "--prune", "--prune-tags", "--no-write-fetch-head", "--no-auto-maintenance", "--quiet"]
        self._client(cache, source).run(*fetch, source.url, *REFSPECS, remote=True)
        self._maintain_when_due(cache)
        refs = refs_from_files(cache)
        return refs if refs is not None else self._local_refs(cache)

    def _maintain_when_due(self, cache: Path) -> None:
        """``git maintenance run --auto`` when git's own ``gc --auto`` estimate says it has work to do.

        ``git fetch`` would start it after every fetch, a process that mostly finds nothing to do; the same
        estimate (loose objects sampled in one of the 256 object folders, and the number of packs) read here
        starts it only when it will repack."""
        if is_maintenance_due(cache):
            self._local(cache, "maintenance", "run", "--auto", "--quiet")

    def _local_refs(self, cache: Path) -> dict[str, str]:
        proc = self._local(cache, "for-each-ref", "--format=%(objectname) %(refname)",
                           "refs/heads", "refs/tags")
        return parse_refs(proc.text)

    def _diff(self, cache: Path, old: dict[str, str], new: dict[str, str],
              known: tuple[RefChange, ...] = ()) -> tuple[RefChange, ...]:
        """Changes from ``old`` to ``new``; a ref ``known`` changed the same way (by this sync's push) keeps the
        kind the push reported, so ``merge-base`` runs only for what an earlier attempt pushed."""
        pushed = {(c.ref, c.old_sha, c.new_sha): c.kind for c in known}
        changes = []
        for ref in sorted(old.keys() | new.keys()):
            before, after = old.get(ref), new.get(ref)
            if before == after:
                continue
            if before is None:
                kind = "created"
            elif after is None:
                kind = "deleted"
            elif (ref, before, after) in pushed:
                kind = pushed[(ref, before, after)]
            else:
                kind = "updated" if self._is_ancestor(cache, before, after) else "forced"
            changes.append(RefChange(ref=ref, old_sha=before, new_sha=after, kind=kind))
        return tuple(changes)

    def _is_ancestor(self, cache: Path, old_sha: str, new_sha: str) -> bool:
        known = is_ancestor_by_loose_commits(cache, old_sha, new_sha)
        if known is not None:
            return known
        # Exit 1 means "not an ancestor"; 128 means the old object is unknown here (rewritten history the
        # cache never saw): both count as a forced update.
        proc = self._client(cache).run("merge-base", "--is-ancestor", old_sha, new_sha, check=False)
        return proc.returncode == 0


def _push_changes(output: str, before: dict[str, str], new: dict[str, str]) -> list[RefChange]:
    """The refs a ``push --porcelain`` changed: ``<flag>\t<src>:<dst>\t<summary>`` lines, where the summary
    of an update is ``old..new`` (fast-forward) or ``old...new`` (forced)."""
    changes = []
    for line in output.splitlines():
        flag, _, rest = line.partition("\t")
        kind = _PUSH_KINDS.get(flag)
        if kind is None:
            continue  # "=" up to date, "To <url>", "Done"
        spec, _, summary = rest.partition("\t")
        ref = spec.rpartition(":")[2]
        if kind == "created":
            old_sha, new_sha = None, new.get(ref)
        elif kind == "deleted":
            old_sha, new_sha = before.get(ref), None
        else:
            old_sha, _, new_sha = summary.split(" ", 1)[0].replace("...", "..").partition("..")
        changes.append(RefChange(ref=ref, old_sha=old_sha, new_sha=new_sha, kind=kind))
    return changes
