"""The periodic sweep that keeps every kind of run moving when a worker dies or a broker loses a message."""

from __future__ import annotations

from django.conf import settings

from console.services.leases import runs_relaunch_lapsed
from console.services.run_kinds import KINDS, enqueuer
from console.services.runs import sweep_runs


def runs_sweep() -> dict[str, dict[str, int]]:
    """Redo runs whose worker stopped renewing its lease, fail runs stuck past the deadline and restart what
    waited behind them, and re-enqueue queued runs whose message was lost, for every kind of run."""
    report = {}
    for kind in KINDS.values():
        enqueue = enqueuer(kind.name)
        # Lapsed leases first: a dead worker is noticed within seconds, long before the stuck deadline.
        lapsed = runs_relaunch_lapsed(kind.model, resource_field=kind.resource_field, enqueue=enqueue)
        swept = sweep_runs(kind.model, resource_field=kind.resource_field, enqueue=enqueue,
                           stuck_after_seconds=settings.SYNC_STUCK_AFTER_SECONDS,
                           stale_queued_after_seconds=settings.STALE_QUEUED_AFTER_SECONDS)
        report[kind.report_key] = {**swept, "failed": swept["failed"] + lapsed["failed"],
                                   "relaunched": lapsed["relaunched"]}
    return report
