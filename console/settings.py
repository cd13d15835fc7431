"""Settings, all from the environment, with embedded defaults that run on one machine.

Embedded defaults: SQLite, kombu's filesystem broker, the local bare-repo forge under ``var/`` and GitOps
delivery into its platform repository. Production (``DSO_ENV=production``) fails fast when a value that has
no safe default is missing. Every variable is documented in ``.env.example``.
"""

from __future__ import annotations

import os
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent


def env(name: str, default: str | None = None) -> str | None:
    value = os.environ.get(name)
    return default if value in (None, "") else value


TRUE_WORDS = {"1", "true", "yes", "on"}
FALSE_WORDS = {"0", "false", "no", "off"}


def env_bool(name: str, default: bool) -> bool:
    """Strict: a typo such as 'ture' must not silently mean false (e.g. insecure cookies)."""
    value = env(name)
    if value is None:
        return default
    word = value.strip().lower()
    if word in TRUE_WORDS:
        return True
    if word in FALSE_WORDS:
        return False
    raise ImproperlyConfigured(f"{name}={value!r} is not a boolean: use true or false")


def env_int(name: str, default: int, *, minimum: int | None = 0) -> int:
    value = env(name)
    if value is None:
        return default
    try:
        number = int(value.strip())
    except ValueError:
        raise ImproperlyConfigured(f"{name}={value!r} is not a whole number") from None
    if minimum is not None and number < minimum:
        raise ImproperlyConfigured(f"{name}={value!r} must be at least {minimum}")
    return number


def env_float(name: str, default: float) -> float:
    value = env(name)
    if value is None:
        return default
    try:
        number = float(value.strip())
    except ValueError:
        raise ImproperlyConfigured(f"{name}={value!r} is not a number") from None
    if not number > 0:
        raise ImproperlyConfigured(f"{name}={value!r} must be a positive number")
    return number


def env_list(name: str, default: str = "") -> list[str]:
    return [item.strip() for item in (env(name, default) or "").split(",") if item.strip()]


DSO_ENV = env("DSO_ENV", "development")
if DSO_ENV not in {"development", "production"}:
    # "prod" or "Production" would otherwise quietly run with every development default.
    raise ImproperlyConfigured(f"DSO_ENV={DSO_ENV!r} is unknown: use development or production")
PRODUCTION = DSO_ENV == "production"


def required(name: str, embedded_default: str) -> str:
    value = env(name)
    if value is None:
        if PRODUCTION:
            raise ImproperlyConfigured(f"{name} must be set when DSO_ENV=production (see .env.example)")
        return embedded_default
    return value


DATA_DIR = Path(env("DSO_DATA_DIR", str(BASE_DIR / "var"))).resolve()

DEV_SECRET_KEY = "dev-only-insecure-secret-key-change-me"
SECRET_KEY = required("DSO_SECRET_KEY", DEV_SECRET_KEY)
# The values shipped in .env.example and the embedded default are public: a production secret key must be
# neither (sessions, CSRF and password-reset tokens are signed with it).
if PRODUCTION and (SECRET_KEY in {DEV_SECRET_KEY, "change-me"} or len(SECRET_KEY) < 32):
    raise ImproperlyConfigured(
        "DSO_SECRET_KEY is the example value or shorter than 32 characters: generate one with "
        "python -c \"import secrets; print(secrets.token_urlsafe(50))\""
    )
DEBUG = env_bool("DSO_DEBUG", not PRODUCTION)
ALLOWED_HOSTS = required("DSO_ALLOWED_HOSTS", "localhost,127.0.0.1,[::1],testserver").split(",")
CSRF_TRUSTED_ORIGINS = env_list("DSO_CSRF_TRUSTED_ORIGINS")
# The console's own URL: shown in CI snippets and used as the id_token audience, so never guessed in production.
PUBLIC_URL = required("DSO_PUBLIC_URL", "http://127.0.0.1:8000").rstrip("/")
# Where `manage.py run_embedded` (`make run`) serves the portal; keep DSO_PUBLIC_URL pointing at it.
EMBEDDED_ADDR = env("DSO_EMBEDDED_ADDR", "127.0.0.1:8000")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "console",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "console.request_guards.RejectNullCharactersMiddleware",
    "console.api.middleware.ApiBodyLimitMiddleware",
    "console.middleware.ContentSecurityPolicyMiddleware",
    "console.middleware.CredentialThrottleMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    # The language: the switcher's cookie if set, else the browser's Accept-Language, else English.
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "console.urls"
WSGI_APPLICATION = "console.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    }
]

