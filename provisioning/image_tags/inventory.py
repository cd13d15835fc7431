"""What a deploy configuration sets at one commit: image refs, appVersion and the problems met on the way.

Parsing is cached by (blob sha, role) in ``blobs.BlobReader``: a file that did not change between commits is never read twice,
which is what keeps a 1,000-commit history cheap. A ``Snapshot`` also remembers every path it looked at
(present or not), so the history walk can tell from a commit's diff alone whether anything it cares about
moved.
"""

from __future__ import annotations

import posixpath
import weakref
from dataclasses import dataclass, field
from functools import lru_cache

import git

from provisioning.errors import InvalidInput, NotFound
from provisioning.image_tags import kustomize
from provisioning.image_tags.blobs import (  # noqa: F401 - ROLE_*, Parsed and parse_text are read from here
    ROLE_CHART,
    ROLE_KUSTOMIZATION,
    ROLE_MANIFEST,
    ROLE_VALUES,
    BlobReader,
    Parsed,
    parse_text,
)
from provisioning.image_tags.model import HELM, KUSTOMIZE, CommitInfo, DeployConfig, ImageRef, Limits, ScanProblem

_REGULAR_FILE_MODES = (0o100644, 0o100755)


class TreeView:
    """Blob shas of paths at one commit; ``known`` (from the parent plus the diff) saves tree walks."""

    def __init__(self, repo: git.Repo, sha: str, known: dict[str, str | None] | None = None):
        self.repo = repo
        self.sha = sha
        self.known = known if known is not None else {}
        self.read: dict[str, str | None] = {}
        self._folders: dict[str, object] = {}

    def blob(self, path: str) -> str | None:
        if path in self.known:
            sha = self.known[path]
        else:
            sha = self._lookup(path)
        self.read[path] = sha
        return sha

    def _lookup(self, path: str) -> str | None:
        folder, _, name = path.rpartition("/")
        tree = self._folder(folder)
        try:
            obj = tree / name if tree is not None else None
        except KeyError:
            return None
        if obj is None:
            return None
        # Directories, submodules and symlinks are not files we parse.
        if obj.type != "blob" or obj.mode not in _REGULAR_FILE_MODES:
            return None
        return obj.hexsha

    def _folder(self, folder: str):
        """The tree at ``folder`` (None if there is none), each read once: GitPython reads a folder again
        for every path looked up through it."""
        if folder in self._folders:
            return self._folders[folder]
        if not folder:
            tree = self.repo.commit(self.sha).tree
        else:
            parent, _, name = folder.rpartition("/")
            above = self._folder(parent)
            try:
                tree = above / name if above is not None else None
            except KeyError:
                tree = None
            if tree is not None and tree.type != "tree":
                tree = None
        self._folders[folder] = tree
        return tree


@dataclass(frozen=True)
class Problem:
    """A problem independent of the commit, so an unchanged broken file is reported once."""

    file: str
    reason: str
    missing: bool = False  # reason is a template needing the commit: "... not found at {sha}"

    def at(self, sha: str | None) -> ScanProblem:
        return ScanProblem(self.file, sha, self.reason.format(sha=(sha or "?")[:12]) if self.missing else self.reason)


@dataclass
class Snapshot:
    files: dict[str, str | None] = field(default_factory=dict)  # every path looked at
    refs: dict[tuple[str, str, str], ImageRef] = field(default_factory=dict)
    app_versions: dict[str, str | None] = field(default_factory=dict)
    problems: frozenset[Problem] = frozenset()
    # Set by an update from a parent: (weak reference to it, keys whose ref may differ from it), so a diff
    # against that parent looks at those keys only. Weak: a parent is dropped once its children are built.
    base: tuple[weakref.ref, frozenset] | None = field(default=None, compare=False, repr=False)


def _join(*parts: str) -> str:
    return posixpath.normpath(posixpath.join(*parts))


def _inside(path: str) -> bool:
    return not (path == ".." or path.startswith("../") or path.startswith("/"))


