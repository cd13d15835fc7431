"""Benchmark for provisioning.mirror: a full first sync and incremental one-commit syncs, over real Git
smart HTTP on loopback, with the persistent mirror cache.

    .venv/bin/python bench/mirror.py [--commits 2000] [--samples 5]
"""

from __future__ import annotations

import argparse
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from provisioning.forge.base import GitRemote  # noqa: E402
from provisioning.githttp import GitAccess, GitHttpServer  # noqa: E402
from provisioning.git.env import git_environment  # noqa: E402
from provisioning.mirror import Mirror  # noqa: E402

TOKEN = "bench-token"


def authorize(repo_path: str, username: str | None, password: str | None) -> GitAccess:
    return GitAccess.WRITE if password == TOKEN else GitAccess.READ


def fast_import(repo: Path, commits: int, start: int = 0, parent: bool = False) -> None:
    out = bytearray()
    for n in range(start, start + commits):
        body = f"line {n}\n".encode()
        message = f"commit {n}".encode()
        out += b"commit refs/heads/main\n"
        out += b"committer Bench <bench@example.com> %d +0000\n" % (1_700_000_000 + n)
        out += b"data %d\n%s\n" % (len(message), message)
        if n == start and parent:
            out += b"from refs/heads/main^0\n"
        out += b"M 100644 inline src/file-%d.txt\ndata %d\n%s\n\n" % (n % 200, len(body), body)
    subprocess.run(["git", "--git-dir", str(repo), "fast-import", "--quiet"], input=bytes(out), check=True,
                   env=git_environment())


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--commits", type=int, default=2000)
    parser.add_argument("--samples", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-mirror-") as tmp:
        root = Path(tmp)
        external, internal = root / "ext" / "app.git", root / "int" / "app.git"
        for bare in (external, internal):
            bare.parent.mkdir(parents=True)
            subprocess.run(["git", "init", "-q", "--bare", "--initial-branch=main", str(bare)], check=True,
                           env=git_environment())
        fast_import(external, args.commits)
        with GitHttpServer(root / "ext", authorize) as ext, GitHttpServer(root / "int", authorize) as intl:
            source = GitRemote(f"{ext.url}/app.git")
            target = GitRemote(f"{intl.url}/app.git", "bench", TOKEN)
            mirror = Mirror(root / "cache")
            t0 = time.perf_counter()
            first = mirror.sync(cache_key="app", source=source, target=target)
            full = time.perf_counter() - t0
            samples, unchanged = [], []
            for k in range(args.samples):
                fast_import(external, 1, start=args.commits + k, parent=True)
                t0 = time.perf_counter()
                result = mirror.sync(cache_key="app", source=source, target=target)
                samples.append(time.perf_counter() - t0)
                assert [c.kind for c in result.changes] == ["updated"], result.changes
                t0 = time.perf_counter()
                assert not mirror.sync(cache_key="app", source=source, target=target).changed
                unchanged.append(time.perf_counter() - t0)
    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"full sync      {full * 1000:8.1f} ms  ({args.commits} commits, {len(first.changes)} refs, over loopback HTTP)")
    print(f"one commit     {statistics.median(samples) * 1000:8.1f} ms  (median of {len(samples)} incremental syncs)")
    print(f"no change      {statistics.median(unchanged) * 1000:8.1f} ms  (median; ls-remote both sides, fetch, no push)")
    print(f"peak RSS       {peak_mib:8.1f} MiB (the benchmark process; git runs as child processes)")


if __name__ == "__main__":
    main()
