"""Walk a range of commits and record every image change with the commit that made it and the commit of
the deploy revision's first-parent line where it took effect.

One ``git log --raw`` lists the commits (parents first) and the blobs each one changed against its first
parent. A commit whose diff misses every path the parent's snapshot looked at reuses that snapshot as is;
otherwise the snapshot is rebuilt from cached parses, so only changed files are ever parsed.

Every commit's own change (against its first parent; for a merge only what matches none of its parents)
is recorded once, with the line commit that brought it in as ``effective_sha``. Along the line, a merge's
net change is the deployed change: when a single side commit made exactly that change its row stands for
both; otherwise (several side commits, or a base that moved meanwhile) one more row records the net change,
attributed to the side commit that set the value. Reading ``on_deploy_line`` rows in order gives each
change of the deployed value once.

When ``old_sha`` is no longer contained in ``new_sha`` (a force-push), the range starts where the two
first-parent lines part, every commit taken away is reported, and the change back from what ``old_sha``
set to where the new line starts is recorded first, caused by the force-push.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from provisioning.errors import InvalidInput, ProvisioningError
from provisioning.git.client import GitClient
from provisioning.image_tags.inventory import (
    BlobReader,
    Snapshot,
    TreeView,
    build_snapshot,
    config_paths,
    open_repo,
    resolve_commit,
    sorted_refs,
)
from provisioning.image_tags.lineage import Diff, diff, first_parent_line, not_contained, rewrite_between
from provisioning.image_tags.model import (
    CAUSE_COMMIT,
    CAUSE_FORCE_PUSH,
    AppVersionChange,
    CommitInfo,
    DeployConfig,
    ImageTagChange,
    Limits,
    ScanProblem,
    ScanResult,
)

_NULL_SHA = "0" * 40
_FULL_SHA = re.compile(r"^(?:[0-9a-f]{40}|[0-9a-f]{64})$")
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
    """Image changes of every commit reachable from ``new_sha`` and not from ``old_sha``, oldest first
    along the first-parent line; after a force-push, from where the lines part."""
    repo = open_repo(repo_path)
    try:
        git_dir = Path(repo.git_dir)
        new, old = _resolve(repo, git_dir, new_sha, old_sha)
        rewrite = rewrite_between(git_dir, old, new) if old else None
        start = rewrite.base if rewrite else old
        walk = _Walk(repo, config, limits)
        result = walk.run(_log(git_dir, new, start), new, forced_from=old if rewrite else None)
        if rewrite:
            result = _with_removed(result, rewrite.removed)
        return result
    finally:
        repo.close()


def _resolve(repo, git_dir: Path, new_sha: str, old_sha: str | None) -> tuple[str, str | None]:
    """The commits ``new_sha`` and ``old_sha`` name. Full SHAs (what callers pass) are checked by one
    ``rev-parse``: GitPython would start its ``cat-file`` process for it, and stopping that process when the
    repository is closed costs more than the check. Anything else, or an unknown commit, goes through
    ``resolve_commit`` (and its error)."""
    given = [new_sha] + ([old_sha] if old_sha else [])
    if all(_FULL_SHA.match(sha) for sha in given):
        proc = GitClient(git_dir=git_dir).run("rev-parse", *(f"{sha}^{{commit}}" for sha in given), check=False)
        found = proc.stdout.decode().split()
        if proc.returncode == 0 and len(found) == len(given):
            return found[0], found[1] if old_sha else None
    return resolve_commit(repo, new_sha), resolve_commit(repo, old_sha) if old_sha else None


def commits_not_contained(repo_path: Path, shas, *, tip: str) -> set[str]:
    """Which of ``shas`` the commit ``tip`` does not contain: how a caller whose last scanned commit is gone
    from the repository (force-pushed away, then garbage-collected) finds the history it lost."""
    repo = open_repo(repo_path)
    try:
        return not_contained(Path(repo.git_dir), set(shas), resolve_commit(repo, tip))
    finally:
        repo.close()


def _with_removed(result: ScanResult, removed: tuple[str, ...]) -> ScanResult:
    return ScanResult(changes=result.changes, inventory=result.inventory, problems=result.problems,
                      app_versions=result.app_versions, commits_scanned=result.commits_scanned,
                      removed_commits=removed)


class _Walk:
    def __init__(self, repo, config: DeployConfig, limits: Limits):
        self.repo = repo
        self.config = config
        self.reader = BlobReader(repo, limits, upcoming=self.upcoming)
        self.commits: list[_Commit] = []
        self.at = 0  # index in ``commits`` of the commit being stepped
        self.watched: set[str] = config_paths(config)  # every path a snapshot looked at
        self.snaps: dict[str, Snapshot] = {}
        self.own: dict[str, list[Diff]] = {}  # sha -> what the commit itself changed
        self.net: dict[str, list[Diff]] = {}  # line merge sha -> all it changed against its first parent
        self.line: set[str] = set()
        self.app_versions: list[AppVersionChange] = []
        self.problems: dict[tuple[str, str], ScanProblem] = {}

    def snapshot_of(self, sha: str | None) -> Snapshot:
        if sha is None:
            return Snapshot()
        snap = self.snaps.get(sha)
        if snap is None:
            snap = self.snaps[sha] = self.build(TreeView(self.repo, sha))
        return snap

    def build(self, view: TreeView, parent: Snapshot | None = None) -> Snapshot:
        snap = build_snapshot(view, self.config, self.reader, parent)
        if not self.watched.issuperset(snap.files):
            self.watched.update(snap.files)
        return snap

    def run(self, commits: list[_Commit], new: str, *, forced_from: str | None = None) -> ScanResult:
        parents = {c.info.sha: c.parents for c in commits}
        line = first_parent_line(parents, {sha: i for i, sha in enumerate(parents)}, new)
        self.line = {sha for sha, _ in line}
        keep = {new}
        changes: list[ImageTagChange] = []
        if forced_from:
            # Where the new line starts: the first parent of its oldest scanned commit, or new itself when
            # the force-push went back to a commit already scanned.
            start = new if not line else (parents[line[0][0]] or [None])[0]
            changes = self.change_back(forced_from, start, new)
            keep |= {forced_from, start}
        # Snapshots are dropped once every child in the range has used them: memory stays flat.
        pending = Counter(p for c in commits for p in c.parents)
        self.commits = commits
        for self.at, commit in enumerate(commits):
            self.step(commit)
            for parent in commit.parents:
                pending[parent] -= 1
                if pending[parent] <= 0 and parent not in keep:
                    self.snaps.pop(parent, None)
            if pending[commit.info.sha] <= 0 and commit.info.sha not in keep:
                self.snaps.pop(commit.info.sha, None)
        infos = {c.info.sha: c.info for c in commits}
        changes += self.along(line, infos)
        final = self.snapshot_of(new)
        for problem in final.problems:
            # Still broken at new_sha but introduced before this range: report it against new_sha.
            self.problems.setdefault((problem.file, problem.reason), problem.at(new))
        return ScanResult(
            changes=tuple(changes),
            inventory=sorted_refs(final.refs.values()),
            problems=tuple(self.problems.values()),
            app_versions=tuple(self.app_versions),
            commits_scanned=len(commits),
        )

    def upcoming(self):
        """The blobs the commits from the current one on changed at paths snapshots look at."""
        watched = self.watched
        for commit in self.commits[self.at:]:
            for path, sha in commit.changed.items():
                if sha is not None and path in watched:
                    yield sha

    def step(self, commit: _Commit) -> None:
        sha = commit.info.sha
        if not commit.parents:
            parent = Snapshot()
            # A root commit's diff (against the empty tree) lists every file it has.
            snap = self.snaps[sha] = self.build(TreeView(self.repo, sha, dict(commit.changed)))
        else:
            parent = self.snapshot_of(commit.parents[0])
            if parent.files.keys().isdisjoint(commit.changed.keys()):
                self.snaps[sha] = parent
                return
            known = {**parent.files, **commit.changed}
            snap = self.snaps[sha] = self.build(TreeView(self.repo, sha, known), parent)
        others = [self.snapshot_of(p) for p in commit.parents[1:]]
        self.own[sha] = diff(parent, snap, others)
        if others and sha in self.line:
            self.net[sha] = diff(parent, snap)
        self.record_app_versions(commit.info, parent, snap, others)
        for problem in snap.problems - parent.problems:
            if problem.missing and not commit.parents:
                continue  # a root commit without the chart yet is how most histories start
            if any(problem in other.problems for other in others):
                continue
            self.problems.setdefault((problem.file, problem.reason), problem.at(sha))

    def along(self, line: list[tuple[str, list[str]]], infos: dict[str, CommitInfo]) -> list[ImageTagChange]:
        """Side commits' own changes, then the line commit's deployed change, line commit by line commit."""
        out: list[ImageTagChange] = []
        for sha, side in line:
            effective = infos[sha]
            side_rows: list[list] = []  # [info, diff, on_deploy_line]
            latest: dict[tuple, int] = {}
            for side_sha in side:
                for d in self.own.get(side_sha, ()):
                    latest[d.result_key()] = len(side_rows)
                    side_rows.append([infos[side_sha], d, False])
            line_rows: list[tuple[CommitInfo, Diff, bool]] = []  # (authored by, diff, own change)
            if sha in self.net:
                made_here = {d.result_key() for d in self.own.get(sha, ())}
                for d in self.net[sha]:
                    key = d.result_key()
                    if key in made_here or key not in latest:
                        # An evil merge or conflict resolution; or a value from a side commit scanned before.
                        line_rows.append((effective, d, key in made_here))
                    elif side_rows[latest[key]][1] == d:
                        side_rows[latest[key]][2] = True  # that side commit's change is the deployed change
                    else:
                        line_rows.append((side_rows[latest[key]][0], d, False))
            else:
                line_rows = [(effective, d, True) for d in self.own.get(sha, ())]
            for info, d, on_line in side_rows:
                out.append(_change(info, d, effective, on_deploy_line=on_line, own_change=True))
            for info, d, own in line_rows:
                out.append(_change(info, d, effective, on_deploy_line=True, own_change=own))
        return out

    def change_back(self, old: str, start: str | None, new: str) -> list[ImageTagChange]:
        """What the force-push took back: from what ``old`` set to where the new line starts."""
        head = self.repo.commit(new)
        subject = f"force-push replaced {old[:12]} with {new[:12]}"
        info = CommitInfo(new, "", "", datetime.now(timezone.utc), subject)
        effective = CommitInfo(new, "", "", head.committed_datetime,
                               head.summary if isinstance(head.summary, str) else "")
        return [
            _change(info, d, effective, on_deploy_line=True, own_change=False, cause=CAUSE_FORCE_PUSH)
            for d in diff(self.snapshot_of(old), self.snapshot_of(start))
        ]

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


def _change(info: CommitInfo, d: Diff, effective: CommitInfo, *, on_deploy_line: bool, own_change: bool,
            cause: str = CAUSE_COMMIT) -> ImageTagChange:
    return ImageTagChange(
        image=d.image or d.old_image,
        file=d.file,
        location=d.location,
        old_tag=d.before[0] if d.before else None,
        new_tag=d.after[0] if d.after else None,
        old_digest=d.before[1] if d.before else None,
        new_digest=d.after[1] if d.after else None,
        commit_sha=info.sha,
        commit_author=info.author,
        commit_email=info.email,
        committed_at=info.committed_at,
        commit_subject=info.subject,
        kind=d.kind,
        old_image=d.old_image if d.image and d.old_image and d.old_image != d.image else None,
        effective_sha=effective.sha,
        effective_subject=effective.subject,
        effective_committed_at=effective.committed_at,
        on_deploy_line=on_deploy_line,
        own_change=own_change,
        cause=cause,
    )


def _log(git_dir: Path, new: str, old: str | None) -> list[_Commit]:
    args = [
        "log", "--raw", "--no-renames", "--no-abbrev", "--root",
        "--diff-merges=first-parent", "-z", "--topo-order", "--reverse", f"--format={_FORMAT}", new,
    ]  # fmt: skip
    if old:
        args += ["--not", old]
    proc = GitClient(git_dir=git_dir).run(*args, check=False)
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
