"""Manifest rendering per project and the full image-tag history scan against plain git + libyaml."""

from __future__ import annotations

import statistics
import subprocess
import tempfile
import time
from pathlib import Path


def rendering(projects: int = 300) -> dict:
    from provisioning import manifests

    specs = [manifests.ProjectSpec(
        organization_slug=f"org-{i % 97}", organization_name=f"Organization {i % 97}", project_slug=f"shop-{i}",
        project_name=f"Web Shop {i}", description=f"Customer-facing shop number {i}",
        source_repos=(f"https://git.example.test/dso/org/shop-{i}/infra.git",),
        infra_apps=(manifests.InfraAppSpec("web", f"https://git.example.test/dso/org/shop-{i}/infra.git", "helm",
                                           path="charts/web", value_files=("values.yaml",)),
                    manifests.InfraAppSpec("db", f"https://git.example.test/dso/org/shop-{i}/infra.git",
                                           "kustomize", path="db", revision="main")),
    ) for i in range(projects)]
    t0 = time.perf_counter()
    for spec in specs:
        manifests.render_files(spec)
    per_project = (time.perf_counter() - t0) / projects * 1000
    try:
        from provisioning import render_cache
    except ImportError:  # before the fingerprint: an unchanged project is rendered like any other
        return {"ms_per_project": per_project, "unchanged_ms": per_project}
    stored = [render_cache.spec_fingerprint(spec, directory="d") for spec in specs]
    t0 = time.perf_counter()
    for spec, fingerprint in zip(specs, stored):
        assert render_cache.spec_fingerprint(spec, directory="d") == fingerprint  # the whole cost of a skip
    return {"ms_per_project": per_project, "unchanged_ms": (time.perf_counter() - t0) / projects * 1000}


def image_scan(commits: int = 1200, files: int = 50, samples: int = 7) -> dict:
    import yaml
    from image_tags import build  # bench/image_tags.py

    from provisioning.git.env import git_environment
    from provisioning.image_tags import DeployConfig, scan

    config = DeployConfig("helm", "chart", tuple(f"values-{i:02d}.yaml" for i in range(files)))
    with tempfile.TemporaryDirectory(prefix="bench-scan-") as tmp:
        repo = Path(tmp) / "infra.git"
        build(repo, commits, files)
        head = subprocess.run(["git", "--git-dir", str(repo), "rev-parse", "main"], capture_output=True,
                              text=True, check=True, env=git_environment()).stdout.strip()

        def ours() -> float:
            t0 = time.perf_counter()
            scan(repo, config=config, old_sha=None, new_sha=head)
            return time.perf_counter() - t0

        def raw() -> float:
            # Every version of every values file the history touched, read in one cat-file and parsed by
            # libyaml: the least any full scan must do.
            t0 = time.perf_counter()
            log = subprocess.run(["git", "--git-dir", str(repo), "log", "--raw", "--no-abbrev", "--format=",
                                  "main", "--", "chart"], capture_output=True, text=True, check=True,
                                 env=git_environment()).stdout
            blobs = [line.split()[3] for line in log.splitlines() if line.startswith(":") and line.endswith(".yaml")]
            out = subprocess.run(["git", "--git-dir", str(repo), "cat-file", "--batch"],
                                 input="\n".join(blobs).encode() + b"\n", capture_output=True, check=True,
                                 env=git_environment()).stdout
            at = 0
            while at < len(out):
                header_end = out.index(b"\n", at)
                size = int(out[at:header_end].split()[2])
                body = out[header_end + 1: header_end + 1 + size]
                list(yaml.compose_all(body.decode(), Loader=yaml.CSafeLoader))
                at = header_end + 1 + size + 1
            return time.perf_counter() - t0

        a, b = [], []
        for k in range(samples):
            if k % 2:
                b.append(raw()), a.append(ours())
            else:
                a.append(ours()), b.append(raw())
    return {"a_min": min(a) * 1000, "a_median": statistics.median(a) * 1000, "b_min": min(b) * 1000,
            "b_median": statistics.median(b) * 1000, "ratio": statistics.median(a) / statistics.median(b)}
