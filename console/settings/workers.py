"""Celery, the background passes it runs (scheduled syncs, read-back, registry watch) and how long a
run may take."""

from __future__ import annotations

from django.core.exceptions import ImproperlyConfigured

from console.settings.environment import DATA_DIR, env, env_bool, env_float, env_int, env_list, required

BROKER_DIR = DATA_DIR / "broker"
CELERY_BROKER_URL = required("CELERY_BROKER_URL", "filesystem://")
if CELERY_BROKER_URL.startswith("filesystem://"):
    # kombu's filesystem transport: a real worker process with no broker server to run. Every folder it
    # writes is named here: control_folder (the exchange tables, e.g. celery's pidbox) defaults to
    # ./control in the working directory, which is how those files ended up in the repository.
    for folder in ("queue", "processed", "control"):
        (BROKER_DIR / folder).mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(BROKER_DIR / "queue"),
        "data_folder_out": str(BROKER_DIR / "queue"),
        "processed_folder": str(BROKER_DIR / "processed"),
        "control_folder": str(BROKER_DIR / "control"),
        "store_processed": False,
    }
else:
    CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 3600}
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_DEFAULT_QUEUE = "dso"
CELERY_TASK_ALWAYS_EAGER = env_bool("DSO_TASKS_EAGER", False)
# A working task renews its run's lease every third of this; a run whose lease lapsed (its worker died) is
# redone by another worker at the next sweep, so a dead worker costs seconds, not the stuck deadline.
RUN_LEASE_SECONDS = int(env("DSO_RUN_LEASE_SECONDS", "30"))
RUN_SWEEP_INTERVAL_SECONDS = float(env("DSO_RUN_SWEEP_INTERVAL_SECONDS", "10"))
# Scheduled syncs (issue #12): off per repository until set; an interval below the minimum is refused, the
# default is what "on" means without a number. A failing repository backs off up to the cap; jitter spreads
# repositories that share an interval so they do not all fire in the same sweep.
SYNC_SCHEDULE_MIN_SECONDS = env_int("DSO_SYNC_SCHEDULE_MIN_SECONDS", 300, minimum=1)
SYNC_SCHEDULE_DEFAULT_SECONDS = env_int("DSO_SYNC_SCHEDULE_DEFAULT_SECONDS", 3600, minimum=1)
SYNC_SCHEDULE_MAX_BACKOFF_SECONDS = env_int("DSO_SYNC_SCHEDULE_MAX_BACKOFF_SECONDS", 24 * 3600, minimum=1)
SYNC_SCHEDULE_JITTER = env_float("DSO_SYNC_SCHEDULE_JITTER", 0.1)
SYNC_SCHEDULE_BATCH_SIZE = env_int("DSO_SYNC_SCHEDULE_BATCH_SIZE", 500, minimum=1)
SYNC_SCHEDULE_MAX_BATCHES = env_int("DSO_SYNC_SCHEDULE_MAX_BATCHES", 40, minimum=1)
SYNC_SCHEDULE_SWEEP_SECONDS = env_float("DSO_SYNC_SCHEDULE_SWEEP_SECONDS", 60.0)
if SYNC_SCHEDULE_DEFAULT_SECONDS < SYNC_SCHEDULE_MIN_SECONDS:
    raise ImproperlyConfigured("DSO_SYNC_SCHEDULE_DEFAULT_SECONDS is below DSO_SYNC_SCHEDULE_MIN_SECONDS")
CELERY_BEAT_SCHEDULE = {
    # A sweep nobody ran before the next one is due is dropped, so busy workers do not find a backlog of them.
    "fail-stuck-runs": {"task": "dso.runs.sweep_stuck", "schedule": RUN_SWEEP_INTERVAL_SECONDS,
                        "options": {"expires": RUN_SWEEP_INTERVAL_SECONDS}},
    "scheduled-syncs": {"task": "dso.syncs.sweep_scheduled", "schedule": SYNC_SCHEDULE_SWEEP_SECONDS,
                        "options": {"expires": SYNC_SCHEDULE_SWEEP_SECONDS}},
    "registry-watch": {"task": "dso.registries.sweep", "schedule": 60.0, "options": {"expires": 60.0}},
    "follow-merge-requests": {"task": "dso.bumps.follow_merge_requests", "schedule": 60.0,
                              "options": {"expires": 60.0}},
}
# Read-back and drift (issue 9): how often every project's Argo CD Applications and objects are read back.
READBACK_INTERVAL_SECONDS = env_float("DSO_READBACK_INTERVAL_SECONDS", 60.0)
CELERY_BEAT_SCHEDULE["read-back"] = {"task": "dso.readback.pass", "schedule": READBACK_INTERVAL_SECONDS,
                                     "options": {"expires": READBACK_INTERVAL_SECONDS}}
