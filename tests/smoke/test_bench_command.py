"""The README's `make bench` runs end to end and prints every row of the performance table.

Run through the Makefile as documented, at a tiny scale and with few samples (the figures are not looked
at: speed is shown by the bench itself, never asserted by a test), on a database of its own so that a
developer's seeded `dso_bench` is left alone."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

ROWS = [
    "API syncs/ (staff)", "API syncs/ (member)", "API syncs/?status=failed (staff)",
    "API syncs/?status=failed (member)", "portal home as staff", "portal project page",
    "deep page of a repository's history (portal, page 400)",
    "deep page of a repository's history (API, page 160 of 50)",
    "sync, 1 new commit vs raw git", "sync, force-push vs raw git", "sync, new tag vs raw git",
    "sync, nothing new vs raw git", "first full mirror of 2000 commits vs raw",
    "20 repositories triggered at once, trigger → mirrored p95", "manifest rendering",
    "manifest rendering, unchanged project", "full image-tag history scan (1,200 commits) vs git + libyaml",
]


@pytest.mark.skipif(not os.environ.get("DATABASE_URL", "").startswith("postgres"),
                    reason="the bench seeds PostgreSQL (make test sets DATABASE_URL)")
def test_make_bench_prints_every_row_with_its_target(tmp_path):
    database = os.environ["DATABASE_URL"].rsplit("/", 1)[0] + "/dso_bench_smoke"
    result = subprocess.run(
        ["make", "bench", f"BENCH_DATABASE_URL={database}",
         "BENCH_ARGS=--scale 0.005 --requests 2 --sync-samples 1 --burst-rounds 1 "
         f"--save {tmp_path / 'bench.json'}"],
        cwd=ROOT, capture_output=True, text=True, timeout=900)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]

    printed = {}
    for line in result.stdout.splitlines():
        for row in ROWS:
            if line.startswith(row) and re.match(r"\s+(\S+\s+)?[\d.]+\s+[\d.]+\s+[\d.]+\s", line[62:]):
                printed[row] = line
    assert set(printed) == set(ROWS), result.stdout[-3000:]
    assert (tmp_path / "bench.json").exists()
