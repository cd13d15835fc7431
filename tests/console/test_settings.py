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
}


def load_settings(extra: dict[str, str], drop: str | None = None) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DSO_")}
    env.update(extra)
    env.pop(drop or "", None)
    code = "import django, os; os.environ.setdefault('DJANGO_SETTINGS_MODULE', 'console.settings'); django.setup()"
    return subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)


def test_production_starts_with_every_required_value(tmp_path):
    assert load_settings({**PRODUCTION, "DSO_DATA_DIR": str(tmp_path)}).returncode == 0


def test_production_names_the_missing_value(tmp_path):
    for missing in ("DSO_SECRET_KEY", "DSO_ENCRYPTION_KEYS", "DSO_PUBLIC_URL", "DSO_LOCAL_FORGE_WRITE_TOKEN"):
        result = load_settings({**PRODUCTION, "DSO_DATA_DIR": str(tmp_path)}, drop=missing)
        assert result.returncode != 0
        assert f"{missing} must be set" in result.stderr


def test_gitlab_forge_needs_its_url_and_token(tmp_path):
    result = load_settings({"DSO_FORGE": "gitlab", "DSO_DATA_DIR": str(tmp_path)})
    assert result.returncode != 0
    assert "DSO_GITLAB_URL and DSO_GITLAB_TOKEN" in result.stderr
