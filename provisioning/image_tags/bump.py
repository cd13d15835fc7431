"""Push an image tag bump to the infra repository's external source.

The branch is fetched into a private ref of the repository at ``work_dir`` (bare, so it can be the
mirror cache; an older non-bare clone's ``.git`` is used as is), the one place that sets the image is found
with the same parsers the scan uses, one scalar is rewritten in the blob, and a commit is built with git
plumbing on a private index (no working tree to leave dirty) and pushed. When the branch moved in between (non-fast-forward), the whole edit is redone once on the new
tip; a second rejection is a Conflict the caller may retry later. A tag already in place is a no-op.
"""

from __future__ import annotations

import os
from pathlib import Path

from provisioning.errors import Conflict, InvalidInput, ProvisioningError
from provisioning.forge.base import GitRemote
from provisioning.git.client import GitClient
from provisioning.git.errors import BRANCH_MOVED
from provisioning.image_tags.edit import set_tag
from provisioning.image_tags.inventory import (
    ROLE_KUSTOMIZATION,
    ROLE_MANIFEST,
    ROLE_VALUES,
    inventory_at,
    parse_text,
)
from provisioning.image_tags.model import (
    SOURCE_HELM_VALUES,
    SOURCE_KUSTOMIZE_IMAGES,
    BumpResult,
    DeployConfig,
    ImageRef,
    Limits,
)
from provisioning.image_tags.safe_yaml import YamlProblem, decode
from provisioning.inputs import git_branch_name_problem, image_tag_problem

_ROLES = {SOURCE_HELM_VALUES: ROLE_VALUES, SOURCE_KUSTOMIZE_IMAGES: ROLE_KUSTOMIZATION}
# Outside refs/heads and refs/tags: a mirror sync neither prunes nor pushes it.
_BUMP_REFS = "refs/dso-bump/heads"


def bump_image_tag(
    *,
    source: GitRemote,
    branch: str,
    config: DeployConfig,
    image: str,
    tag: str,
    work_dir: Path,
    file: str | None = None,
    location: str | None = None,
    requested_by: str,
    reason: str = "",
    author_name: str = "DSO Console",
    author_email: str = "dso-console@localhost",
    limits: Limits = Limits(),
    push_branch: str | None = None,
) -> BumpResult:
    """Set ``image``'s tag to ``tag`` on ``branch`` of ``source``; a no-op when it already is.

    ``push_branch``: commit on top of ``branch`` but push to this branch instead (a merge request's source
    branch, owned by the console: a retry replaces what an earlier attempt pushed there)."""
    if image_tag_problem(tag):
        raise InvalidInput(image_tag_problem(tag))
    if git_branch_name_problem(branch):
        raise InvalidInput(f"{branch!r} is not a valid branch name: {git_branch_name_problem(branch)}")
    git = _prepare(Path(work_dir), source)
    for _attempt in (1, 2):
        head = _fetch(git, branch)
        target = _find(git.git_dir, head, config, image, file, location, limits)
        if target.tag == tag:
            return BumpResult(False, None, target.file, target.location, target.tag, tag)
        edited = _edit(git, head, target, tag, limits)
        message = _message(target, tag, requested_by, reason)
        commit = _commit(git, head, target.file, edited, message, author_name, author_email)
        if push_branch is not None:
            if git_branch_name_problem(push_branch):
                raise InvalidInput(f"{push_branch!r} is not a valid branch name")
            _push(git, commit, push_branch, force=True)
            return BumpResult(True, commit, target.file, target.location, target.tag, tag)
        if _push(git, commit, branch):
            return BumpResult(True, commit, target.file, target.location, target.tag, tag)
    raise Conflict(f"{branch} moved twice while pushing the bump of {image}; try again")


def _prepare(work_dir: Path, source: GitRemote) -> GitClient:
    git_dir = work_dir / ".git" if (work_dir / ".git").is_dir() else work_dir
    if not (git_dir / "HEAD").is_file():
        work_dir.mkdir(parents=True, exist_ok=True)
        GitClient(work_dir).run("init", "--bare", "-q", str(work_dir))
    return GitClient(git_dir, git_dir=git_dir, remote=source)


def _fetch(git: GitClient, branch: str) -> str:
    """The branch tip, fetched by URL (the repository's config never records the source)."""
    ref = f"{_BUMP_REFS}/{branch}"
    git.run("fetch", "-q", "--no-tags", git.remote.url, f"+refs/heads/{branch}:{ref}", remote=True)
    return git.out("rev-parse", "--verify", f"{ref}^{{commit}}")


