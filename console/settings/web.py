"""Django itself, the HTTP side's security and throttling, and the REST API."""

from __future__ import annotations

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

from console.settings.environment import (
    BASE_DIR, DATA_DIR, PRODUCTION, env, env_bool, env_int, env_list, env_rate, required,
)

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

# --- REST API -----------------------------------------------------------------------------------------------
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
