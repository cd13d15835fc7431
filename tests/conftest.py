"""Fixtures every console test may use: isolated data folders, a real local forge served over HTTP on
loopback, external repositories to register, and small factories."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.doubles.kube.fixtures import kube_double  # noqa: F401 - the Kubernetes API double, for every test
from tests.doubles.oidc.fixtures import (  # noqa: F401 - shared fixtures
    oidc_live_provider,
    oidc_provider,
    oidc_provider_process,
)
from tests.support import loopback_only
from tests.support.gitrepos import WorkRepo, init_bare, serve

loopback_only.install()


@pytest.fixture(autouse=True)
def isolated_data(settings, tmp_path: Path):
    """Every test gets its own forge, mirror cache and delivery folder; http to loopback is allowed."""
    settings.DATA_DIR = tmp_path / "var"
    settings.LOCAL_FORGE_ROOT = tmp_path / "var" / "forge"
    settings.MIRROR_CACHE_DIR = tmp_path / "var" / "mirror-cache"
    settings.DELIVERY_WORK_DIR = tmp_path / "var" / "delivery"
    settings.ALLOW_HTTP_LOOPBACK = True
    settings.LOCAL_FORGE_WRITE_TOKEN = "forge-write-" + secrets.token_hex(8)
    settings.LOCAL_FORGE_READ_TOKEN = "forge-read-" + secrets.token_hex(8)
    settings.FORGE_KIND = "local"
    settings.PUBLIC_URL = "http://testserver"
    # Hashing a password properly takes ~0.3 s of CPU; tests make hundreds of users and prove nothing by it.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    from django.core.cache import cache

    cache.clear()  # login throttling counts live here


@pytest.fixture
def forge_server(settings) -> Iterator:
    """The local forge, served over real Git smart HTTP exactly as `manage.py forge_serve` does."""
    from console.integrations import get_forge
    from provisioning.githttp import GitHttpServer

    settings.LOCAL_FORGE_ROOT.mkdir(parents=True, exist_ok=True)
    forge = get_forge()
    with GitHttpServer(settings.LOCAL_FORGE_ROOT, forge.authorize, url_prefix="/git") as server:
        settings.LOCAL_FORGE_URL = server.url
        yield server


class ExternalForge:
    """External repositories a product team owns, served on loopback; one token reads and writes all."""

    def __init__(self, root: Path, server, token: str):
        self.root = root
        self.server = server
        self.token = token

    def create(self, name: str, files: dict[str, str] | None = None, *, work_root: Path | None = None) -> WorkRepo:
        bare = init_bare(self.root / f"{name}.git")
        work = WorkRepo.create((work_root or self.root.parent / "work") / name)
        work.commit("initial commit", files or {"README.md": f"# {name}\n"})
        work.publish(bare)
        work.bare = bare  # type: ignore[attr-defined]
        return work

    def url(self, name: str) -> str:
        return f"{self.server.url}/{name}.git"


@pytest.fixture
def external_forge(tmp_path: Path) -> Iterator[ExternalForge]:
    """Public read, token write (plus `private_external_forge` for token-only reads)."""
    token = "ext-" + secrets.token_hex(12)
    root = tmp_path / "external"
    root.mkdir()
    with serve(root, write_token=token, public=True) as server:
        yield ExternalForge(root, server, token)


@pytest.fixture
def private_external_forge(tmp_path: Path) -> Iterator[ExternalForge]:
    token = "ext-private-" + secrets.token_hex(12)
    root = tmp_path / "external-private"
    root.mkdir()
    with serve(root, write_token=token, public=False) as server:
        yield ExternalForge(root, server, token)


def _loopback_registry(tmp_path: Path, *, token_auth: bool):
    from tests.doubles.registry import REGISTRY_BINARY, LoopbackRegistry

    if not Path(REGISTRY_BINARY).exists():
        pytest.skip("docker-registry is not installed (apt-get install -y docker-registry; .ci/run does it)")
    return LoopbackRegistry(tmp_path / ("registry-token" if token_auth else "registry"), token_auth=token_auth).start()


@pytest.fixture
def oci_registry(tmp_path: Path) -> Iterator:
    """A real OCI registry (distribution 2.8) on loopback, no authentication."""
    registry = _loopback_registry(tmp_path, token_auth=False)
    yield registry
    registry.stop()


@pytest.fixture
def oci_registry_token(tmp_path: Path) -> Iterator:
    """The same registry behind token auth: 401 with a Bearer challenge, tokens from a loopback token server
    for the users in ``registry.issuer.users``."""
    registry = _loopback_registry(tmp_path, token_auth=True)
    yield registry
    registry.stop()
