"""Benchmark of one full read-back and drift pass (console.services.readback) over many projects.

Seeds, in bulk, N projects (one infra repository each) on one registered cluster in delivery mode ``direct``
and the Kubernetes API double (tests/doubles/kube) with every object the console renders for them, hand-edits
the quota of 1 % of them, then times one pass: the real kubernetes client over loopback, a throwaway
PostgreSQL (or SQLite) test database. Prints the pass time, the LIST calls made, the SQL queries, the drift
found and the peak RSS, each next to its target.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/dso_bench .venv/bin/python bench/drift_pass.py [--projects 10000]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "console.settings")
os.environ.setdefault("DSO_DATA_DIR", tempfile.mkdtemp(prefix="dso-bench-"))
# The double (kmock, in Python) takes seconds to serialize a LIST of 10,000 objects, where an API server
# takes milliseconds: give it time, so the figure is the pass's and not the double's timeout.
os.environ.setdefault("DSO_CLUSTER_TIMEOUT_SECONDS", "300")

import django  # noqa: E402

django.setup()
import logging  # noqa: E402

logging.getLogger("aiohttp.access").setLevel(logging.WARNING)  # one line per request of the double

from django.db import connection  # noqa: E402

TARGET_SECONDS = 60.0  # the default read-back interval: a pass must finish before the next one is due
PER_ORGANIZATION = 100


def seed(count: int, work: Path):
    """Projects and repositories in bulk, then the Kubernetes API double, in its own process as a real API
    server is, holding every object the console renders for them. Returns (process, objects, quotas edited)."""
    from console.models import Organization, Project, Repository
    from console.models.clusters import Cluster
    from console.services.provisioning import project_manifest_spec
    from provisioning import manifests

    cluster = Cluster(name="bench", delivery_mode="direct", argocd_namespace="argocd")
    organizations = Organization.objects.bulk_create(
        [Organization(slug=f"org{n}", name=f"Org {n}") for n in range((count + PER_ORGANIZATION - 1) // PER_ORGANIZATION)])
    projects = Project.objects.bulk_create([
        Project(organization=organizations[n // PER_ORGANIZATION], slug=f"p{n}", name=f"P {n}",
                namespace=f"org{n // PER_ORGANIZATION}-p{n}", status=Project.Status.READY)
        for n in range(count)], batch_size=2000)
    repositories = Repository.objects.bulk_create([
        Repository(project=p, name="infra", external_url="https://git.example.com/t/infra.git", is_infra=True,
                   deploy_kind="helm", internal_url=f"http://forge.example.test/dso/{p.namespace}/infra.git")
        for p in projects], batch_size=2000)
    by_project = {r.project_id: [r] for r in repositories}
    objects = []
    for project in projects:
        objects.extend(manifests.render_objects(
            project_manifest_spec(project, cluster=cluster, repositories=by_project[project.pk])))
    edited = 0
    for index, obj in enumerate(objects):
        if obj["kind"] == "ResourceQuota" and (index // 6) % 100 == 0:
            obj["spec"]["hard"]["pods"] = "999"
            edited += 1
    path = work / "objects.json"
    path.write_text(json.dumps(objects))
    process = subprocess.Popen([sys.executable, str(Path(__file__).with_name("kube_double_serve.py")), str(path)],
                               stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    url, token = process.stdout.readline().split()
    Cluster.objects.create(name="bench", api_url=url, token=token, delivery_mode="direct", is_default=True,
                           argocd_url="https://argocd.example.test")
    return process, len(objects), edited, url


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--projects", type=int, default=10_000)
    parser.add_argument("--profile", action="store_true", help="print where the pass spends its time")
    args = parser.parse_args()

    from console.models import DriftRecord
    from console.services.readback import readback_pass

    old_name = connection.creation.create_test_db(verbosity=0, autoclobber=True)
    process = None
    try:
        started = time.perf_counter()
        process, seeded, edited, _url = seed(args.projects, Path(os.environ["DSO_DATA_DIR"]))
        seeded_in = time.perf_counter() - started
        queries = []
        rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        with connection.execute_wrapper(lambda execute, sql, params, many, context: (
                queries.append(1), execute(sql, params, many, context))[1]):
            profiler = None
            if args.profile:
                import cProfile

                profiler = cProfile.Profile()
                profiler.enable()
            started, cpu_started = time.perf_counter(), time.process_time()
            record = readback_pass()
            elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu_started
            if profiler is not None:
                import pstats

                profiler.disable()
                pstats.Stats(profiler).sort_stats("tottime").print_stats(25)
        lists = record.clusters["bench"]["list_calls"]
        # The steady state: the next pass finds the same fleet (rows exist, little changed).
        started, cpu_started = time.perf_counter(), time.process_time()
        readback_pass()
        steady, steady_cpu = time.perf_counter() - started, time.process_time() - cpu_started
        drift = DriftRecord.objects.filter(resolved_at__isnull=True).count()
        rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    finally:
        if process is not None:
            process.stdin.close()
            process.wait(timeout=60)
        connection.creation.destroy_test_db(old_name, verbosity=0)

    print(f"seeded {args.projects:,} projects and {seeded:,} cluster objects in {seeded_in:.1f} s "
          f"({connection.vendor})")
    print(f"one full pass over {record.projects:,} projects: {elapsed:.1f} s, {cpu:.1f} s CPU in the console "
          f"process (target < {TARGET_SECONDS:.0f} s, the default interval)")
    print(f"the next pass (steady state): {steady:.1f} s, {steady_cpu:.1f} s CPU (target < {TARGET_SECONDS:.0f} s)")
    print(f"  cluster reachable: {record.clusters['bench']['reachable']}; load average {os.getloadavg()[0]:.1f} "
          f"on {os.cpu_count()} cores")
    print(f"  LIST calls to the cluster: {lists} (target: one per kind, whatever the number of projects)")
    print(f"  SQL queries: {len(queries):,} ({len(queries) / max(record.projects, 1):.2f} per project; "
          f"target: a constant number per chunk of {django.conf.settings.READBACK_CHUNK_SIZE})")
    print(f"  drift found: {drift:,} open records (expected {edited:,} hand-edited quotas)")
    print(f"  peak RSS: {rss / 1024:.0f} MiB (before the pass: {rss_before / 1024:.0f} MiB)")


if __name__ == "__main__":
    main()
