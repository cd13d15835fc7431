"""The one benchmark entry point (``make bench``): every row of issue 10's table as now, target, ratio.

It makes its own data: a PostgreSQL database (``--database``, dropped and re-created) seeded at
``--scale`` × (1,000 organizations, 10,000 projects, 50,000 repositories, 1,000,000 sync runs, 2,000,000
ref changes) with set-based inserts; git repositories served over loopback smart HTTP; rendered specs; a
generated chart repository. Pages are timed in-process (Django test client, no network) over
``--requests`` requests each after one warm-up, with the SQL query count of each page. Git rows run
Mirror.sync and plain git interleaved A/B on the same source.

    .venv/bin/python bench/run.py [--scale 1] [--requests 60] [--only db,sync,burst,render,scan]
                                  [--save var/bench.json] [--before var/bench-main.json]

``burst`` starts the production processes (gunicorn, a Celery worker, the local forge) on a database of
its own and Redis, and fires 20 sync triggers at once over HTTP (bench/burst.py).

``--before`` adds the figures a previous run saved (e.g. of main's code: copy bench/ into an export
of main and run it there with ``--save``), so that one table shows before and after.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(1, str(Path(__file__).resolve().parent))


def _database(url: str) -> None:
    import psycopg

    name = url.rsplit("/", 1)[1]
    admin = url.rsplit("/", 1)[0] + "/postgres"
    with psycopg.connect(admin, autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        connection.execute(f'CREATE DATABASE "{name}"')


def measure(args) -> dict:
    results: dict = {"machine": _machine()}
    only = set(args.only.split(","))
    if "db" in only:
        os.environ["DATABASE_URL"] = args.database
        os.environ.setdefault("DJANGO_SETTINGS_MODULE", "console.settings")
        os.environ.setdefault("DSO_DEBUG", "false")  # as served in production: no query log, no debug pages
        _database(args.database)
        import django

        django.setup()
        from django.core.management import call_command
        from django.test.utils import setup_test_environment

        setup_test_environment()  # responses carry their template context, as in tests

        call_command("migrate", verbosity=0)
        import scale

        ids = scale.seed(args.scale)
        print(f"seeded {ids['sizes']} in {ids['seconds']:.1f} s", flush=True)
        results["seed"] = {"sizes": ids["sizes"], "seconds": ids["seconds"]}
        results["pages"] = scale.pages(ids, args.requests)
    if "sync" in only:
        import gitsync

        results["sync"] = gitsync.run(samples=args.sync_samples, commits=args.commits)
    if "burst" in only:
        import burst

        results["burst"] = burst.run(database=args.burst_database, broker=args.burst_broker,
                                     rounds=args.burst_rounds, repos=args.burst_repos,
                                     concurrency=args.burst_concurrency, web_workers=args.burst_web_workers,
                                     web_threads=args.burst_web_threads)
    if "render" in only:
        import codepaths

        results["render"] = codepaths.rendering()
    if "scan" in only:
        import codepaths

        results["scan"] = codepaths.image_scan()
    return results


def _machine() -> dict:
    import platform
    import subprocess

    import timeit

    git = subprocess.run(["git", "--version"], capture_output=True, text=True).stdout.strip()
    # The same machine kind is not always as fast (the figures of one session ran 1.5-1.8x those of
    # another): this pure-Python yardstick says how fast this one was.
    yardstick = min(timeit.repeat("sum(range(10**6))", number=5, repeat=5)) / 5 * 1000
    return {"cpus": os.cpu_count(), "python": platform.python_version(), "git": git,
            "load": os.getloadavg()[0], "when": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
            "yardstick_ms": round(yardstick, 1)}


def rows(results: dict) -> list[tuple[str, float | None, float, str, str]]:
    """(what, figure, target, unit, detail) for each row of the issue's table."""
    out = []
    pages = results.get("pages", {})

    def page(label: str, key: str, target: float) -> None:
        if key in pages:
            p = pages[key]
            out.append((label, p["p95"], target, "ms p95",
                        f"p50 {p['p50']:.1f} ms, {p['queries']} queries, {p['bytes'] / 1024:.0f} KiB"))

    page("API syncs/ (staff)", "api syncs staff", 50)
    page("API syncs/ (member)", "api syncs member", 50)
    page("API syncs/?status=failed (staff)", "api failed syncs staff", 50)
    page("API syncs/?status=failed (member)", "api failed syncs member", 50)
    page("portal home as staff", "portal home staff", 100)
    page("portal project page", "portal project member", 50)
    page("deep page of a repository's history (portal, page 400)", "portal deep history page", 20)
    page("deep page of a repository's history (API, page 160 of 50)", "api deep history page", 20)
    sync = results.get("sync", {})
    for key, label, target in (("sync, new commit", "sync, 1 new commit vs raw git", 1.2),
                               ("sync, force push", "sync, force-push vs raw git", 1.2),
                               ("sync, new tag", "sync, new tag vs raw git", 1.2),
                               ("sync, nothing", "sync, nothing new vs raw git", 1.0)):
        if key in sync:
            s = sync[key]
            out.append((label, s["ratio"], target, "× raw",
                        f"ours min {s['a_min']:.0f} / median {s['a_median']:.0f} ms; raw min {s['b_min']:.0f} "
                        f"/ median {s['b_median']:.0f} ms"))
    full = next((k for k in sync if k.startswith("first full mirror")), None)
    if full:
        s = sync[full]
        out.append((f"{full} vs raw", s["ratio"], 1.1, "× raw",
                    f"ours min {s['a_min']:.0f} / median {s['a_median']:.0f} ms; raw min {s['b_min']:.0f} "
                    f"/ median {s['b_median']:.0f} ms"))
    if "burst" in results:
        b = results["burst"]
        out.append((f"{b['repos']} repositories triggered at once, trigger → mirrored p95", b["mirrored_p95"],
                    1000, "ms",
                    f"p50 {b['mirrored_p50']:.0f} ms, max {b['mirrored_max']:.0f} ms; trigger → 202 p50 "
                    f"{b['accepted_p50']:.0f} / p95 {b['accepted_p95']:.0f} ms; queued → started p50 "
                    f"{b['queue_wait_p50']:.0f} / p95 {b['queue_wait_p95']:.0f} ms, sync itself p50 "
                    f"{b['sync_p50']:.0f} / p95 {b['sync_p95']:.0f} ms; {b['samples']} triggers over "
                    f"{b['rounds']} rounds; raw git alone, same 20 fetch + push at the same concurrency: p95 "
                    f"{b['raw_git_floor']['p95']:.0f} / p50 {b['raw_git_floor']['p50']:.0f} ms; "
                    f"worker concurrency {b['worker_concurrency']}, gunicorn "
                    f"{b['web_workers']} × {b['web_threads']} threads; CPU s per sync: "
                    + ", ".join(f"{name} {seconds:.3f}" for name, seconds in b.get("cpu_seconds_per_sync", {}).items())))
    else:
        out.append(("20 repositories triggered at once, trigger → mirrored p95", None, 1000, "ms",
                    "not measured in this run (--only burst)"))
    if "render" in results:
        r = results["render"]
        out.append(("manifest rendering", r["ms_per_project"], 1.0, "ms/project",
                    f"{r['ms_per_project'] * 10:.1f} s for 10k projects"))
        out.append(("manifest rendering, unchanged project", r["unchanged_ms"], 0.1, "ms/project",
                    "fingerprint compared, nothing rendered nor delivered"))
    if "scan" in results:
        s = results["scan"]
        out.append(("full image-tag history scan (1,200 commits) vs git + libyaml", s["ratio"], 2.0, "× raw",
                    f"ours min {s['a_min']:.0f} / median {s['a_median']:.0f} ms; raw min {s['b_min']:.0f} "
                    f"/ median {s['b_median']:.0f} ms"))
    return out


