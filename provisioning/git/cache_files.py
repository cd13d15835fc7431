"""A mirror cache's refs and recent history read from its files, where that saves starting git.

Both are readings of git's documented on-disk formats (gitrepository-layout, gitformat-loose) that give up
(return None) on anything they were not written for, and the caller then asks git.
"""

from __future__ import annotations

import os
import re
import zlib
from pathlib import Path

_SHA = re.compile(r"^(?:[0-9a-f]{40}|[0-9a-f]{64})$")
# A commit's header is small; reading more of a loose object than this only happens for huge messages.
_MAX_HEADER_BYTES = 64 * 1024


def refs_from_files(cache: Path) -> dict[str, str] | None:
    """The cache's branches and tags read from its ref files, without starting ``for-each-ref``; None when
    they are not plain files of SHAs (another ref storage, a symbolic ref) and git must be asked.

    Loose refs are read before ``packed-refs`` and win over it: a ``pack-refs`` (from a background ``gc``)
    writes the new ``packed-refs`` before it removes the loose files it packed, so a ref whose loose file
    is gone by the time it is read is in the ``packed-refs`` read after it."""
    if (cache / "reftable").exists():
        return None
    loose: dict[str, str] = {}
    for top in ("refs/heads", "refs/tags"):
        for folder, _, names in os.walk(cache / top):
            for name in names:
                if name.endswith(".lock"):
                    continue
                path = Path(folder, name)
                try:
                    value = path.read_text().strip()
                except FileNotFoundError:
                    continue
                if not _SHA.match(value):
                    return None
                loose[path.relative_to(cache).as_posix()] = value
    refs: dict[str, str] = {}
    try:
        packed = (cache / "packed-refs").read_text()
    except FileNotFoundError:
        packed = ""
    for line in packed.splitlines():
        if line.startswith(("#", "^")) or not line:
            continue
        sha, _, ref = line.partition(" ")
        if not _SHA.match(sha):
            return None
        if ref.startswith(("refs/heads/", "refs/tags/")):
            refs[ref] = sha
    refs.update(loose)
    return refs


def is_ancestor_by_loose_commits(cache: Path, old_sha: str, new_sha: str, *, limit: int = 64) -> bool | None:
    """Whether ``old_sha`` is an ancestor of ``new_sha`` (or the same commit), found by walking the parents of
    the commits a small fetch just wrote as loose objects; None when the walk meets a commit that is not
    loose (a packed one) or ``limit`` commits, and ``merge-base`` must say.

    A sync that brings a few new commits is the common case: their objects are loose (git unpacks a fetch of
    fewer than ``fetch.unpackLimit`` objects), so the answer costs a few file reads instead of a process."""
    seen: set[str] = set()
    pending = [new_sha]
    complete = True
    while pending:
        sha = pending.pop()
        if sha == old_sha:
            return True
        if sha in seen:
            continue
        if len(seen) >= limit:
            return None
        seen.add(sha)
        parents = _loose_commit_parents(cache, sha)
        if parents is None:
            complete = False  # packed, or not a commit: this branch of the walk is unknown
            continue
        pending.extend(parents)
    return False if complete else None


def _loose_commit_parents(cache: Path, sha: str) -> list[str] | None:
    if not _SHA.match(sha):
        return None
    try:
        with open(cache / "objects" / sha[:2] / sha[2:], "rb") as handle:
            compressed = handle.read()
    except OSError:
        return None
    try:
        data = zlib.decompressobj().decompress(compressed, _MAX_HEADER_BYTES)
    except zlib.error:
        return None
    header, nul, body = data.partition(b"\0")
    if not nul or not header.startswith(b"commit "):
        return None
    parents = []
    for line in body.split(b"\n"):
        if not line:
            return parents  # the blank line after the headers: every parent line came before it
        if line.startswith(b"parent "):
            parents.append(line[7:].decode("ascii", "replace"))
    return None  # headers cut short by the read limit


# git's defaults (git-gc(1)): ``gc --auto`` packs once there are more than gc.auto loose objects, estimated
# from the one folder of the 256 named 17, or more than gc.autoPackLimit packs.
_GC_AUTO_LOOSE_OBJECTS = 6700
_GC_AUTO_PACK_LIMIT = 50


def is_maintenance_due(cache: Path) -> bool:
    """Whether git's ``gc --auto`` would repack ``cache``, by git's default limits (the mirror's caches never
    set others)."""
    objects = cache / "objects"
    try:
        loose = sum(1 for name in os.listdir(objects / "17") if len(name) == 38)
    except FileNotFoundError:
        loose = 0
    except OSError:
        return True
    if loose > (_GC_AUTO_LOOSE_OBJECTS + 255) // 256:
        return True
    try:
        packs = sum(1 for name in os.listdir(objects / "pack") if name.endswith(".pack"))
    except OSError:
        packs = 0
    return packs > _GC_AUTO_PACK_LIMIT


# A conservative subset of git-check-ref-format: what it allows and this does not is written by git instead.
_SAFE_COMPONENT = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9._+-]*$")


def write_refs(cache: Path, refs: dict[str, str]) -> bool:
    """Point each branch or tag of ``refs`` at its SHA, as git's files backend does (a ``<ref>.lock`` file
    created exclusively, then renamed over the ref); False, before writing anything, when a name is not one
    it writes itself, or when a write fails (a ref may then be moved already: the caller's ``git fetch``
    writes them all again). The caller holds the cache's lock, so no other writer races it."""
    if (cache / "reftable").exists() or not all(_writable(ref) and _SHA.match(sha) for ref, sha in refs.items()):
        return False
    try:
        for ref, sha in sorted(refs.items()):
            path = cache / ref
            path.parent.mkdir(parents=True, exist_ok=True)
            lock = path.with_name(path.name + ".lock")
            with open(lock, "x") as handle:
                handle.write(f"{sha}\n")
            os.replace(lock, path)
    except OSError:
        return False
    return True


def _writable(ref: str) -> bool:
    if not ref.startswith(("refs/heads/", "refs/tags/")):
        return False
    components = ref.split("/")[2:]
    return bool(components) and all(
        _SAFE_COMPONENT.match(part) and ".." not in part and not part.endswith((".", ".lock"))
        for part in components)
