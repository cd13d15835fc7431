"""CI trigger fixtures: a GitLab-like JWKS endpoint on loopback, RSA keys, id_token minting, API clients."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from rest_framework.test import APIClient

from console.models import Role, TrustedGitLabInstance
from console.services.ci_identity import jwks_cache_clear
from tests.factories import make_member, make_project, make_repository, make_user
from tests.support.enqueue import stand_in

ISSUER = "https://gitlab.example.test"
OTHER_ISSUER = "https://gitlab.other.test"
AUDIENCE = "https://console.example.test"


@pytest.fixture(scope="session")
def signing_key():
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture(scope="session")
def other_key():
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


class JwksServer:
    """Serves {"keys": [...]} like GitLab's /oauth/discovery/keys and counts the fetches; `status` other than
    200 plays an instance that is down, `delay` a slow one."""

    def __init__(self):
        self.keys: dict[str, object] = {}
        self.fetches = 0
        self.status = 200
        self.delay = 0.0
        self._count_lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                with server._count_lock:
                    server.fetches += 1
                if server.delay:
                    time.sleep(server.delay)
                if server.status != 200:
                    self.send_response(server.status)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                body = json.dumps({"keys": [
                    {**json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(key.public_key())), "kid": kid,
                     "use": "sig", "alg": "RS256"}
                    for kid, key in server.keys.items()
                ]}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/oauth/discovery/keys"
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def jwks(signing_key) -> Iterator[JwksServer]:
    jwks_cache_clear()
    with JwksServer() as server:
        server.keys["key-1"] = signing_key
        yield server
    jwks_cache_clear()


@pytest.fixture
def gitlab_instance(db, jwks) -> TrustedGitLabInstance:
    return TrustedGitLabInstance.objects.create(name="gitlab", issuer=ISSUER, jwks_url=jwks.url, audience=AUDIENCE)


@pytest.fixture
def mint(signing_key):
    """An id_token like GitLab's; keyword arguments override or (with None) remove claims."""

    def make(*, key=None, kid="key-1", algorithm="RS256", headers=None, **overrides) -> str:
        now = int(time.time())
        claims = {
            "iss": ISSUER, "aud": AUDIENCE, "iat": now, "nbf": now - 1, "exp": now + 300,
            "sub": "project_path:acme/shop-backend:ref_type:branch:ref:main",
            "namespace_path": "acme", "project_id": "42", "project_path": "acme/shop-backend",
            "user_login": "alice", "pipeline_id": "1001", "pipeline_source": "push", "job_id": "5005",
            "ref": "main", "ref_type": "branch", "ref_path": "refs/heads/main", "ref_protected": "true",
            "sha": "0123456789abcdef0123456789abcdef01234567", "jti": "jti-1",
        }
        for name, value in overrides.items():
            if value is None:
                claims.pop(name, None)
            else:
                claims[name] = value
        return jwt.encode(claims, key if key is not None else signing_key, algorithm=algorithm,
                          headers={"kid": kid, **(headers or {})})

    return make


@pytest.fixture
def enqueued(monkeypatch) -> list[int]:
    calls: list[int] = []
    stand_in(monkeypatch, "sync", calls.append)
    stand_in(monkeypatch, "provisioning", lambda run_id: None)
    return calls


@pytest.fixture
def maintainer(db):
    return make_user("maya")


@pytest.fixture
def repo_a(maintainer):
    project = make_project()
    make_member(maintainer, project, Role.MAINTAINER)
    return make_repository(project, "repo-a", ci_allowed_project_paths=["acme/shop-backend"])


@pytest.fixture
def repo_b(maintainer):
    project = make_project()
    make_member(maintainer, project, Role.MAINTAINER)
    return make_repository(project, "repo-b")


@pytest.fixture
def api_for():
    def client(user=None, bearer: str | None = None) -> APIClient:
        api = APIClient()
        if user is not None:
            api.force_authenticate(user)
        if bearer is not None:
            api.credentials(HTTP_AUTHORIZATION=f"Bearer {bearer}")
        return api

    return client


@pytest.fixture
def executed(monkeypatch):
    """Run what services enqueue in this process, the way the worker would (as in test_flow)."""
    from console.services.provisioning import provisioning_execute
    from console.services.syncs import sync_execute

    stand_in(monkeypatch, "sync", lambda run_id: sync_execute(run_id=run_id, task_id=f"sync-{run_id}"))
    stand_in(monkeypatch, "provisioning",
                        lambda run_id: provisioning_execute(run_id=run_id, task_id=f"prov-{run_id}"))


@pytest.fixture
def mirrored(forge_server, external_forge, executed, django_capture_on_commit_callbacks):
    """An external repository `app` registered in acme/shop and mirrored once, through the services."""
    from console.services.actors import Actor
    from console.services.organizations import organization_create
    from console.services.projects import project_create
    from console.services.repositories import repository_register

    actor = Actor.for_user(make_user("olga"), "portal")
    organization = organization_create(actor=actor, slug="acme", name="ACME")
    with django_capture_on_commit_callbacks(execute=True):
        project, _ = project_create(actor=actor, organization=organization, slug="shop", name="Shop")
    work = external_forge.create("app")
    with django_capture_on_commit_callbacks(execute=True):
        repository = repository_register(actor=actor, project=project, name="app", external_url=external_forge.url("app"))
    return repository, work, actor