# A pushed bump Argo CD has not synced after this long is reported stuck.
ROLLOUT_STUCK_AFTER_SECONDS = env_int("DSO_ROLLOUT_STUCK_AFTER_SECONDS", 900, minimum=1)
# Projects read per chunk of a pass (one query each; never all projects in memory).
READBACK_CHUNK_SIZE = env_int("DSO_READBACK_CHUNK_SIZE", 500, minimum=1)
# With self-heal on, drift still there this long after a correction was asked is corrected again.
DRIFT_HEAL_RETRY_SECONDS = env_int("DSO_DRIFT_HEAL_RETRY_SECONDS", 600, minimum=1)
# The Argo CD UI of the embedded default (no cluster registered), for deep links.
ARGOCD_URL = (env("DSO_ARGOCD_URL", "") or "").rstrip("/")
# The registry watch: each registry with watched images is checked this often (its run is coalesced).
REGISTRY_WATCH_INTERVAL_SECONDS = env_int("DSO_REGISTRY_WATCH_INTERVAL_SECONDS", 300, minimum=10)
REGISTRY_TIMEOUT_SECONDS = env_float("DSO_REGISTRY_TIMEOUT_SECONDS", 15.0)
REGISTRY_WATCH_CONCURRENCY = env_int("DSO_REGISTRY_WATCH_CONCURRENCY", 8, minimum=1)  # manifest reads at once
# The image tag ledger's deployment steps: dotted paths of callables provider(*, image, tag, repositories)
# -> [step dicts]. The read-back's own is always there; DSO_IMAGE_LEDGER_DEPLOYMENT_PROVIDERS adds more.
IMAGE_LEDGER_DEPLOYMENT_PROVIDERS = list(dict.fromkeys([
    "console.services.deployment_ledger.deployment_ledger_steps",
    *env_list("DSO_IMAGE_LEDGER_DEPLOYMENT_PROVIDERS"),
]))
# Project notifications (webhooks and e-mail through Django's EMAIL_* settings).
NOTIFICATION_TIMEOUT_SECONDS = env_float("DSO_NOTIFICATION_TIMEOUT_SECONDS", 10.0)
DEFAULT_FROM_EMAIL = env("DSO_DEFAULT_FROM_EMAIL", "dso-console@localhost")
EMAIL_HOST = env("DSO_EMAIL_HOST", "localhost")
EMAIL_PORT = env_int("DSO_EMAIL_PORT", 25, minimum=1)
EMAIL_HOST_USER = env("DSO_EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = env("DSO_EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = env_bool("DSO_EMAIL_USE_TLS", False)
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True

SYNC_STUCK_AFTER_SECONDS = env_int("DSO_SYNC_STUCK_AFTER_SECONDS", 3600, minimum=60)
# A queued run nobody has taken after this long is enqueued again (its message was lost).
STALE_QUEUED_AFTER_SECONDS = env_int("DSO_STALE_QUEUED_AFTER_SECONDS", 600, minimum=1)
# One attempt of a task never runs longer than this, so "stuck" above is unambiguous.
CELERY_TASK_TIME_LIMIT = env_int("DSO_TASK_TIME_LIMIT_SECONDS", max(60, SYNC_STUCK_AFTER_SECONDS - 300), minimum=1)
if "visibility_timeout" in CELERY_BROKER_TRANSPORT_OPTIONS:
    # Redis redelivers an unacknowledged (acks_late) task after this: it must outlast the longest attempt.
    CELERY_BROKER_TRANSPORT_OPTIONS["visibility_timeout"] = CELERY_TASK_TIME_LIMIT + 600