def _find(clone, head, config, image, file, location, limits) -> ImageRef:
    refs, problems = inventory_at(clone, config=config, sha=head, limits=limits)
    matching = [
        r for r in refs
        if r.image == image and (file is None or r.file == file) and (location is None or r.location == location)
    ]  # fmt: skip
    # A kustomize images: entry overrides the manifests it applies to, so it is the place to edit.
    editable = [r for r in matching if r.source in _ROLES] or matching
    if not editable:
        where = f" in {file}" if file else ""
        found = ", ".join(sorted({r.image for r in refs})) or "none"
        unread = f"; unreadable: {', '.join(p.file for p in problems)}" if problems else ""
        raise InvalidInput(f"image {image} is not set{where} (images found: {found}{unread})")
    if len(editable) > 1:
        places = ", ".join(f"{r.file}:{r.location}" for r in editable)
        raise InvalidInput(f"image {image} is set in several places ({places}); pass file and location")
    return editable[0]


def _edit(git: GitClient, head: str, target: ImageRef, tag: str, limits: Limits) -> bytes:
    """The file's new bytes at ``head`` with ``target``'s tag set to ``tag``."""
    if target.digest:
        raise InvalidInput(f"{target.image} is pinned by digest in {target.file}:{target.location}; bump the digest")
    role = _ROLES.get(target.source, ROLE_MANIFEST)
    raw = git.run("cat-file", "blob", f"{head}:{target.file}").stdout
    bom = raw.startswith(b"\xef\xbb\xbf")
    try:
        text = decode(raw[3:] if bom else raw, limits)
        hit = _hit_at(text, role, target, limits)
        edited = set_tag(text, hit, tag)
        check = _hit_at(edited, role, target, limits)
    except YamlProblem as exc:
        raise InvalidInput(f"{target.file}: {exc.reason}") from None
    if check.tag != tag:
        # The splice must be re-read as exactly the new tag, or we would push a broken file.
        raise ProvisioningError(f"editing {target.file}:{target.location} did not produce tag {tag}")
    return (b"\xef\xbb\xbf" if bom else b"") + edited.encode("utf-8")


def _hit_at(text: str, role: str, target: ImageRef, limits: Limits):
    hits, _, _ = parse_text(text, role, limits)
    for hit in hits:
        if hit.location == target.location and hit.image == target.image:
            return hit
    raise YamlProblem(f"{target.location} no longer sets {target.image}")


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _message(target: ImageRef, tag: str, requested_by: str, reason: str) -> str:
    old = target.tag or "none"
    lines = [
        f"chore(deploy): bump {target.image} {old} -> {tag}",
        "",
        f"Image: {target.image}",
        f"File: {target.file}",
        f"Location: {target.location}",
        f"Old-Tag: {old}",
        f"New-Tag: {tag}",
        f"Requested-By: {_one_line(requested_by)}",
    ]
    if reason.strip():
        lines.append(f"Reason: {_one_line(reason)}")
    return "\n".join(lines) + "\n"


def _commit(git: GitClient, head: str, file: str, data: bytes, message: str, name: str, email: str) -> str:
    identity = {
        "GIT_AUTHOR_NAME": name,
        "GIT_AUTHOR_EMAIL": email,
        "GIT_COMMITTER_NAME": name,
        "GIT_COMMITTER_EMAIL": email,
    }
    mode = git.out("ls-tree", head, "--", file).split()[0]  # keeps an executable bit as it was
    blob = git.out("hash-object", "-w", "--stdin", input=data)
    # A private index: concurrent readers of the repository (a sync, a scan) never see a half-built one.
    index = git.git_dir / f"dso-bump-index-{os.getpid()}"
    index.unlink(missing_ok=True)
    try:
        env = {"GIT_INDEX_FILE": str(index)}
        git.run("read-tree", head, env=env)
        git.run("update-index", "--cacheinfo", f"{mode},{blob},{file}", env=env)
        tree = git.out("write-tree", env=env)
    finally:
        index.unlink(missing_ok=True)
    return git.out("commit-tree", tree, "-p", head, "-F", "-", input=message, env=identity)


def _push(git: GitClient, commit: str, branch: str, *, force: bool = False) -> bool:
    """True when pushed, False when the branch moved (non-fast-forward) and the bump must be redone."""
    result = git.run("push", "--porcelain", git.remote.url, f"{'+' if force else ''}{commit}:refs/heads/{branch}",
                     remote=True, check=False)
    if result.returncode == 0:
        return True
    error = git.error(result, operation="push")
    if error.code == BRANCH_MOVED:
        return False
    raise error