# SQLite (the embedded default) is one file that portal requests and the worker write concurrently.
SQLITE_OPTIONS = {
    # Seconds to wait for another connection's write lock instead of failing at once.
    "timeout": 30,
    # Every transaction takes the write lock when it begins. With SQLite's default (DEFERRED) a transaction
    # that reads and then writes must upgrade its lock, and if another connection wrote in between SQLite
    # refuses at once with "database is locked": the busy timeout cannot help, since waiting would deadlock
    # or write on a stale read. Taking the lock up front turns that failure into a wait.
    "transaction_mode": "IMMEDIATE",
    # WAL: readers neither block the writer nor wait for it. NORMAL is safe with WAL (no corruption; a power
    # cut may lose the last commits), and saves an fsync per commit.
    "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL",
}


def database_config(url: str) -> dict:
    config = dj_database_url.parse(url, conn_max_age=60)
    if config["ENGINE"].endswith("sqlite3"):
        config["OPTIONS"] = {**config.get("OPTIONS", {}), **SQLITE_OPTIONS}
        config["CONN_MAX_AGE"] = 0
    elif config["ENGINE"].endswith("postgresql"):
        # JIT compiles the plan of any query whose estimated cost passes a threshold; the console's queries are
        # short index reads for which compiling costs more (30-60 ms measured) than it ever saves.
        options = config.setdefault("OPTIONS", {})
        options["options"] = f"{options.get('options', '')} -c jit=off".strip()
    return config


DATABASES = {"default": database_config(required("DATABASE_URL", f"sqlite:///{DATA_DIR / 'db.sqlite3'}"))}

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
# Password checks are refused while the caller's address has too many recent failures (console.throttle).
AUTHENTICATION_BACKENDS = ["console.throttle.ThrottledModelBackend"]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 8}},
]
LANGUAGE_CODE = "en"
LANGUAGES = [("en", "English"), ("fr", "Français")]
# The French catalogue lives in the package (console/locale/fr/LC_MESSAGES) and is committed compiled, so no
# gettext tool is needed to run the console; tests/console/test_translations.py checks the .mo matches the .po.
# Named here too so that makemessages writes the top-level templates/ strings into the same catalogue.
LOCALE_PATHS = [BASE_DIR / "console" / "locale"]
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True
STATIC_URL = "static/"
STATIC_ROOT = DATA_DIR / "static"
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "portal:home"
LOGOUT_REDIRECT_URL = "login"

if PRODUCTION:
    SESSION_COOKIE_SECURE = env_bool("DSO_SECURE_COOKIES", True)
    CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
    # One year by default: browsers refuse plain HTTP to the console once they have seen it over TLS.
    SECURE_HSTS_SECONDS = env_int("DSO_HSTS_SECONDS", 365 * 24 * 3600)
    SECURE_SSL_REDIRECT = env_bool("DSO_SSL_REDIRECT", False)
else:
    # Parsed in every mode, so a typo is reported on the developer's machine, not first in production.
    env_bool("DSO_SECURE_COOKIES", True)
    env_bool("DSO_SSL_REDIRECT", False)
    SECURE_HSTS_SECONDS = env_int("DSO_HSTS_SECONDS", 0)