def report(results: dict, before: dict | None) -> None:
    previous = {row[0]: row[1] for row in rows(before)} if before else {}
    machine = results["machine"]
    print(f"\n{machine['cpus']} CPUs, load {machine['load']:.1f}, Python {machine['python']}, {machine['git']}, "
          f"{machine['when']}, yardstick sum(range(10**6)) {machine.get('yardstick_ms', 0):.1f} ms")
    if "seed" in results:
        print(f"seed: {results['seed']['sizes']} in {results['seed']['seconds']:.1f} s")
    header = f"{'what':62} {'before':>9} {'now':>9} {'target':>8} {'ratio':>6}  unit / detail"
    print(header)
    print("-" * len(header))
    for what, figure, target, unit, detail in rows(results):
        was = previous.get(what)
        was_text = f"{was:9.2f}" if isinstance(was, float) else f"{'':>9}"
        if figure is None:
            print(f"{what:62} {was_text} {'—':>9} {target:8g} {'':>6}  {unit}; {detail}")
            continue
        ratio = figure / target
        mark = "ok" if ratio <= 1 else "over"
        print(f"{what:62} {was_text} {figure:9.2f} {target:8g} {ratio:6.2f}  {unit} ({mark}); {detail}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scale", type=float, default=1.0, help="fraction of the issue's data sizes")
    parser.add_argument("--requests", type=int, default=60)
    parser.add_argument("--sync-samples", type=int, default=7)
    parser.add_argument("--commits", type=int, default=2000)
    parser.add_argument("--only", default="db,sync,burst,render,scan")
    parser.add_argument("--database", default="postgres://postgres@127.0.0.1:5432/dso_bench")
    parser.add_argument("--burst-rounds", type=int, default=3)
    parser.add_argument("--burst-repos", type=int, default=20)
    parser.add_argument("--burst-concurrency", type=int, help="DSO_WORKER_CONCURRENCY (default: the shipped one)")
    parser.add_argument("--burst-web-workers", type=int, help="DSO_WEB_WORKERS (default: gunicorn.conf.py's)")
    parser.add_argument("--burst-web-threads", type=int, help="DSO_WEB_THREADS (default: gunicorn.conf.py's)")
    parser.add_argument("--burst-database", default="postgres://postgres@127.0.0.1:5432/dso_bench_burst")
    parser.add_argument("--burst-broker", default="redis://127.0.0.1:6379/7")
    parser.add_argument("--save", type=Path)
    parser.add_argument("--before", type=Path)
    args = parser.parse_args()
    results = measure(args)
    if args.save:
        args.save.parent.mkdir(parents=True, exist_ok=True)
        args.save.write_text(json.dumps(results, indent=1))
    report(results, json.loads(args.before.read_text()) if args.before else None)


if __name__ == "__main__":
    main()
