"""How commits reach the deploy revision: its first-parent line, the side commits each merge brings in,
and what a force-push took away. Also the one diff of two snapshots that history and reverts share.

A deployer reads history along the deploy branch (``git log --first-parent``): each commit of that line
is where a change took effect, whether it made the change itself or merged the side commit that did.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

from provisioning.errors import ProvisioningError
from provisioning.git.client import GitClient
from provisioning.image_tags.inventory import Snapshot

Value = tuple[str | None, str | None]  # (tag, digest)


@dataclass(frozen=True)
class Diff:
    """One place (file + YAML location) whose image reference differs between two snapshots.

    A reference that changes repository and tag at once (``ghcr.io/a/x:1.0`` -> ``quay.io/a/x:1.1``) is one
    diff with ``old_image`` and ``image`` set, not a removal plus an addition.
    """

    file: str
    location: str
    old_image: str | None
    image: str | None
    before: Value | None
    after: Value | None

    @property
    def kind(self) -> str:
        return "added" if self.before is None else "removed" if self.after is None else "changed"

    def result_key(self) -> tuple:
        """What the place ends up as: how a merge's change is matched with the side commit that made it."""
        return (self.file, self.location, self.image, self.after) if self.image else (
            self.file, self.location, None, self.old_image)


def _state(snap: Snapshot, key) -> Value | None:
    ref = snap.refs.get(key)
    return None if ref is None else (ref.tag, ref.digest)


def diff(parent: Snapshot, snap: Snapshot, others: list[Snapshot] = ()) -> list[Diff]:
    """Places that differ from ``parent`` to ``snap``; with ``others`` (a merge's other parents), only
    those whose new value none of them already had."""
    changed: list[Diff] = []
    gone: dict[tuple[str, str], list] = defaultdict(list)
    new: dict[tuple[str, str], list] = defaultdict(list)
    old_refs, new_refs = parent.refs, snap.refs
    if snap.base is not None and snap.base[0]() is parent:
        moved = snap.base[1]  # an update from ``parent`` knows which keys it touched
    else:
        # A file unchanged between the two snapshots holds the very same ImageRef objects in both.
        moved = [key for key in old_refs.keys() | new_refs.keys() if old_refs.get(key) is not new_refs.get(key)]
    for key in sorted(moved):
        before, after = _state(parent, key), _state(snap, key)
        if before == after or any(_state(o, key) == after for o in others):
            continue
        file, location, image = key
        if before is None:
            new[(file, location)].append((image, after))
        elif after is None:
            gone[(file, location)].append((image, before))
        else:
            changed.append(Diff(file, location, image, image, before, after))
    # Pair what vanished and appeared at the same place: that is one reference moving, not two events.
    for place in sorted(gone.keys() | new.keys()):
        olds, news = gone.get(place, []), new.get(place, [])
        for index in range(max(len(olds), len(news))):
            old_image, before = olds[index] if index < len(olds) else (None, None)
            image, after = news[index] if index < len(news) else (None, None)
            changed.append(Diff(place[0], place[1], old_image, image, before, after))
    changed.sort(key=lambda d: (d.file, d.location, d.image or d.old_image or ""))
    return changed


def first_parent_line(
    commits: dict[str, list[str]], order: dict[str, int], new: str
) -> list[tuple[str, list[str]]]:
    """The first-parent line of ``new`` inside the scanned range (oldest first), each commit with the side
    commits (in topological order) it is the first to bring onto that line.

    ``commits`` maps each scanned sha to its parents. Walking the line oldest first, everything reachable
    from a line commit is assigned by the time its child is visited, so a merge gets exactly the commits
    reachable from its other parents and not from its first parent.
    """
    line = []
    sha = new
    while sha in commits:
        line.append(sha)
        parents = commits[sha]
        sha = parents[0] if parents else None
    line.reverse()
    assigned = set(line)
    result = []
    for sha in line:
        side, stack = [], list(commits[sha][1:])
        while stack:
            candidate = stack.pop()
            if candidate in assigned or candidate not in commits:
                continue
            assigned.add(candidate)
            side.append(candidate)
            stack.extend(commits[candidate])
        side.sort(key=order.__getitem__)
        result.append((sha, side))
    return result


@dataclass(frozen=True)
class Rewrite:
    """``old`` is no longer contained in ``new``: the deploy revision was force-pushed."""

    removed: tuple[str, ...]  # every commit reachable from old and not from new
    base: str | None  # newest commit of old's first-parent line that new still contains


def rewrite_between(git_dir: Path, old: str, new: str) -> Rewrite | None:
    """None for a fast-forward; otherwise what the force-push removed and where old and new part."""
    proc = GitClient(git_dir=git_dir).run("merge-base", "--is-ancestor", old, new, check=False)
    if proc.returncode == 0:
        return None
    if proc.returncode != 1:
        raise ProvisioningError(f"git merge-base failed: {_last_line(proc.stderr)}")
    # rev-list stops a first-parent walk at the first commit new contains: the last listed one's parent.
    line = _rev_list(git_dir, "--first-parent", "--parents", old, "--not", new)
    parents = line[-1].split()[1:] if line else []
    return Rewrite(removed=tuple(_rev_list(git_dir, old, "--not", new)), base=parents[0] if parents else None)


def _rev_list(git_dir: Path, *args: str) -> list[str]:
    proc = GitClient(git_dir=git_dir).run("rev-list", *args, check=False)
    if proc.returncode != 0:
        raise ProvisioningError(f"git rev-list failed: {_last_line(proc.stderr)}")
    return proc.stdout.decode().split("\n")[:-1]


def _last_line(stderr: bytes) -> str:
    lines = stderr.decode("utf-8", "replace").strip().splitlines()
    return lines[-1] if lines else "no output"


def not_contained(git_dir: Path, shas: set[str], tip: str) -> set[str]:
    """Which of ``shas`` ``tip`` does not contain (unknown commits included): one walk of tip's history."""
    if not shas:
        return set()
    return shas - set(_rev_list(git_dir, tip))
