"""Fixtures for the provisioning adapters: real git repositories served over real smart HTTP on loopback."""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from pathlib import Path

import pytest

from provisioning.githttp import GitHttpServer
from tests.support.gitrepos import WorkRepo, serve


@pytest.fixture
def token() -> str:
    # Random per test, so a leak check cannot pass by accident on a fixed string stored elsewhere.
    return "tok-" + secrets.token_hex(16)


@pytest.fixture
def git_serve() -> Iterator[Callable[..., GitHttpServer]]:
    """Factory: ``git_serve(root, write_token=..., read_token=..., public=...)`` -> a started server."""
    with ExitStack() as stack:
        yield lambda root, **kwargs: stack.enter_context(serve(root, **kwargs))


@pytest.fixture
def work_repo(tmp_path: Path) -> WorkRepo:
    return WorkRepo.create(tmp_path / "work")
