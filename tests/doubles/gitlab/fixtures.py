"""pytest fixtures for the GitLab double; import them into a test module or conftest to use them."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.doubles.gitlab.server import GitLabDouble


@pytest.fixture
def gitlab_double(tmp_path: Path) -> Iterator[GitLabDouble]:
    """A started double with an admin (``admin_token``) and a maintainer bot (``bot_token``)."""
    with GitLabDouble(tmp_path / "gitlab") as double:
        yield double
