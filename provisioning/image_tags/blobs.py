"""Many blobs in two git processes: ``cat-file --batch-check`` for their sizes, then one ``cat-file --batch``
whose answers are read in one stream.

GitPython's object database asks its long-lived ``cat-file`` for one object at a time: a write, a flush and
a read of the header per question, twice per blob (size, then content). Along a history of a thousand
commits those round trips were two thirds of a scan. Here the whole list goes in at once, and git answers
while the caller parses.
"""

from __future__ import annotations

from pathlib import Path

from provisioning.errors import ProvisioningError
from provisioning.git.client import GitClient

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
