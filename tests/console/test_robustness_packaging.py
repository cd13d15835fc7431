"""The built wheel is a working console: templates and static files ship inside it.

Builds the wheel from a copy of the source (as `pip wheel` would for a release), installs it into a fresh
virtualenv whose only other packages are the dependencies (this venv's site-packages, added by path, so no
editable install leaks in), and renders pages from a folder outside the source tree.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
LOCAL_STATE = {".venv", "var", "build", "dist"}

CHECK = r"""
import json, sys
import console, django
from pathlib import Path
django.setup()
from django.conf import settings
from django.contrib.staticfiles import finders
from django.core.management import call_command
from django.test import Client
from django.test.utils import setup_test_environment
call_command("check", fail_level="ERROR")
call_command("migrate", verbosity=0)
setup_test_environment()
login = Client().get("/accounts/login/")
css = finders.find("console/portal.css")
print(json.dumps({
    "console": console.__file__,
    "status": login.status_code,
    "has_form": b'name="password"' in login.content,
    "stylesheet": b"console/portal.css" in login.content,
    "css": css,
}))
"""


def run(*args, cwd: Path, env: dict | None = None, timeout: float = 240) -> subprocess.CompletedProcess:
    proc = subprocess.run(list(args), cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    assert proc.returncode == 0, f"{args[:4]} failed ({proc.returncode}):\n{proc.stdout[-2000:]}\n{proc.stderr[-3000:]}"
    return proc


def copy_source(target: Path) -> None:
    """The files git knows (committed or not yet), symlinks kept as links: what a release build sees."""
    if not (ROOT / ".git").exists():  # an unpacked source archive: everything but local state
        shutil.copytree(ROOT, target, symlinks=True, ignore=shutil.ignore_patterns(
            *LOCAL_STATE, "*.egg-info", "__pycache__", ".pytest_cache"))
        return
    listed = run("git", "ls-files", "-z", "--cached", "--others", "--exclude-standard", cwd=ROOT).stdout
    for name in filter(None, listed.split("\0")):
        if name.split("/")[0] in LOCAL_STATE:
            continue  # e.g. a `.venv` symlink, which the `.venv/` ignore pattern does not match
        source = ROOT / name
        if not source.exists() and not source.is_symlink():
            continue  # deleted in the work tree
        destination = target / name
        destination.parent.mkdir(parents=True, exist_ok=True)
        if source.is_symlink():
            destination.symlink_to(os.readlink(source))
        elif source.is_file():
            shutil.copy2(source, destination)


def test_the_installed_wheel_renders_pages_outside_the_source_tree(tmp_path):
    source, dist, venv, elsewhere = (tmp_path / name for name in ("src", "dist", "venv", "elsewhere"))
    copy_source(source)
    run(sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "-w", str(dist), str(source), cwd=tmp_path)
    wheel = next(dist.glob("dso_console-*.whl"))

    run(sys.executable, "-m", "venv", "--without-pip", str(venv), cwd=tmp_path)
    python = venv / "bin" / "python"
    run(sys.executable, "-m", "pip", "--python", str(python), "install", "--no-deps", "--no-index", "--quiet",
        str(wheel), cwd=tmp_path)
    installed = Path(run(str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])",
                         cwd=tmp_path).stdout.strip())
    # The dependencies, by path only: the .pth files there (this checkout's editable install) stay inert.
    (installed / "dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")

    elsewhere.mkdir()
    env = {key: value for key, value in os.environ.items()
           if not key.startswith(("DSO_", "PYTHON", "DJANGO")) and key not in ("DATABASE_URL", "CELERY_BROKER_URL")}
    env.update(DJANGO_SETTINGS_MODULE="console.settings", DSO_DATA_DIR=str(tmp_path / "data"))
    report = json.loads(run(str(python), "-c", CHECK, cwd=elsewhere, env=env).stdout.strip().splitlines()[-1])

    assert Path(report["console"]).is_relative_to(installed), report
    assert report["status"] == 200 and report["has_form"] and report["stylesheet"], report
    assert report["css"] and Path(report["css"]).is_relative_to(installed), report
