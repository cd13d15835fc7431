"""A web worker loads its routes and views when it boots, not on its first request (bench/burst.py measured
1.3–2.3 s for that first request under load)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_importing_the_wsgi_application_loads_the_url_routes_and_views():
    probe = (
        "import sys, json, console.wsgi;"
        "print(json.dumps({m: m in sys.modules for m in ("
        "'console.urls', 'console.api.views', 'console.portal.views.projects', 'console.portal.views.dashboard')}))"
    )
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "console.settings"}
    env.pop("DATABASE_URL", None)  # booting needs no database: the embedded SQLite default is never opened
    result = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, env=env, capture_output=True, text=True,
                            timeout=120)

    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout.strip().splitlines()[-1]) == {
        "console.urls": True, "console.api.views": True, "console.portal.views.projects": True,
        "console.portal.views.dashboard": True,
    }
