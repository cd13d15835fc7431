"""Reading and parsing the blobs of one repository: ``BlobReader`` parses each (blob, role) once, and reads
many blobs in two git processes: ``cat-file --batch-check`` for their sizes, then one ``cat-file --batch``
whose answers are read in one stream.

GitPython's object database asks its long-lived ``cat-file`` for one object at a time: a write, a flush and
a read of the header per question, twice per blob (size, then content). Along a history of a thousand
commits those round trips were two thirds of a scan. Here the whole list goes in at once, and git answers
while the caller parses.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

import git

from provisioning.errors import ProvisioningError
from provisioning.git.client import GitClient
from provisioning.image_tags import helm, kustomize
from provisioning.image_tags.model import ImageRef, Limits
from provisioning.image_tags.reference import Hit
from provisioning.image_tags.safe_yaml import Budget, YamlProblem, compose, decode

# What one batch may hold in memory; a history needing more is read in several batches.
BATCH_BYTES = 64 * 1024 * 1024


def read_blobs(git_dir: Path, shas: list[str], *, max_file_bytes: int,
               batch_bytes: int = BATCH_BYTES) -> dict[str, bytes | int]:
    """{sha: content} of the blobs among ``shas``, and {sha: size} of those over ``max_file_bytes`` (never
    read). Objects that are missing, not blobs or past ``batch_bytes`` are left out: the caller reads them
    one by one, and meets the same errors it would have met without a batch. Empty when git fails."""
    client = GitClient(git_dir=git_dir)
    try:
        sizes = client.run("cat-file", "--batch-check", input="".join(f"{sha}\n" for sha in shas)).stdout
    except ProvisioningError:
        return {}
    found: dict[str, bytes | int] = {}
    wanted: list[str] = []
    total = 0
    for line in sizes.splitlines():
        parts = line.split()
        if len(parts) != 3 or parts[1] != b"blob":
            continue  # "<sha> missing", a tree, a commit
        sha, size = parts[0].decode(), int(parts[2])
        if size > max_file_bytes:
            found[sha] = size
        elif total + size <= batch_bytes:
            wanted.append(sha)
            total += size
    if not wanted:
        return found
    try:
        out = client.run("cat-file", "--batch", input="".join(f"{sha}\n" for sha in wanted)).stdout
    except ProvisioningError:
        return found
    at = 0
    view = memoryview(out)
    while at < len(out):
        header_end = out.index(b"\n", at)
        parts = out[at:header_end].split()
        if len(parts) != 3:  # "<sha> missing": gone since the size check (a concurrent gc)
            at = header_end + 1
            continue
        size = int(parts[2])
        found[parts[0].decode()] = bytes(view[header_end + 1:header_end + 1 + size])
        at = header_end + 1 + size + 1  # the content is followed by a newline
    return found


ROLE_VALUES = "values"
ROLE_CHART = "chart"
ROLE_KUSTOMIZATION = "kustomization"
ROLE_MANIFEST = "manifest"
# A batch costs two process starts: worth it from a few blobs on, and bounded so memory stays flat.
_BATCH_MIN = 8
_BATCH_MAX = 5000


@dataclass(frozen=True)
class Parsed:
    entries: tuple[tuple, ...] = ()  # Hit.plain() tuples
    app_version: str | None = None
    references: tuple[str, ...] = ()
    problem: str | None = None


def parse_text(text: str, role: str, limits: Limits) -> tuple[list[Hit], str | None, list[str]]:
    """Hits (with nodes, for bump), appVersion and kustomize references of one decoded file."""
    docs = compose(text)
    budget = Budget(limits)
    if role == ROLE_VALUES:
        return helm.values_hits(docs, budget), None, []
    if role == ROLE_CHART:
        return [], helm.chart_app_version(docs, budget), []
    if role == ROLE_KUSTOMIZATION:
        refs = kustomize.kustomization_references(docs, budget)
        return kustomize.kustomization_hits(docs, budget), None, refs
    return kustomize.manifest_hits(docs, budget), None, []


class BlobReader:
    """Reads and parses blobs of one repository, once per (blob, role).

    ``upcoming`` (the history walk's) names the blobs likely wanted next: on a blob not read yet, those are
    read together in one batch (``blobs.read_blobs``) rather than one round trip each; a blob read that
    way is kept only until it is parsed, or until the next batch."""

    def __init__(self, repo: git.Repo, limits: Limits, upcoming: Callable[[], Iterable[str]] | None = None):
        self.repo = repo
        self.limits = limits
        self.upcoming = upcoming
        self._cache: dict[tuple[str, str], Parsed] = {}
        self._refs: dict[tuple[str, str, str], tuple[Parsed, dict]] = {}
        self._read: dict[str, bytes | int] = {}  # sha -> content, or size when over the limit
        self._done: set[str] = set()
        self.parsed_count = 0

    def parse(self, sha: str, role: str) -> Parsed:
        key = (sha, role)
        cached = self._cache.get(key)
        if cached is None:
            cached = self._cache[key] = self._parse(sha, role)
        return cached

    def image_refs(self, sha: str, role: str, path: str) -> tuple[Parsed, dict[tuple[str, str, str], ImageRef]]:
        """The parse of a blob and its image refs at ``path`` by key, made once: every snapshot the file is
        unchanged in shares the same ``ImageRef`` objects, which is what lets a diff skip them by identity."""
        key = (sha, role, path)
        found = self._refs.get(key)
        if found is None:
            parsed = self.parse(sha, role)
            refs = {}
            for location, image, tag, digest, source in parsed.entries:
                ref = ImageRef(image, tag, digest, path, location, source)
                refs[ref.key] = ref
            found = self._refs[key] = (parsed, refs)
        return found

    def _content(self, sha: str) -> bytes | int:
        """The blob's content, or its size when over the limit (so a 2 GiB blob never lands in memory)."""
        found = self._read.pop(sha, None)
        if found is None and self.upcoming is not None:
            batch = dict.fromkeys([sha])
            for later in self.upcoming():
                if later not in self._done:
                    batch[later] = None
                    if len(batch) >= _BATCH_MAX:
                        break
            if len(batch) >= _BATCH_MIN:
                self._read = read_blobs(Path(self.repo.git_dir), list(batch),
                                        max_file_bytes=self.limits.max_file_bytes)
                found = self._read.pop(sha, None)
        if found is None:
            binsha = bytes.fromhex(sha)
            size = self.repo.odb.info(binsha).size
            found = size if size > self.limits.max_file_bytes else self.repo.odb.stream(binsha).read()
        return found

    def _parse(self, sha: str, role: str) -> Parsed:
        self.parsed_count += 1
        self._done.add(sha)
        try:
            content = self._content(sha)
            if isinstance(content, int):
                return Parsed(problem=f"file too large ({content} bytes, limit {self.limits.max_file_bytes})")
            text = decode(content, self.limits)
            hits, app_version, refs = parse_text(text, role, self.limits)
        except YamlProblem as exc:
            return Parsed(problem=exc.reason)
        except Exception as exc:  # noqa: BLE001 - one odd file must never stop a scan
            return Parsed(problem=f"could not read file ({type(exc).__name__})")
        return Parsed(tuple(h.plain() for h in hits), app_version, tuple(refs))