# Only behind a proxy that sets X-Forwarded-Proto itself; otherwise a client could claim https.
if env_bool("DSO_BEHIND_TLS_PROXY", False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

# How many reverse proxies in front of the console append to X-Forwarded-For. The client address used for
# throttling is the one the outermost trusted proxy saw; with 0 (the default) X-Forwarded-For is ignored and
# REMOTE_ADDR is the client, so nobody can reset their count by sending a header.
TRUSTED_PROXIES = env_int("DSO_TRUSTED_PROXIES", 0)
# Failed credential checks (portal and admin sign-in, API token requests, unknown API tokens) per client
# address; past it every credential check from that address is refused until the window ends.
LOGIN_FAILURE_RATE = env("DSO_LOGIN_FAILURE_RATE", "10/min")


def env_rate(name: str, value: str) -> tuple[int, int]:
    """'10/min' as (10, 60): how many per how many seconds."""
    count, _, period = value.partition("/")
    seconds = {"s": 1, "sec": 1, "second": 1, "m": 60, "min": 60, "minute": 60, "h": 3600, "hour": 3600,
               "d": 86400, "day": 86400}.get(period.strip().lower())
    if not count.strip().isdigit() or int(count) < 1 or seconds is None:
        raise ImproperlyConfigured(f"{name}={value!r} is not a rate such as 10/min (per s, min, hour or day)")
    return int(count), seconds


LOGIN_FAILURE_LIMIT, LOGIN_FAILURE_WINDOW_SECONDS = env_rate("DSO_LOGIN_FAILURE_RATE", LOGIN_FAILURE_RATE)
env_rate("DSO_LOGIN_RATE", env("DSO_LOGIN_RATE", "20/min"))
# Scripts, styles, images, fonts and XHR only from the console itself; no inline script, no framing.
CONTENT_SECURITY_POLICY = env(
    "DSO_CONTENT_SECURITY_POLICY",
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; font-src 'self'; "
    "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
)

# Login throttling counts in this cache: give production a shared one (DSO_CACHE_URL=redis://...).
CACHES = {
    "default": (
        {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": env("DSO_CACHE_URL")}
        if env("DSO_CACHE_URL")
        else {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}
    )
}

# --- REST API -------------------------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "console.api.token_auth.ApiTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    # DRF's JSON parser recurses per nesting level: this one refuses deep documents with a 400 instead.
    "DEFAULT_PARSER_CLASSES": [
        "console.api.parsers.BoundedJSONParser",
        "rest_framework.parsers.FormParser",
        "rest_framework.parsers.MultiPartParser",
    ],
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.PageNumberPagination",
    "PAGE_SIZE": 50,
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "console.api.errors.exception_handler",
    "DEFAULT_THROTTLE_RATES": {"login": env("DSO_LOGIN_RATE", "20/min")},
    # DRF's throttles read X-Forwarded-For only through this many proxies (None would trust any client's).
    "NUM_PROXIES": TRUSTED_PROXIES,
}
SPECTACULAR_SETTINGS = {
    "TITLE": "DSO Console API",
    "DESCRIPTION": "Organizations, projects, repository mirroring and GitOps provisioning.",
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    "COMPONENT_SPLIT_REQUEST": True,
    # Swagger UI served from our own static files: the docs page works with no internet access.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "ENUM_NAME_OVERRIDES": {
        "RunStatusEnum": "console.models.runs.RunStatus",
        "ProjectStatusEnum": "console.models.organizations.Project.Status",
        "TagPolicyKindEnum": "console.models.registries.TagPolicyKind",
        "NotificationTargetKindEnum": "console.models.notifications.NotificationTarget.Kind",
    },
}

# --- Celery ---------------------------------------------------------------------------------------------
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

# --- Integrations ---------------------------------------------------------------------------------------
# Fernet keys, comma separated; the first encrypts, all decrypt, so a key can be rotated in.
ENCRYPTION_KEYS = env_list("DSO_ENCRYPTION_KEYS")
if not ENCRYPTION_KEYS and PRODUCTION:
    raise ImproperlyConfigured("DSO_ENCRYPTION_KEYS must be set when DSO_ENV=production")

