"""Plain values the image-tag adapter hands back. Callers never see ruamel or GitPython types."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

HELM = "helm"
KUSTOMIZE = "kustomize"

# Where an ImageRef was found; bump only edits the first two, a manifest image is a last resort.
SOURCE_HELM_VALUES = "helm-values"
SOURCE_KUSTOMIZE_IMAGES = "kustomize-images"
SOURCE_MANIFEST = "manifest"

# Why a change is recorded: a commit made it, or a force-push took the commits that made it away and the
# deploy revision went back.
CAUSE_COMMIT = "commit"
CAUSE_FORCE_PUSH = "force_push"


@dataclass(frozen=True)
class DeployConfig:
    kind: str  # "helm" | "kustomize"
    path: str = "."  # chart or kustomization directory, relative to the repository root
    value_files: tuple[str, ...] = ("values.yaml",)  # Helm only, relative to ``path``


@dataclass(frozen=True)
class Limits:
    """Bounds that keep one hostile or broken file from stalling a sync worker."""

    max_file_bytes: int = 1024 * 1024
    # Nodes visited while walking one file, aliases included: a billion-laughs document hits this
    # long before it could expand.
    max_nodes: int = 100_000
    max_depth: int = 64
    max_kustomize_files: int = 500  # files one kustomization tree may pull in


@dataclass(frozen=True)
class ImageRef:
    image: str  # repository including registry, e.g. "registry.example.com/shop/backend"
    tag: str | None
    digest: str | None
    file: str  # repository-relative path
    location: str  # YAML path inside ``file``, e.g. "app.image" or "images[name=backend]"
    source: str = SOURCE_HELM_VALUES

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.file, self.location, self.image)


@dataclass(frozen=True)
class CommitInfo:
    sha: str
    author: str
    email: str
    committed_at: datetime  # tz-aware
    subject: str


@dataclass(frozen=True)
class ImageTagChange:
    image: str
    file: str
    location: str
    old_tag: str | None
    new_tag: str | None
    old_digest: str | None
    new_digest: str | None
    commit_sha: str
    commit_author: str
    commit_email: str
    committed_at: datetime
    commit_subject: str
    kind: str  # "added" | "changed" | "removed"
    # The image before, when the reference moved repository (registry move) in the same change.
    old_image: str | None = None
    # The commit of the deploy revision's first-parent line where the change took effect: the commit
    # itself, or the merge that brought a side-branch commit onto the deploy branch.
    effective_sha: str = ""
    effective_subject: str = ""
    effective_committed_at: datetime | None = None
    # A change of the deployed value read along the first-parent line (``git log --first-parent``): each
    # change of what runs appears once. A side commit whose value never reached the line is not one.
    on_deploy_line: bool = True
    # Exactly what ``commit_sha`` changed against its first parent. False for a merge's net change
    # attributed to the side commit that set the value, and for a force-push's change back.
    own_change: bool = True
    cause: str = CAUSE_COMMIT


@dataclass(frozen=True)
class AppVersionChange:
    """A change of ``appVersion`` in Chart.yaml: what the chart claims to ship, a signal apart from tags."""

    file: str
    old_version: str | None
    new_version: str | None
    commit_sha: str
    commit_author: str
    commit_email: str
    committed_at: datetime
    commit_subject: str
    kind: str  # "added" | "changed" | "removed"


@dataclass(frozen=True)
class ScanProblem:
    file: str
    commit_sha: str | None
    reason: str


@dataclass(frozen=True)
class ScanResult:
    changes: tuple[ImageTagChange, ...]
    inventory: tuple[ImageRef, ...]  # at new_sha
    problems: tuple[ScanProblem, ...]
    app_versions: tuple[AppVersionChange, ...] = ()
    commits_scanned: int = 0
    # Set when old_sha is no longer contained in new_sha (a force-push): every commit it took away.
    # Changes that took effect at one of them are history the deploy revision no longer contains.
    removed_commits: tuple[str, ...] | None = None


@dataclass(frozen=True)
class BumpResult:
    changed: bool
    commit_sha: str | None  # the pushed commit, None for a no-op
    file: str
    location: str
    old_tag: str | None
    new_tag: str
