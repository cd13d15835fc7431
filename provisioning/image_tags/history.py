"""Walk a range of commits and record every image change with the commit that made it.

One ``git log --raw`` lists the commits (parents first) and the blobs each one changed against its first
parent. A commit whose diff misses every path the parent's snapshot looked at reuses that snapshot as is;
otherwise the snapshot is rebuilt from cached parses, so only changed files are ever parsed.

Merge commits are compared with their first parent, but a change is recorded at the merge only when the
merge's value matches none of its parents: a value that arrives from the merged branch was already
recorded on the branch commit that made it (in this scan, or in an earlier one when that commit was
reachable from ``old_sha``). Only evil merges and conflict resolutions produce changes of their own.
"""

from __future__ import annotations

import subprocess
from collections import Counter
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from provisioning.errors import InvalidInput, ProvisioningError
from provisioning.gitenv import git_environment
from provisioning.image_tags.inventory import (
    BlobReader,
    Snapshot,
    TreeView,
    build_snapshot,
    open_repo,
    resolve_commit,
    sorted_refs,
)
from provisioning.image_tags.model import (
    AppVersionChange,
    CommitInfo,
    DeployConfig,
    ImageTagChange,
    Limits,
    ScanProblem,
    ScanResult,
)

_NULL_SHA = "0" * 40
_REGULAR_FILE_MODES = ("100644", "100755")
_FORMAT = "%x1e%H%x1f%P%x1f%an%x1f%ae%x1f%cI%x1f%s"


@dataclass
class _Commit:
    info: CommitInfo
    parents: list[str]
    changed: dict[str, str | None]  # path -> new blob sha (None: gone or not a regular file)


def scan(
    repo_path: Path,
    *,
    config: DeployConfig,
    old_sha: str | None,
    new_sha: str,
    limits: Limits = Limits(),
) -> ScanResult:
    """Image changes of every commit reachable from ``new_sha`` and not from ``old_sha``, oldest first."""
    repo = open_repo(repo_path)
    try:
        new = resolve_commit(repo, new_sha)
        old = resolve_commit(repo, old_sha) if old_sha else None
        return _Walk(repo, config, limits).run(_log(Path(repo.git_dir), new, old), new)
    finally:
        repo.close()