FORGE_KIND = env("DSO_FORGE", "local")
if FORGE_KIND not in {"local", "gitlab"}:
    raise ImproperlyConfigured("DSO_FORGE must be 'local' or 'gitlab'")
FORGE_ROOT_GROUP = env("DSO_FORGE_ROOT_GROUP", "dso")
LOCAL_FORGE_ROOT = Path(env("DSO_LOCAL_FORGE_ROOT", str(DATA_DIR / "forge"))).resolve()
LOCAL_FORGE_URL = (env("DSO_LOCAL_FORGE_URL", "http://127.0.0.1:8001/git") or "").rstrip("/")
LOCAL_FORGE_WRITE_TOKEN = required("DSO_LOCAL_FORGE_WRITE_TOKEN", "dev-forge-write-token")
LOCAL_FORGE_READ_TOKEN = required("DSO_LOCAL_FORGE_READ_TOKEN", "dev-forge-read-token")

GITLAB_URL = env("DSO_GITLAB_URL", "")
GITLAB_TOKEN = env("DSO_GITLAB_TOKEN", "")
GITLAB_BOT_USERNAME = env("DSO_GITLAB_BOT_USERNAME", "dso-console-bot")
GITLAB_BOT_TOKEN = env("DSO_GITLAB_BOT_TOKEN", "")
GITLAB_SSL_VERIFY = env_bool("DSO_GITLAB_SSL_VERIFY", True)
# Per-request timeout of GitLab API calls; a timeout is transient and the run retries with backoff.
GITLAB_TIMEOUT_SECONDS = env_float("DSO_GITLAB_TIMEOUT_SECONDS", 30.0)
# Where GitLab serves git over HTTP when it differs from DSO_GITLAB_URL (a proxy in front of it).
GITLAB_GIT_URL = env("DSO_GITLAB_GIT_URL", "")
# Protect mirrored default branches so only the bot pushes (per-user push rules need GitLab Premium).
GITLAB_PROTECT_MIRRORS = env_bool("DSO_GITLAB_PROTECT_MIRRORS", True)
if FORGE_KIND == "gitlab" and not (GITLAB_URL and GITLAB_TOKEN):
    raise ImproperlyConfigured("DSO_FORGE=gitlab needs DSO_GITLAB_URL and DSO_GITLAB_TOKEN")

MIRROR_CACHE_DIR = Path(env("DSO_MIRROR_CACHE_DIR", str(DATA_DIR / "mirror-cache"))).resolve()
MIRROR_TIMEOUT_SECONDS = env_float("DSO_MIRROR_TIMEOUT_SECONDS", 600.0)
# A sync that finds nothing new upstream lists the internal repository only when its last check is older than
# this: a push to the mirror behind the console's back is repaired within this delay (0: at every sync).
MIRROR_VERIFY_SECONDS = env_float("DSO_MIRROR_VERIFY_SECONDS", 300.0)
# Plain http:// external URLs are refused unless they point at loopback and this is on (the demo).
ALLOW_HTTP_LOOPBACK = env_bool("DSO_ALLOW_HTTP_LOOPBACK", False)
# External repository URLs reach only public addresses; these host names (may resolve to private addresses)
# and CIDR ranges are the exceptions, for platforms that mirror from their own network.
ALLOWED_INTERNAL_HOSTS = env_list("DSO_ALLOWED_INTERNAL_HOSTS")

PLATFORM_REPOSITORY = env("DSO_PLATFORM_REPOSITORY", "platform/gitops")
PLATFORM_BRANCH = env("DSO_PLATFORM_BRANCH", "main")
DELIVERY_WORK_DIR = Path(env("DSO_DELIVERY_WORK_DIR", str(DATA_DIR / "delivery"))).resolve()
DESTINATION_SERVER = env("DSO_DESTINATION_SERVER", "https://kubernetes.default.svc")
ARGOCD_NAMESPACE = env("DSO_ARGOCD_NAMESPACE", "argocd")
# Namespaces no project may take, besides kube-*, default and the Argo CD namespace ("name" or "prefix-*").
RESERVED_NAMESPACES = tuple(env_list("DSO_RESERVED_NAMESPACES"))
# Registered clusters (console.models.Cluster): each call to an API server gives up after this long, and a
# 5xx, 429 or timeout is retried this many times with exponential backoff before the run retries later.
CLUSTER_TIMEOUT_SECONDS = env_float("DSO_CLUSTER_TIMEOUT_SECONDS", 10.0)
CLUSTER_RETRIES = env_int("DSO_CLUSTER_RETRIES", 3)
CLUSTER_BACKOFF_SECONDS = env_float("DSO_CLUSTER_BACKOFF_SECONDS", 0.5)


