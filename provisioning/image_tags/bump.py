"""Push an image tag bump to the infra repository's external source.

A cache clone in ``work_dir`` is fetched and reset to the remote branch, the one place that sets the
image is found with the same parsers the scan uses, one scalar is rewritten in place, and the commit is
pushed. When the branch moved in between (non-fast-forward), the whole edit is redone once on the new
tip; a second rejection is a Conflict the caller may retry later. A tag already in place is a no-op.
"""

from __future__ import annotations

from pathlib import Path

from provisioning.errors import Conflict, InvalidInput, ProvisioningError
from provisioning.forge.base import GitRemote
from provisioning.inputs import git_branch_name_problem, image_tag_problem
from provisioning.image_tags.edit import set_tag
from provisioning.git.client import GitClient
from provisioning.git.errors import BRANCH_MOVED
from provisioning.image_tags.inventory import ROLE_KUSTOMIZATION, ROLE_MANIFEST, ROLE_VALUES, inventory_at
from provisioning.image_tags.inventory import parse_text
from provisioning.image_tags.model import (
    SOURCE_HELM_VALUES,
    SOURCE_KUSTOMIZE_IMAGES,
    BumpResult,
    DeployConfig,
    ImageRef,
    Limits,
)
from provisioning.image_tags.safe_yaml import YamlProblem, decode

_ROLES = {SOURCE_HELM_VALUES: ROLE_VALUES, SOURCE_KUSTOMIZE_IMAGES: ROLE_KUSTOMIZATION}
_LOCAL_BRANCH = "dso-bump"


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
) -> BumpResult:
    """Set ``image``'s tag to ``tag`` on ``branch`` of ``source``; a no-op when it already is."""
    if image_tag_problem(tag):
        raise InvalidInput(image_tag_problem(tag))
    if git_branch_name_problem(branch):
        raise InvalidInput(f"{branch!r} is not a valid branch name: {git_branch_name_problem(branch)}")
    clone = Path(work_dir)
    git = _prepare(clone, source)
    for _attempt in (1, 2):
        head = _reset(git, branch)
        target = _find(clone, head, config, image, file, location, limits)
        if target.tag == tag:
            return BumpResult(False, None, target.file, target.location, target.tag, tag)
        _edit(clone, target, tag, limits)
        message = _message(target, tag, requested_by, reason)
        commit = _commit(git, target.file, message, author_name, author_email)
        if _push(git, branch):
            return BumpResult(True, commit, target.file, target.location, target.tag, tag)
    raise Conflict(f"{branch} moved twice while pushing the bump of {image}; try again")


def _prepare(clone: Path, source: GitRemote) -> GitClient:
    clone.mkdir(parents=True, exist_ok=True)
    git = GitClient(clone, remote=source)
    if not (clone / ".git").is_dir():
        git.run("init", "-q")
        git.run("remote", "add", "origin", source.url)
    else:
        # The source URL may have changed since the clone was made; credentials never go in it.
        git.run("remote", "set-url", "origin", source.url)
    return git


def _reset(git: GitClient, branch: str) -> str:
    remote_ref = f"refs/remotes/origin/{branch}"
    git.run("fetch", "-q", "--no-tags", "origin", f"+refs/heads/{branch}:{remote_ref}", remote=True)
    git.run("checkout", "-q", "-f", "-B", _LOCAL_BRANCH, remote_ref)
    git.run("clean", "-q", "-f", "-d", "-x")
    return git.out("rev-parse", "HEAD")


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


def _edit(clone: Path, target: ImageRef, tag: str, limits: Limits) -> None:
    if target.digest:
        raise InvalidInput(f"{target.image} is pinned by digest in {target.file}:{target.location}; bump the digest")
    path = clone / target.file
    role = _ROLES.get(target.source, ROLE_MANIFEST)
    raw = path.read_bytes()
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
    path.write_bytes((b"\xef\xbb\xbf" if bom else b"") + edited.encode("utf-8"))


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


def _commit(git: GitClient, file: str, message: str, name: str, email: str) -> str:
    identity = {
        "GIT_AUTHOR_NAME": name,
        "GIT_AUTHOR_EMAIL": email,
        "GIT_COMMITTER_NAME": name,
        "GIT_COMMITTER_EMAIL": email,
    }
    git.run("add", "--", file)
    git.run("commit", "-q", "--no-verify", "--cleanup=verbatim", "-F", "-", input=message, env=identity)
    return git.out("rev-parse", "HEAD")


def _push(git: GitClient, branch: str) -> bool:
    """True when pushed, False when the branch moved (non-fast-forward) and the bump must be redone."""
    result = git.run("push", "--porcelain", "origin", f"HEAD:refs/heads/{branch}", remote=True, check=False)
    if result.returncode == 0:
        return True
    error = git.error(result, operation="push")
    if error.code == BRANCH_MOVED:
        return False
    raise error
