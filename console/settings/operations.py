"""Operations: probes, metrics, logs and static files (console/ops/)."""

from __future__ import annotations

from pathlib import Path

from django.core.exceptions import ImproperlyConfigured

from console.ops.logs import log_format_from_env, logging_config
from console.settings.environment import DATA_DIR, PRODUCTION, env, env_bool, env_float, env_int, env_list
from console.settings.web import MIDDLEWARE

# First: /healthz, /readyz and /metrics are answered before host checks and the HTTPS redirect (probes and
# scrapes call the pod's IP over HTTP); every other request gets its id and is timed by view.
MIDDLEWARE.insert(0, "console.ops.middleware.OpsMiddleware")
# Built into the image by `collectstatic` (deploy/Containerfile); served by WhiteNoise in production.
STATIC_ROOT = Path(env("DSO_STATIC_ROOT", str(DATA_DIR / "static"))).resolve()
if PRODUCTION:
    MIDDLEWARE.insert(MIDDLEWARE.index("django.middleware.security.SecurityMiddleware") + 1,
                      "whitenoise.middleware.WhiteNoiseMiddleware")
    # Hashed names, gzip/brotli copies and far-future caching; the manifest is written by collectstatic.
    STORAGES = {
        "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
        "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
    }
# Production: HSTS for subdomains too (manage.py check --deploy asks for both).
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("DSO_HSTS_INCLUDE_SUBDOMAINS", PRODUCTION)
# The header only makes the site eligible for the browsers' preload list; submitting it is a separate step.
SECURE_HSTS_PRELOAD = env_bool("DSO_HSTS_PRELOAD", PRODUCTION)

READY_CHECKS = tuple(env_list("DSO_READY_CHECKS", "database,migrations,broker,forge"))
_unknown_checks = set(READY_CHECKS) - {"database", "migrations", "broker", "forge"}
if _unknown_checks:
    raise ImproperlyConfigured(f"DSO_READY_CHECKS names unknown checks {sorted(_unknown_checks)}: use database, "
                               "migrations, broker, forge")
READY_TIMEOUT_SECONDS = env_float("DSO_READY_TIMEOUT_SECONDS", 2.0)
# /metrics (web) and the worker's metrics port need `Authorization: Bearer <this>`; unset, both are off.
METRICS_TOKEN = env("DSO_METRICS_TOKEN", "") or ""
METRICS_PORT = env_int("DSO_METRICS_PORT", 0)
METRICS_BIND = env("DSO_METRICS_BIND", "0.0.0.0")

LOG_FORMAT = log_format_from_env()
if LOG_FORMAT not in {"json", "plain"}:
    raise ImproperlyConfigured(f"DSO_LOG_FORMAT={LOG_FORMAT!r} is unknown: use json or plain")
LOGGING = logging_config(log_format=LOG_FORMAT, level=env("DSO_LOG_LEVEL", "INFO"))
