"""Benchmark for the scheduled-sync sweep (console.services.schedules): one sweep over N due repositories.

Creates N repositories in one project with a due schedule (bulk inserts, in the database DATABASE_URL names:
give it a scratch database, it is migrated first and the rows are removed afterwards), then runs one sweep
the way the beat task does, with the broker replaced by a counter, and prints the enqueue time, the number of
queries and the enqueued runs next to the targets.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/dso_bench .venv/bin/python bench/scheduled_sweep.py [--repositories 10000]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "console.settings")

import django  # noqa: E402

django.setup()

from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402
from django.utils import timezone  # noqa: E402

# 10,000 repositories at the platform minimum interval (5 minutes) must all be asked within those 5 minutes:
# the sweep keeps up when enqueuing 10,000 takes less than 300 s (on this shared 2-core machine).
TARGET_SECONDS_PER_10K = 300.0
TARGET_QUERIES_PER_REPOSITORY = 5


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repositories", type=int, default=10_000)
    parser.add_argument("--batch-size", type=int, default=500)
    args = parser.parse_args()

    call_command("migrate", verbosity=0)
    from console.models import Organization, Project, Repository, SyncRun, SyncSchedule
    from console.services import run_kinds
    from console.services.schedules import scheduled_syncs_sweep

    stamp = str(int(time.time()))
    organization = Organization.objects.create(slug=f"bench-{stamp}", name="bench")
    project = Project.objects.create(organization=organization, slug="sweep", name="sweep",
                                     namespace=f"bench-{stamp}-sweep")
    try:
        started = time.perf_counter()
        repositories = Repository.objects.bulk_create(
            Repository(project=project, name=f"r{i}", external_url=f"https://git.example.com/bench/r{i}.git")
            for i in range(args.repositories))
        due = timezone.now() - timedelta(seconds=1)
        SyncSchedule.objects.bulk_create(
            SyncSchedule(repository=repository, interval_seconds=3600, next_at=due) for repository in repositories)
        print(f"setup: {args.repositories} repositories in {time.perf_counter() - started:.1f} s")

        sent: list[int] = []
        run_kinds.enqueue = lambda kind, run_id, task_id=None: sent.append(run_id)
        counted = [0]

        def count_query(execute, sql, params, many, context):
            counted[0] += 1
            return execute(sql, params, many, context)

        with connection.execute_wrapper(count_query):
            started = time.perf_counter()
            report = scheduled_syncs_sweep(batch_size=args.batch_size, max_batches=10**6)
            elapsed = time.perf_counter() - started
        count = counted[0]
        target = TARGET_SECONDS_PER_10K * args.repositories / 10_000
        print(f"sweep report: {report}")
        print(f"enqueue time: {elapsed:.2f} s for {args.repositories} repositories "
              f"({elapsed / args.repositories * 1000:.2f} ms each)   target < {target:.0f} s")
        print(f"queries: {count} ({count / args.repositories:.2f} per repository)   "
              f"target <= {TARGET_QUERIES_PER_REPOSITORY} per repository + a few per batch")
        print(f"runs sent to the broker: {len(sent)}   target {args.repositories}")
    finally:
        SyncRun.objects.filter(repository__project=project).delete()
        SyncSchedule.objects.filter(repository__project=project).delete()
        Repository.objects.filter(project=project).delete()
        project.delete()
        organization.delete()


if __name__ == "__main__":
    main()