# Tenant baseline (docs/tenant-baseline.md). Quotas: what a new project gets unless it asks for other
# amounts, and the limits a new organization starts with (platform admins change an organization's limits
# in the admin). CPU and memory cap requests and limits alike.
def _quantity_setting(name: str, default: str, unit: str = "1") -> str:
    from provisioning import quantities  # plain Python, no Django

    value = env(name, default)
    problem = quantities.problem(value, what=name, unit=unit)
    if problem:
        raise ImproperlyConfigured(problem)
    return quantities.canonical(value)


QUOTA_DEFAULTS = {
    "cpu": _quantity_setting("DSO_QUOTA_DEFAULT_CPU", "8", unit="1m"),
    "memory": _quantity_setting("DSO_QUOTA_DEFAULT_MEMORY", "16Gi"),
    "storage": _quantity_setting("DSO_QUOTA_DEFAULT_STORAGE", "50Gi"),
    "pods": env_int("DSO_QUOTA_DEFAULT_PODS", 50, minimum=1),
    "services": env_int("DSO_QUOTA_DEFAULT_SERVICES", 20, minimum=1),
}
QUOTA_ORGANIZATION_LIMITS = {
    "cpu": _quantity_setting("DSO_QUOTA_LIMIT_CPU", "32", unit="1m"),
    "memory": _quantity_setting("DSO_QUOTA_LIMIT_MEMORY", "64Gi"),
    "storage": _quantity_setting("DSO_QUOTA_LIMIT_STORAGE", "500Gi"),
    "pods": env_int("DSO_QUOTA_LIMIT_PODS", 200, minimum=1),
    "services": env_int("DSO_QUOTA_LIMIT_SERVICES", 100, minimum=1),
}
# Besides the namespace itself and DNS, the default-deny NetworkPolicy lets in traffic from these
# namespaces (ingress controller, monitoring) and lets pods reach these namespaces and networks.
NETWORK_INGRESS_NAMESPACES = tuple(env_list("DSO_NETWORK_INGRESS_NAMESPACES", "ingress-nginx,monitoring"))
NETWORK_EGRESS_NAMESPACES = tuple(env_list("DSO_NETWORK_EGRESS_NAMESPACES"))
NETWORK_EGRESS_CIDRS = tuple(env_list("DSO_NETWORK_EGRESS_CIDRS"))
NETWORK_DNS_NAMESPACE = env("DSO_NETWORK_DNS_NAMESPACE", "kube-system")
# Whether a project's own Applications may add NetworkPolicies (allow rules on top of the platform's).
TENANT_NETWORK_POLICIES = env_bool("DSO_TENANT_NETWORK_POLICIES", True)
# OIDC group names of the console roles (fields: organization, project, role): sign-in maps groups to roles
# with them, and the generated AppProject roles are bound to the same group names.
OIDC_PROJECT_GROUP_PATTERN = env("DSO_OIDC_PROJECT_GROUP_PATTERN", "dso/{organization}/{project}/{role}")
OIDC_ORGANIZATION_GROUP_PATTERN = env("DSO_OIDC_ORGANIZATION_GROUP_PATTERN", "dso/{organization}/{role}")


