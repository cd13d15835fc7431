"""Benchmark for provisioning.cluster: server-side apply of many projects to the Kubernetes API double
over loopback with the real kubernetes client, then the re-apply that finds nothing to change.

    .venv/bin/python bench/cluster_apply.py [--projects 200] [--apps 3]

Prints requests and time per project for the first apply, the no-op re-apply and one prune pass, next to
the targets: a no-op re-apply is reads only (zero writes), and the prune is one LIST per kind whatever
the number of projects. Times are the double's (in-process Python), an upper bound for the client side.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from provisioning import manifests  # noqa: E402
from provisioning.cluster import KubeCluster  # noqa: E402
from tests.doubles.kube.server import KubeDouble  # noqa: E402


def spec(n: int, apps: int) -> manifests.ProjectSpec:
    repos = tuple(f"https://git.bench.test/dso/org/p{n}/infra-{a}.git" for a in range(apps))
    return manifests.ProjectSpec(
        organization_slug="org", organization_name="Org", project_slug=f"p{n}", project_name=f"P{n}",
        source_repos=repos,
        infra_apps=tuple(manifests.InfraAppSpec(f"infra-{a}", repos[a], "helm") for a in range(apps)))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--projects", type=int, default=200)
    parser.add_argument("--apps", type=int, default=3)
    args = parser.parse_args()
    rendered = [manifests.render_objects(spec(n, args.apps)) for n in range(args.projects)]
    with KubeDouble() as double:
        kube = KubeCluster(double.config(), retries=0)
        figures = []
        for label in ("first apply", "re-apply (nothing changed)"):
            double.clear_requests()
            started = time.perf_counter()
            for objects in rendered:
                kube.apply(objects)
            elapsed = time.perf_counter() - started
            requests = double.requests
            writes = sum(r.is_write for r in requests)
            figures.append((label, elapsed, len(requests), writes))
        double.clear_requests()
        started = time.perf_counter()
        kube.prune(label_selector="app.kubernetes.io/managed-by=dso-console,dso.console/organization=org",
                   keep={manifests_ref for objects in rendered for manifests_ref in map(_ref, objects)},
                   kinds=[(manifests.ARGOCD_API_VERSION, "Application"), (manifests.ARGOCD_API_VERSION, "AppProject")])
        prune_elapsed, prune_requests = time.perf_counter() - started, len(double.requests)
    objects = sum(len(o) for o in rendered)
    print(f"{args.projects} projects, {objects} objects ({args.apps} Applications each)")
    for label, elapsed, requests, writes in figures:
        print(f"  {label:28s} {elapsed * 1000 / args.projects:7.1f} ms/project  {requests / args.projects:5.1f} "
              f"requests/project  {writes} writes")
    print(f"  {'prune pass (nothing to prune)':28s} {prune_elapsed * 1000:7.1f} ms total    {prune_requests} requests")
    noop_writes = figures[1][3]
    print(f"target: re-apply writes = 0 -> {noop_writes} ({'met' if noop_writes == 0 else 'MISSED'}); "
          f"prune requests = 2 (one LIST per kind) -> {prune_requests} ({'met' if prune_requests == 2 else 'MISSED'})")


def _ref(obj):
    from provisioning.cluster import ObjectRef

    return ObjectRef.of(obj)


if __name__ == "__main__":
    main()
