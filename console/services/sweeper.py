"""The periodic sweep that keeps every kind of run moving when a worker dies or a broker loses a message."""

from __future__ import annotations

from django.conf import settings

from console.models import SyncRun
from console.services.leases import runs_relaunch_lapsed
from console.services.runs import sweep_runs


def runs_sweep() -> dict[str, dict[str, int]]:
    """Redo runs whose worker stopped renewing its lease, fail runs stuck past the deadline and restart what
    waited behind them, and re-enqueue queued runs whose message was lost, for every kind of run."""
    from console import tasks
    from console.models import ImageBump, ProvisioningRun

    kinds = {
        "syncs": (SyncRun, "repository", tasks.enqueue_sync),
        "provisioning": (ProvisioningRun, "project", tasks.enqueue_provisioning),
        "image_bumps": (ImageBump, "repository", tasks.enqueue_image_bump),
    }
    report = {}
    for name, (model, field, enqueue) in kinds.items():
        # Lapsed leases first: a dead worker is noticed within seconds, long before the stuck deadline.
        lapsed = runs_relaunch_lapsed(model, resource_field=field, enqueue=enqueue)
        swept = sweep_runs(model, resource_field=field, enqueue=enqueue,
                           stuck_after_seconds=settings.SYNC_STUCK_AFTER_SECONDS,
                           stale_queued_after_seconds=settings.STALE_QUEUED_AFTER_SECONDS)
        report[name] = {**swept, "failed": swept["failed"] + lapsed["failed"], "relaunched": lapsed["relaunched"]}
    return report
