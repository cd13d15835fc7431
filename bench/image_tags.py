"""Benchmark for provisioning.image_tags: full-history and incremental scans of a large infra repo.

Builds (with ``git fast-import``, in a temp dir) a bare repository with 1,000 commits over 50 Helm values
files, image bumps spread across the commits and some commits touching nothing relevant, then prints the
build time, the full-history scan time, the median time of an incremental one-commit scan, and peak RSS.

    .venv/bin/python bench/image_tags.py [--commits 1000] [--files 50]
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

from provisioning.git.env import git_environment  # noqa: E402
from provisioning.image_tags import DeployConfig, scan  # noqa: E402

VALUES = """\
# values for service {i}
replicaCount: 2
image:
  repository: registry.example.com/shop/svc-{i}
  tag: "{tag}"
  pullPolicy: IfNotPresent
sidecar:
  image: registry.example.com/shop/proxy-{i}:{proxy}
service:
  type: ClusterIP
  port: 8080
resources:
  limits: {{cpu: 500m, memory: 256Mi}}
env:
  - name: LOG_LEVEL
    value: info
  - name: FEATURE_X
    value: "true"
"""


def _data(text: str) -> bytes:
    raw = text.encode()
    return b"data %d\n" % len(raw) + raw + b"\n"


def build(repo: Path, commits: int, files: int) -> None:
    subprocess.run(["git", "init", "-q", "--bare", str(repo)], check=True, env=git_environment())
    tags = {i: (1, 1) for i in range(files)}
    out = bytearray()
    for n in range(commits):
        changed: dict[str, str] = {}
        if n == 0:
            changed["chart/Chart.yaml"] = "apiVersion: v2\nname: shop\nversion: 0.1.0\nappVersion: 1.0.0\n"
            changed.update({f"chart/values-{i:02d}.yaml": VALUES.format(i=i, tag="1.0.1", proxy="1.1") for i in range(files)})
        elif n % 5 == 0:
            changed["docs/CHANGELOG.md"] = f"release notes {n}\n"  # irrelevant to the scan
        else:
            i = (n * 7) % files
            tag, proxy = tags[i]
            tags[i] = (tag + 1, proxy + (n % 3 == 0))
            changed[f"chart/values-{i:02d}.yaml"] = VALUES.format(i=i, tag=f"1.0.{tag + 1}", proxy=f"1.{tags[i][1]}")
        when = 1_700_000_000 + n * 60
        out += b"commit refs/heads/main\n"
        out += b"committer Bench <bench@example.com> %d +0000\n" % when
        out += _data(f"commit {n}")
        for path, text in changed.items():
            out += b"M 100644 inline " + path.encode() + b"\n" + _data(text)
        out += b"\n"
    subprocess.run(
        ["git", "--git-dir", str(repo), "fast-import", "--quiet"], input=bytes(out), check=True, env=git_environment()
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--commits", type=int, default=1000)
    parser.add_argument("--files", type=int, default=50)
    parser.add_argument("--samples", type=int, default=9)
    args = parser.parse_args()
    config = DeployConfig("helm", "chart", tuple(f"values-{i:02d}.yaml" for i in range(args.files)))

    with tempfile.TemporaryDirectory(prefix="bench-image-tags-") as tmp:
        repo = Path(tmp) / "infra.git"
        t0 = time.perf_counter()
        build(repo, args.commits, args.files)
        built = time.perf_counter() - t0
        shas = subprocess.run(
            ["git", "--git-dir", str(repo), "rev-list", "--reverse", "main"],
            capture_output=True, text=True, check=True, env=git_environment(),
        ).stdout.split()  # fmt: skip

        t0 = time.perf_counter()
        full = scan(repo, config=config, old_sha=None, new_sha=shas[-1])
        full_time = time.perf_counter() - t0

        samples = []
        for k in range(len(shas) - args.samples, len(shas)):
            t0 = time.perf_counter()
            scan(repo, config=config, old_sha=shas[k - 1], new_sha=shas[k])
            samples.append(time.perf_counter() - t0)

    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"build          {built:7.2f} s   ({args.commits} commits, {args.files} values files, fast-import)")
    print(f"full scan      {full_time:7.2f} s   ({full.commits_scanned} commits, {len(full.changes)} changes, "
          f"{len(full.inventory)} images at HEAD, {len(full.problems)} problems)")
    print(f"incremental    {statistics.median(samples) * 1000:7.1f} ms  (median of {len(samples)} one-commit scans)")
    print(f"peak RSS       {peak_mib:7.1f} MiB")


if __name__ == "__main__":
    main()
