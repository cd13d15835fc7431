"""Production mode fails fast on a missing required value; development runs on embedded defaults."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from cryptography.fernet import Fernet

ROOT = Path(__file__).resolve().parents[2]
PRODUCTION = {
    "DSO_ENV": "production",
    "DSO_SECRET_KEY": "s" * 50,
    "DSO_ENCRYPTION_KEYS": Fernet.generate_key().decode(),
    "DSO_ALLOWED_HOSTS": "console.example.com",
    "DSO_PUBLIC_URL": "https://console.example.com",
    "DSO_LOCAL_FORGE_WRITE_TOKEN": "w" * 20,
    "DSO_LOCAL_FORGE_READ_TOKEN": "r" * 20,
    "DATABASE_URL": "postgres://dso@db.example.com:5432/dso",
    "CELERY_BROKER_URL": "redis://redis.example.com:6379/0",
}


def load_settings(extra: dict[str, str], drop: str | None = None, show: str = "") -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("DSO_") and k not in {"DATABASE_URL", "CELERY_BROKER_URL"}}
    env.update(extra)
    env.pop(drop or "", None)
    code = "import django, os; os.environ.setdefault('DJANGO_SETTINGS_MODULE', 'console.settings'); django.setup()"
    if show:
        code += f"; from django.conf import settings; print(repr(settings.{show}))"
    return subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)


def test_production_starts_with_every_required_value(tmp_path):
    assert load_settings({**PRODUCTION, "DSO_DATA_DIR": str(tmp_path)}).returncode == 0


def test_production_names_the_missing_value(tmp_path):
    for missing in ("DSO_SECRET_KEY", "DSO_ENCRYPTION_KEYS", "DSO_PUBLIC_URL", "DSO_LOCAL_FORGE_WRITE_TOKEN",
                    "DATABASE_URL", "CELERY_BROKER_URL"):
        result = load_settings({**PRODUCTION, "DSO_DATA_DIR": str(tmp_path)}, drop=missing)
        assert result.returncode != 0
        assert f"{missing} must be set" in result.stderr


def test_gitlab_forge_needs_its_url_and_token(tmp_path):
    result = load_settings({"DSO_FORGE": "gitlab", "DSO_DATA_DIR": str(tmp_path)})
    assert result.returncode != 0
    assert "DSO_GITLAB_URL and DSO_GITLAB_TOKEN" in result.stderr


def test_production_refuses_the_example_and_the_development_secret_keys(tmp_path):
    for key in ("change-me", "dev-only-insecure-secret-key-change-me", "short-but-not-example"):
        result = load_settings({**PRODUCTION, "DSO_DATA_DIR": str(tmp_path), "DSO_SECRET_KEY": key})
        assert result.returncode != 0, key
        assert "DSO_SECRET_KEY is the example value or shorter than 32 characters" in result.stderr


def test_production_needs_a_real_database_and_broker(tmp_path):
    """Without them it used to start on SQLite and the filesystem broker, each process with its own queue."""
    for missing in ("DATABASE_URL", "CELERY_BROKER_URL"):
        result = load_settings({**PRODUCTION, "DSO_DATA_DIR": str(tmp_path)}, drop=missing)
        assert result.returncode != 0
        assert f"ImproperlyConfigured: {missing} must be set when DSO_ENV=production" in result.stderr


def test_booleans_and_numbers_are_parsed_strictly_in_every_mode(tmp_path):
    cases = [
        ({"DSO_SECURE_COOKIES": "ture"}, "DSO_SECURE_COOKIES='ture' is not a boolean"),
        ({"DSO_DEBUG": "maybe"}, "DSO_DEBUG='maybe' is not a boolean"),
        ({"DSO_HSTS_SECONDS": "1y"}, "DSO_HSTS_SECONDS='1y' is not a whole number"),
        ({"DSO_TRUSTED_PROXIES": "-1"}, "DSO_TRUSTED_PROXIES='-1' must be at least 0"),
        ({"DSO_MIRROR_TIMEOUT_SECONDS": "ten"}, "DSO_MIRROR_TIMEOUT_SECONDS='ten' is not a number"),
        ({"DSO_LOGIN_FAILURE_RATE": "10 per minute"}, "DSO_LOGIN_FAILURE_RATE='10 per minute' is not a rate"),
        ({"DSO_ENV": "prod"}, "DSO_ENV='prod' is unknown"),
    ]
    development, production = {"DSO_DATA_DIR": str(tmp_path)}, {**PRODUCTION, "DSO_DATA_DIR": str(tmp_path)}
    for base, extra, message in [(development, *case) for case in cases] + [(production, *cases[0])]:
        result = load_settings({**base, **extra})
        assert result.returncode != 0, extra
        assert message in result.stderr, (extra, result.stderr[-500:])
    accepted = load_settings({**PRODUCTION, "DSO_DATA_DIR": str(tmp_path), "DSO_SECURE_COOKIES": " FALSE "},
                             show="SESSION_COOKIE_SECURE")
    assert accepted.stdout.strip() == "False", accepted.stderr


def test_production_sends_hsts_for_a_year_unless_told_otherwise(tmp_path):
    base = {**PRODUCTION, "DSO_DATA_DIR": str(tmp_path)}
    assert load_settings(base, show="SECURE_HSTS_SECONDS").stdout.strip() == str(365 * 24 * 3600)
    assert load_settings({**base, "DSO_HSTS_SECONDS": "600"}, show="SECURE_HSTS_SECONDS").stdout.strip() == "600"
    assert load_settings({"DSO_DATA_DIR": str(tmp_path)}, show="SECURE_HSTS_SECONDS").stdout.strip() == "0"


def test_trusted_proxies_also_configure_drf(tmp_path):
    """DRF's throttles read X-Forwarded-For when NUM_PROXIES is None: it must follow DSO_TRUSTED_PROXIES."""
    base = {"DSO_DATA_DIR": str(tmp_path)}
    show = "REST_FRAMEWORK['NUM_PROXIES']"
    assert load_settings(base, show=show).stdout.strip() == "0"
    assert load_settings({**base, "DSO_TRUSTED_PROXIES": "2"}, show=show).stdout.strip() == "2"


