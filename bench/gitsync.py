"""Mirror.sync against plain git doing the same work (``fetch --prune`` into a bare cache, then ``push
--prune`` of the same refspecs), over real smart HTTP on loopback, interleaved A/B on one source so both
see the same load: per scenario, min and median of each side and the ratio of the medians."""

from __future__ import annotations

import statistics
import subprocess
import tempfile
import time
from pathlib import Path

from mirror import TOKEN, authorize, fast_import  # bench/mirror.py

from provisioning.forge.base import GitRemote
from provisioning.git.client import GitClient
from provisioning.git.env import git_environment
from provisioning.githttp import GitHttpServer
from provisioning.mirror import REFSPECS, Mirror


def _git(bare: Path, *args: str) -> str:
    return subprocess.run(["git", "--git-dir", str(bare), *args], check=True, capture_output=True, text=True,
                          env=git_environment()).stdout.strip()


def _init(bare: Path) -> None:
    bare.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run(["git", "init", "-q", "--bare", "--initial-branch=main", str(bare)], check=True,
                   env=git_environment())


def _new_mirror(root: Path) -> Mirror:
    try:
        return Mirror(root, verify_interval_seconds=300)  # as the console runs it
    except TypeError:  # the code before the fast path has no such setting
        return Mirror(root)


class Pair:
    """One source; side A mirrors with Mirror.sync, side B with plain git, each into its own target."""

    def __init__(self, root: Path, ext, intl, commits: int):
        self.root = root
        self.source_dir = root / "ext" / "app.git"
        _init(self.source_dir)
        fast_import(self.source_dir, commits)
        self.commits = commits
        self.source = GitRemote(f"{ext.url}/app.git")
        self.reset(intl)

    def reset(self, intl) -> None:
        stamp = time.monotonic_ns()
        for name in (f"a-{stamp}", f"b-{stamp}"):
            _init(self.root / "int" / f"{name}.git")
        self.target_a = GitRemote(f"{intl.url}/a-{stamp}.git", "bench", TOKEN)
        self.target_b = GitRemote(f"{intl.url}/b-{stamp}.git", "bench", TOKEN)
        self.mirror = _new_mirror(self.root / f"cache-{stamp}")
        self.raw_cache = self.root / f"raw-{stamp}.git"
        _init(self.raw_cache)

    def a(self) -> float:
        t0 = time.perf_counter()
        self.mirror.sync(cache_key="app", source=self.source, target=self.target_a)
        return time.perf_counter() - t0

    def b(self) -> float:
        t0 = time.perf_counter()
        GitClient(self.raw_cache, remote=self.source).run(
            "fetch", "--prune", "--prune-tags", "--no-write-fetch-head", "--quiet", self.source.url, *REFSPECS,
            remote=True)
        GitClient(self.raw_cache, remote=self.target_b).run(
            "push", "--prune", "--quiet", self.target_b.url, *REFSPECS, remote=True)
        return time.perf_counter() - t0

    # --- changes upstream ---
    def new_commit(self) -> None:
        fast_import(self.source_dir, 1, start=self.commits, parent=True)
        self.commits += 1

    def force_push(self) -> None:
        parent = _git(self.source_dir, "rev-parse", "main~1")
        message = f"rewritten {self.commits}".encode()
        body = f"rewritten {self.commits}\n".encode()
        data = (b"commit refs/heads/main\ncommitter Bench <bench@example.com> %d +0000\n"
                b"data %d\n%s\nfrom %s\nM 100644 inline src/rewritten.txt\ndata %d\n%s\n\n"
                % (1_800_000_000 + self.commits, len(message), message, parent.encode(), len(body), body))
        subprocess.run(["git", "--git-dir", str(self.source_dir), "fast-import", "--quiet", "--force"],
                       input=data, check=True, env=git_environment())
        self.commits += 1

    def new_tag(self) -> None:
        _git(self.source_dir, "tag", f"v{self.commits}-{time.monotonic_ns()}", "main")

    def nothing(self) -> None:
        pass


def run(samples: int = 7, commits: int = 2000, full_samples: int = 3) -> dict[str, dict]:
    results: dict[str, dict] = {}
    with tempfile.TemporaryDirectory(prefix="bench-gitsync-") as tmp:
        root = Path(tmp)
        (root / "ext").mkdir()
        (root / "int").mkdir()
        with GitHttpServer(root / "ext", authorize) as ext, GitHttpServer(root / "int", authorize) as intl:
            pair = Pair(root, ext, intl, commits)
            full_a, full_b = [], []
            for k in range(full_samples):  # first full mirror: fresh caches and targets each time
                pair.reset(intl)
                if k % 2:
                    full_b.append(pair.b()), full_a.append(pair.a())
                else:
                    full_a.append(pair.a()), full_b.append(pair.b())
            results[f"first full mirror of {commits} commits"] = _figures(full_a, full_b)
            for scenario in ("new_commit", "force_push", "new_tag", "nothing"):
                times_a, times_b = [], []
                for k in range(samples):
                    getattr(pair, scenario)()
                    # Alternate who goes first, so neither always meets a warm (or cold) source.
                    if k % 2:
                        times_b.append(pair.b()), times_a.append(pair.a())
                    else:
                        times_a.append(pair.a()), times_b.append(pair.b())
                results[f"sync, {scenario.replace('_', ' ')}"] = _figures(times_a, times_b)
    return results


def _figures(a: list[float], b: list[float]) -> dict:
    return {"a_min": min(a) * 1000, "a_median": statistics.median(a) * 1000, "b_min": min(b) * 1000,
            "b_median": statistics.median(b) * 1000, "ratio": statistics.median(a) / statistics.median(b)}