def _check_baseline_settings() -> None:
    from provisioning import manifests  # plain Python, no Django

    network = manifests.NetworkSpec(
        ingress_namespaces=NETWORK_INGRESS_NAMESPACES, egress_namespaces=NETWORK_EGRESS_NAMESPACES,
        egress_cidrs=NETWORK_EGRESS_CIDRS, dns_namespace=NETWORK_DNS_NAMESPACE,
    )
    groups = manifests.GroupsSpec(OIDC_PROJECT_GROUP_PATTERN, OIDC_ORGANIZATION_GROUP_PATTERN)
    try:  # a sample project: a typo in a namespace, CIDR or pattern stops the console at start
        manifests.validate(manifests.ProjectSpec("org", "Org", "project", "Project", network=network, groups=groups))
    except manifests.InvalidInput as exc:
        raise ImproperlyConfigured(f"tenant baseline settings (DSO_NETWORK_*, DSO_OIDC_*_GROUP_PATTERN): {exc}")


_check_baseline_settings()

SYNC_STUCK_AFTER_SECONDS = env_int("DSO_SYNC_STUCK_AFTER_SECONDS", 3600, minimum=60)
# A queued run nobody has taken after this long is enqueued again (its message was lost).
STALE_QUEUED_AFTER_SECONDS = env_int("DSO_STALE_QUEUED_AFTER_SECONDS", 600, minimum=1)
# One attempt of a task never runs longer than this, so "stuck" above is unambiguous.
CELERY_TASK_TIME_LIMIT = env_int("DSO_TASK_TIME_LIMIT_SECONDS", max(60, SYNC_STUCK_AFTER_SECONDS - 300), minimum=1)
if "visibility_timeout" in CELERY_BROKER_TRANSPORT_OPTIONS:
    # Redis redelivers an unacknowledged (acks_late) task after this: it must outlast the longest attempt.
    CELERY_BROKER_TRANSPORT_OPTIONS["visibility_timeout"] = CELERY_TASK_TIME_LIMIT + 600
# Whether any signed-in user may create an organization (otherwise staff only).
ORGANIZATION_SELF_SERVICE = env_bool("DSO_ORGANIZATION_SELF_SERVICE", True)

# CI triggers and webhooks (issue #3). The CI authentication is appended to the API's authenticators so a
# CI principal reaching any other endpoint is refused with 403 instead of being treated as anonymous.
CI_TRIGGERS_ENABLED = env_bool("DSO_CI_TRIGGERS_ENABLED", True)
if CI_TRIGGERS_ENABLED:
    REST_FRAMEWORK["DEFAULT_AUTHENTICATION_CLASSES"].append("console.api.ci_auth.CiAuthentication")
CI_JWKS_CACHE_SECONDS = env_int("DSO_CI_JWKS_CACHE_SECONDS", 300)
CI_JWKS_TIMEOUT_SECONDS = env_float("DSO_CI_JWKS_TIMEOUT_SECONDS", 5.0)
CI_JWT_LEEWAY_SECONDS = env_int("DSO_CI_JWT_LEEWAY_SECONDS", 30)
# GitLab id_tokens live minutes (a job's duration): one valid for longer than this is refused, so a token
# minted with a long expiry and leaked cannot be replayed for months.
CI_JWT_MAX_LIFETIME_SECONDS = env_int("DSO_CI_JWT_MAX_LIFETIME_SECONDS", 2 * 3600, minimum=60)
WEBHOOK_MAX_BODY_BYTES = env_int("DSO_WEBHOOK_MAX_BODY_BYTES", 1024 * 1024, minimum=1)

# A delivery id (X-Gitlab-Event-UUID, X-GitHub-Delivery) seen within this long is answered as a replay.
WEBHOOK_DELIVERY_RETENTION_SECONDS = env_int("DSO_WEBHOOK_DELIVERY_RETENTION_SECONDS", 7 * 24 * 3600, minimum=60)
# User API tokens (`Authorization: Token ...`) expire this many days after they are issued.
API_TOKEN_LIFETIME_DAYS = env_int("DSO_API_TOKEN_LIFETIME_DAYS", 30, minimum=1)
# Personal tokens (portal, POST auth/tokens/) choose their own lifetime, up to this.
API_TOKEN_MAX_LIFETIME_DAYS = env_int("DSO_API_TOKEN_MAX_LIFETIME_DAYS", max(365, API_TOKEN_LIFETIME_DAYS),
                                      minimum=1)
