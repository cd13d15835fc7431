import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "console.settings")

app = Celery("console")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks(["console"])

# Logs and metrics of tasks (ids in every line, run outcomes counted): console/ops/celery_signals.py.
from console.ops import celery_signals  # noqa: E402
from console.ops.logs import log_format_from_env  # noqa: E402

if log_format_from_env() == "json":
    celery_signals.connect_logging()
