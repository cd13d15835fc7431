"""The demo: external repositories served on loopback, and a seeded user, organization and project.

The three "external" repositories stand in for a product team's forge: an application repository, a Helm
infra repository (private: it needs a token) and a Kustomize infra repository.
"""

from __future__ import annotations

import os
import subprocess
import tempfile
from pathlib import Path

from django.conf import settings

from provisioning.githttp import GitAccess

DEMO_USERNAME = "demo"
DEMO_PASSWORD = "demo-password"
ADMIN_USERNAME = "admin"
ADMIN_PASSWORD = "admin-password"
DEMO_EXTERNAL_TOKEN = "demo-external-token"
DEMO_EXTERNAL_PORT = int(os.environ.get("DSO_DEMO_EXTERNAL_PORT", "8002"))
PRIVATE_REPOSITORIES = {"shop-deploy-helm.git"}

APP_FILES = {
    "README.md": "# shop backend\n\nThe demo application repository.\n",
    "Dockerfile": "FROM python:3.12-slim\nCOPY app.py /app.py\nCMD [\"python\", \"/app.py\"]\n",
    "app.py": "print('hello from the shop backend')\n",
    ".gitlab-ci.yml": "build:\n  script:\n    - docker build -t registry.example.com/acme/shop-backend:$CI_COMMIT_SHORT_SHA .\n",
}
HELM_FILES = {
    "chart/Chart.yaml": "apiVersion: v2\nname: shop\nversion: 0.1.0\nappVersion: \"1.4.0\"\n",
    "chart/values.yaml": (
        "# Values for the shop chart\nreplicaCount: 2\n\nimage:\n  repository: registry.example.com/acme/shop-backend\n"
        "  tag: \"1.4.0\"  # bumped by CI\n  pullPolicy: IfNotPresent\n"
    ),
    "chart/values-prod.yaml": "replicaCount: 3\n",
    "chart/templates/deployment.yaml": (
        "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: shop\nspec:\n  replicas: {{ .Values.replicaCount }}\n"
        "  selector:\n    matchLabels: {app: shop}\n  template:\n    metadata:\n      labels: {app: shop}\n"
        "    spec:\n      containers:\n        - name: shop\n"
        "          image: \"{{ .Values.image.repository }}:{{ .Values.image.tag }}\"\n"
    ),
}
KUSTOMIZE_FILES = {
    "base/kustomization.yaml": "resources:\n  - deployment.yaml\n",
    "base/deployment.yaml": (
        "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: shop-worker\nspec:\n  selector:\n"
        "    matchLabels: {app: shop-worker}\n  template:\n    metadata:\n      labels: {app: shop-worker}\n"
        "    spec:\n      containers:\n        - name: worker\n          image: registry.example.com/acme/shop-worker:1.0.0\n"
    ),
    "overlays/prod/kustomization.yaml": (
        "resources:\n  - ../../base\nimages:\n  - name: registry.example.com/acme/shop-worker\n    newTag: \"1.2.0\"\n"
    ),
}
DEMO_REPOSITORIES = {
    "shop-backend.git": APP_FILES,
    "shop-deploy-helm.git": HELM_FILES,
    "shop-deploy-kustomize.git": KUSTOMIZE_FILES,
}


def external_root() -> Path:
    return settings.DATA_DIR / "demo-external"


def external_url(name: str) -> str:
    return f"http://127.0.0.1:{DEMO_EXTERNAL_PORT}/{name}"


def authorize_external(repo_path: str, username: str | None, password: str | None) -> GitAccess:
    """Public repositories are readable by anyone; the private one needs the demo token. Nobody pushes
    except with the token (so the console's image tag bumps can write back)."""
    has_token = password == DEMO_EXTERNAL_TOKEN
    if has_token:
        return GitAccess.WRITE
    return GitAccess.NONE if repo_path in PRIVATE_REPOSITORIES else GitAccess.READ


def create_external_repositories() -> list[Path]:
    """Create the demo's external bare repositories once, each with a short history."""
    created = []
    for name, files in DEMO_REPOSITORIES.items():
        bare = external_root() / name
        if bare.exists():
            continue
        bare.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory() as work:
            _commit_files(Path(work), files)
            subprocess.run(["git", "clone", "--bare", "--quiet", work, str(bare)], check=True, env=_env())
        created.append(bare)
    return created


def _commit_files(work: Path, files: dict[str, str]) -> None:
    subprocess.run(["git", "init", "--quiet", "--initial-branch=main", str(work)], check=True, env=_env())
    for relative, content in files.items():
        target = work / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(content)
    subprocess.run(["git", "add", "-A"], cwd=work, check=True, env=_env())
    subprocess.run(["git", "commit", "--quiet", "-m", "Initial import"], cwd=work, check=True, env=_env())
    subprocess.run(["git", "tag", "v1.0.0"], cwd=work, check=True, env=_env())


def _env() -> dict[str, str]:
    return {
        **os.environ,
        "GIT_AUTHOR_NAME": "Demo Team", "GIT_AUTHOR_EMAIL": "team@example.com",
        "GIT_COMMITTER_NAME": "Demo Team", "GIT_COMMITTER_EMAIL": "team@example.com",
        "GIT_CONFIG_GLOBAL": os.devnull, "GIT_CONFIG_NOSYSTEM": "1",
    }