def build_snapshot(view: TreeView, config: DeployConfig, reader: BlobReader,
                   parent: Snapshot | None = None) -> Snapshot:
    """What ``config`` sets at ``view``'s commit. With ``parent`` (the snapshot of its first parent) a Helm
    chart only reads again the files whose blob changed: each values file's refs and problems, and
    Chart.yaml's appVersion, depend on that file alone."""
    if parent is not None and config.kind == HELM:
        updated = _helm_update(parent, view, config, reader)
        if updated is not None:
            return updated
    snap = Snapshot()
    problems: set[Problem] = set()

    def add(sha: str, role: str, path: str) -> Parsed | None:
        parsed, refs = reader.image_refs(sha, role, path)
        if parsed.problem:
            problems.add(Problem(path, parsed.problem))
            return None
        snap.refs.update(refs)
        return parsed

    if config.kind == HELM:
        _helm(view, config, reader, snap, problems, add)
    elif config.kind == KUSTOMIZE:
        _kustomize(view, config, reader, problems, add)
    else:
        raise InvalidInput(f"unknown deploy configuration kind {config.kind!r} (expected helm or kustomize)")
    snap.files = view.read
    snap.problems = frozenset(problems)
    return snap


def config_paths(config: DeployConfig) -> set[str]:
    """The paths a deploy configuration reads whatever the files say (a kustomization's references come on
    top): what a history walk can read ahead before the first snapshot is built."""
    if config.kind == HELM:
        values, chart = _helm_paths(config.path, config.value_files)
        return {path for path, _ in values} | {chart}
    return {_join(config.path, name) for name in kustomize.KUSTOMIZATION_NAMES}


@lru_cache(maxsize=256)
def _helm_paths(path: str, value_files: tuple[str, ...]) -> tuple[tuple[tuple[str, bool], ...], str]:
    """((values file path, inside the repository), ...) and the Chart.yaml path: the same at every commit."""
    base = _join(path)
    values = tuple((joined, _inside(joined)) for joined in (_join(base, name) for name in value_files))
    return values, _join(base, "Chart.yaml")


@lru_cache(maxsize=256)
def _helm_read_paths(path: str, value_files: tuple[str, ...]) -> tuple[tuple[str, ...], frozenset[str]]:
    """The values files inside the repository (each once), and every path a whole build looks at."""
    values, chart = _helm_paths(path, value_files)
    inside = tuple(dict.fromkeys(joined for joined, ok in values if ok))
    return inside, frozenset(inside) | {chart}


def _helm(view, config, reader, snap, problems, add) -> None:
    values, chart = _helm_paths(config.path, config.value_files)
    for path, inside in values:
        if not inside:
            problems.add(Problem(path, "references outside the repository"))
            continue
        sha = view.blob(path)
        if sha is None:
            problems.add(Problem(path, f"values file {path} not found at {{sha}}", missing=True))
            continue
        add(sha, ROLE_VALUES, path)
    sha = view.blob(chart)
    if sha is not None:
        parsed = reader.parse(sha, ROLE_CHART)
        if parsed.problem:
            problems.add(Problem(chart, parsed.problem))
        else:
            snap.app_versions[chart] = parsed.app_version


def _helm_update(parent: Snapshot, view: TreeView, config: DeployConfig, reader: BlobReader) -> Snapshot | None:
    """``parent`` with what changed files gave instead of what they gave there; None when the parent did not
    look at every path (then the snapshot is built whole)."""
    chart = _helm_paths(config.path, config.value_files)[1]
    inside, looked_at = _helm_read_paths(config.path, config.value_files)
    files, known = parent.files, view.known
    if chart in inside or files.keys() != looked_at or not looked_at <= known.keys():
        return None
    changed = [path for path in inside if known.get(path, files[path]) != files[path]]
    if known.get(chart, files[chart]) != files[chart]:
        changed.append(chart)
    view.read = {**files, **{path: view.blob(path) for path in changed}}
    refs = dict(parent.refs)
    touched: set[tuple[str, str, str]] = set()
    problems = set(parent.problems)
    app_versions = dict(parent.app_versions)
    for path in changed:
        if path == chart:
            continue
        before, after = files[path], view.read[path]
        for sha, adding in ((before, False), (after, True)):
            if sha is None:
                problem, part = Problem(path, f"values file {path} not found at {{sha}}", missing=True), {}
            else:
                parsed, part = reader.image_refs(sha, ROLE_VALUES, path)
                problem = Problem(path, parsed.problem) if parsed.problem else None
            touched.update(part)
            if adding:
                refs.update(part)
                if problem is not None:
                    problems.add(problem)
            else:
                for key in part:
                    del refs[key]
                problems.discard(problem)
    before, after = files[chart], view.read[chart]
    if before != after:
        for sha, adding in ((before, False), (after, True)):
            if sha is None:
                continue
            parsed = reader.parse(sha, ROLE_CHART)
            if parsed.problem:
                (problems.add if adding else problems.discard)(Problem(chart, parsed.problem))
            elif adding:
                app_versions[chart] = parsed.app_version
            else:
                app_versions.pop(chart, None)
    return Snapshot(files=view.read, refs=refs, app_versions=app_versions, problems=frozenset(problems),
                    base=(weakref.ref(parent), frozenset(touched)))