def test_tenant_baseline_settings_are_read_and_checked_at_start(tmp_path):
    loaded = load_settings({"DSO_DATA_DIR": str(tmp_path), "DSO_QUOTA_DEFAULT_MEMORY": "1.5Gi",
                            "DSO_NETWORK_EGRESS_CIDRS": "10.20.0.0/16, 2001:db8::/32"},
                           show="QUOTA_DEFAULTS['memory'] + ' ' + ','.join(settings.NETWORK_EGRESS_CIDRS)")  # fmt: skip
    assert loaded.returncode == 0, loaded.stderr
    assert loaded.stdout.strip() == "'1536Mi 10.20.0.0/16,2001:db8::/32'"
    for name, value, words in (
        ("DSO_QUOTA_DEFAULT_CPU", "lots", "not a Kubernetes quantity"),
        ("DSO_QUOTA_LIMIT_MEMORY", "0", "greater than zero"),
        ("DSO_NETWORK_EGRESS_CIDRS", "10.0.0.1/8", "host bits set"),
        ("DSO_NETWORK_INGRESS_NAMESPACES", "Ingress_Nginx", "DNS-1123"),
        ("DSO_OIDC_PROJECT_GROUP_PATTERN", "dso/{org}/{role}", "may only use"),
        ("DSO_OIDC_ORGANIZATION_GROUP_PATTERN", "dso,{organization}", "commas"),
    ):
        result = load_settings({"DSO_DATA_DIR": str(tmp_path), name: value})
        assert result.returncode != 0, name
        assert words in result.stderr, (name, result.stderr[-500:])


def test_the_ledger_has_the_read_back_provider_by_default_and_the_env_var_adds_more(tmp_path):
    read_back = "console.services.deployment_ledger.deployment_ledger_steps"
    default = load_settings({"DSO_DATA_DIR": str(tmp_path)}, show="IMAGE_LEDGER_DEPLOYMENT_PROVIDERS")
    assert default.returncode == 0, default.stderr
    assert default.stdout.strip() == repr([read_back])
    more = load_settings({"DSO_DATA_DIR": str(tmp_path),
                          "DSO_IMAGE_LEDGER_DEPLOYMENT_PROVIDERS": f"{read_back}, example.provider"},
                         show="IMAGE_LEDGER_DEPLOYMENT_PROVIDERS")
    assert more.stdout.strip() == repr([read_back, "example.provider"])