class _Walk:
    def __init__(self, repo, config: DeployConfig, limits: Limits):
        self.repo = repo
        self.config = config
        self.reader = BlobReader(repo, limits)
        self.snaps: dict[str, Snapshot] = {}
        self.changes: list[ImageTagChange] = []
        self.app_versions: list[AppVersionChange] = []
        self.problems: dict[tuple[str, str], ScanProblem] = {}

    def snapshot_of(self, sha: str) -> Snapshot:
        snap = self.snaps.get(sha)
        if snap is None:
            snap = self.snaps[sha] = build_snapshot(TreeView(self.repo, sha), self.config, self.reader)
        return snap

    def run(self, commits: list[_Commit], new: str) -> ScanResult:
        # Snapshots are dropped once every child in the range has used them: memory stays flat.
        pending = Counter(p for c in commits for p in c.parents)
        for commit in commits:
            self.step(commit)
            for parent in commit.parents:
                pending[parent] -= 1
                if pending[parent] <= 0 and parent != new:
                    self.snaps.pop(parent, None)
            if pending[commit.info.sha] <= 0 and commit.info.sha != new:
                self.snaps.pop(commit.info.sha, None)
        final = self.snapshot_of(new)
        for problem in final.problems:
            # Still broken at new_sha but introduced before this range: report it against new_sha.
            self.problems.setdefault((problem.file, problem.reason), problem.at(new))
        return ScanResult(
            changes=tuple(self.changes),
            inventory=sorted_refs(final.refs.values()),
            problems=tuple(self.problems.values()),
            app_versions=tuple(self.app_versions),
            commits_scanned=len(commits),
        )

    def step(self, commit: _Commit) -> None:
        sha = commit.info.sha
        if not commit.parents:
            parent = Snapshot()
            snap = self.snaps[sha] = build_snapshot(TreeView(self.repo, sha), self.config, self.reader)
        else:
            parent = self.snapshot_of(commit.parents[0])
            if parent.files.keys().isdisjoint(commit.changed.keys()):
                self.snaps[sha] = parent
                return
            known = {**parent.files, **commit.changed}
            snap = self.snaps[sha] = build_snapshot(TreeView(self.repo, sha, known), self.config, self.reader)
        others = [self.snapshot_of(p) for p in commit.parents[1:]]
        self.record_refs(commit.info, parent, snap, others)
        self.record_app_versions(commit.info, parent, snap, others)
        for problem in snap.problems - parent.problems:
            if problem.missing and not commit.parents:
                continue  # a root commit without the chart yet is how most histories start
            if any(problem in other.problems for other in others):
                continue
            self.problems.setdefault((problem.file, problem.reason), problem.at(sha))

    def record_refs(self, info: CommitInfo, parent: Snapshot, snap: Snapshot, others: list[Snapshot]) -> None:
        def state(s: Snapshot, key):
            ref = s.refs.get(key)
            return None if ref is None else (ref.tag, ref.digest)

        for key in sorted(parent.refs.keys() | snap.refs.keys()):
            before, after = state(parent, key), state(snap, key)
            if before == after or any(state(o, key) == after for o in others):
                continue
            ref = snap.refs.get(key) or parent.refs[key]
            kind = "added" if before is None else "removed" if after is None else "changed"
            self.changes.append(
                ImageTagChange(
                    image=ref.image,
                    file=ref.file,
                    location=ref.location,
                    old_tag=before[0] if before else None,
                    new_tag=after[0] if after else None,
                    old_digest=before[1] if before else None,
                    new_digest=after[1] if after else None,
                    commit_sha=info.sha,
                    commit_author=info.author,
                    commit_email=info.email,
                    committed_at=info.committed_at,
                    commit_subject=info.subject,
                    kind=kind,
                )
            )

    def record_app_versions(self, info, parent: Snapshot, snap: Snapshot, others: list[Snapshot]) -> None:
        for file in sorted(parent.app_versions.keys() | snap.app_versions.keys()):
            before, after = parent.app_versions.get(file), snap.app_versions.get(file)
            if before == after or any(o.app_versions.get(file) == after for o in others):
                continue
            kind = "added" if before is None else "removed" if after is None else "changed"
            self.app_versions.append(
                AppVersionChange(
                    file, before, after, info.sha, info.author, info.email, info.committed_at, info.subject, kind
                )
            )


def _log(git_dir: Path, new: str, old: str | None) -> list[_Commit]:
    args = [
        "git", "--git-dir", str(git_dir), "log", "--raw", "--no-renames", "--no-abbrev", "--root",
        "--diff-merges=first-parent", "-z", "--topo-order", "--reverse", f"--format={_FORMAT}", new,
    ]  # fmt: skip
    if old:
        args += ["--not", old]
    proc = subprocess.run(args, capture_output=True, env=git_environment(), check=False)
    if proc.returncode != 0:
        message = proc.stderr.decode("utf-8", "replace").strip().splitlines()
        raise ProvisioningError(f"git log failed: {message[-1] if message else proc.returncode}")
    commits = []
    for chunk in proc.stdout.split(b"\x1e")[1:]:
        header, _, raw = chunk.partition(b"\0")
        fields = header.decode("utf-8", "replace").split("\x1f")
        if len(fields) != 6:
            raise InvalidInput("unexpected git log output")
        sha, parents, author, email, date, subject = fields
        commits.append(
            _Commit(
                CommitInfo(sha, author, email, datetime.fromisoformat(date), subject),
                parents.split(),
                _parse_raw(raw),
            )
        )
    return commits


def _parse_raw(raw: bytes) -> dict[str, str | None]:
    tokens = raw.lstrip(b"\n").split(b"\0")
    changed: dict[str, str | None] = {}
    # -z raw output alternates ":oldmode newmode oldsha newsha status" and the path.
    for meta, path in zip(tokens[::2], tokens[1::2]):
        parts = meta.decode().lstrip(":").split()
        if len(parts) < 5:
            continue
        new_mode, new_sha = parts[1], parts[3]
        regular = new_mode in _REGULAR_FILE_MODES and new_sha != _NULL_SHA
        changed[path.decode("utf-8", "surrogateescape")] = new_sha if regular else None
    return changed