def _kustomize(view, config, reader, problems, add) -> None:
    limit = reader.limits.max_kustomize_files
    done: set[str] = set()
    manifests: set[str] = set()

    def visit(directory: str, stack: tuple[str, ...]) -> None:
        if directory in stack:
            problems.add(Problem(directory, "kustomization cycle: " + " -> ".join(stack + (directory,))))
            return
        if directory in done:
            return
        done.add(directory)
        if len(done) + len(manifests) > limit:
            problems.add(Problem(directory, f"kustomization pulls in more than {limit} files; stopped"))
            return
        found = _kustomization_file(view, directory)
        if found is None:
            where = "the repository root" if directory == "." else directory
            problems.add(Problem(directory, f"kustomization not found in {where} at {{sha}}", missing=True))
            return
        path, sha = found
        parsed = add(sha, ROLE_KUSTOMIZATION, path)
        if parsed is None:
            return
        for ref in parsed.references:
            target = kustomize.resolve_reference(directory, ref)
            if target is None:
                problems.add(Problem(path, f"references outside the repository: {ref} (not followed)"))
                continue
            blob = view.blob(target)
            if blob is not None:
                if target not in manifests:
                    manifests.add(target)
                    add(blob, ROLE_MANIFEST, target)
            elif _kustomization_file(view, target) is not None:
                visit(target, stack + (directory,))
            else:
                problems.add(Problem(path, f"resource {ref} not found"))

    visit(_join(config.path), ())


def _kustomization_file(view: TreeView, directory: str) -> tuple[str, str] | None:
    for name in kustomize.KUSTOMIZATION_NAMES:
        path = _join(directory, name)
        sha = view.blob(path)
        if sha is not None:
            return path, sha
    return None


def open_repo(repo_path) -> git.Repo:
    try:
        return git.Repo(repo_path)
    except (git.NoSuchPathError, git.InvalidGitRepositoryError):
        raise NotFound(f"no git repository at {repo_path}") from None


def resolve_commit(repo: git.Repo, sha: str) -> str:
    try:
        return repo.commit(sha).hexsha
    except Exception:  # noqa: BLE001 - BadName, BadObject, ValueError: all mean "no such commit"
        raise InvalidInput(f"commit {sha} not found in the repository") from None


def commit_info(repo_path, revision: str) -> CommitInfo:
    """The commit a revision (branch, tag or sha) names; InvalidInput when there is none."""
    repo = open_repo(repo_path)
    try:
        commit = repo.commit(resolve_commit(repo, revision))
        return CommitInfo(commit.hexsha, commit.author.name or "", commit.author.email or "",
                          commit.committed_datetime, commit.summary if isinstance(commit.summary, str) else "")
    finally:
        repo.close()


def sorted_refs(refs) -> tuple[ImageRef, ...]:
    return tuple(sorted(refs, key=lambda r: (r.file, r.location, r.image)))


def inventory_at(
    repo_path, *, config: DeployConfig, sha: str, limits: Limits = Limits()
) -> tuple[tuple[ImageRef, ...], tuple[ScanProblem, ...]]:
    """Every image the deploy configuration sets at ``sha``, and what could not be read."""
    repo = open_repo(repo_path)
    try:
        sha = resolve_commit(repo, sha)
        snap = build_snapshot(TreeView(repo, sha), config, BlobReader(repo, limits))
    finally:
        repo.close()
    problems = sorted((p.at(sha) for p in snap.problems), key=lambda p: (p.file, p.reason))
    return sorted_refs(snap.refs.values()), tuple(problems)