if API_TOKEN_MAX_LIFETIME_DAYS < API_TOKEN_LIFETIME_DAYS:
    raise ImproperlyConfigured("DSO_API_TOKEN_MAX_LIFETIME_DAYS must be at least DSO_API_TOKEN_LIFETIME_DAYS")

# --- OpenID Connect sign-in (issue #11) -------------------------------------------------------------
# On when an issuer (or a discovery URL) is set: the login page leads with the provider, local accounts stay
# for the embedded default and break-glass admins. Authorization code flow with PKCE (S256).
OIDC_ISSUER = (env("DSO_OIDC_ISSUER", "") or "").rstrip("/")
# Defaults to <issuer>/.well-known/openid-configuration.
OIDC_DISCOVERY_URL = env("DSO_OIDC_DISCOVERY_URL", "")
OIDC_CLIENT_ID = env("DSO_OIDC_CLIENT_ID", "")
OIDC_CLIENT_SECRET = env("DSO_OIDC_CLIENT_SECRET", "")
OIDC_SCOPES = env("DSO_OIDC_SCOPES", "openid profile email")
OIDC_GROUPS_CLAIM = env("DSO_OIDC_GROUPS_CLAIM", "groups")
OIDC_USERNAME_CLAIM = env("DSO_OIDC_USERNAME_CLAIM", "preferred_username")
# Groups map to roles through OIDC_ORGANIZATION_GROUP_PATTERN and OIDC_PROJECT_GROUP_PATTERN (above), the
# same patterns that bind the generated Argo CD AppProject roles to groups.
# Members of this group are platform admins (staff) while they are in it; empty: none through groups.
OIDC_ADMIN_GROUP = env("DSO_OIDC_ADMIN_GROUP", "dso/admin")
OIDC_PROVIDER_NAME = env("DSO_OIDC_PROVIDER_NAME", "single sign-on")
OIDC_TIMEOUT_SECONDS = env_float("DSO_OIDC_TIMEOUT_SECONDS", 10.0)
OIDC_LEEWAY_SECONDS = env_int("DSO_OIDC_LEEWAY_SECONDS", 60)
OIDC_METADATA_CACHE_SECONDS = env_int("DSO_OIDC_METADATA_CACHE_SECONDS", 3600)
# A first OIDC sign-in whose username is already a local account takes it over only when this is on;
# otherwise it is refused, so nobody at the provider can become the break-glass `admin`.
OIDC_LINK_EXISTING_USERS = env_bool("DSO_OIDC_LINK_EXISTING_USERS", False)
if OIDC_ISSUER or OIDC_DISCOVERY_URL:
    if not (OIDC_CLIENT_ID and OIDC_CLIENT_SECRET):
        raise ImproperlyConfigured("DSO_OIDC_ISSUER needs DSO_OIDC_CLIENT_ID and DSO_OIDC_CLIENT_SECRET")
    if "openid" not in OIDC_SCOPES.split():
        raise ImproperlyConfigured(f"DSO_OIDC_SCOPES={OIDC_SCOPES!r} must include openid")


def _check_group_patterns() -> None:
    from provisioning.group_patterns import PatternError, compile_pattern

    try:
        compile_pattern(OIDC_ORGANIZATION_GROUP_PATTERN, project=False)
        compile_pattern(OIDC_PROJECT_GROUP_PATTERN, project=True)
    except PatternError as error:
        raise ImproperlyConfigured(f"DSO_OIDC_*_GROUP_PATTERN: {error}") from None


_check_group_patterns()

# --- Operations: probes, metrics, logs, static files (issue 13; console/ops/) ---------------------------
# Kept in one block so other work on this file merges around it.
from console.ops.logs import log_format_from_env, logging_config  # noqa: E402

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
# --- end of operations block ------------------------------------------------------------------------------
