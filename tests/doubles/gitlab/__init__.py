"""A GitLab double: REST v4 plus real Git smart HTTP, on loopback. See ``server.GitLabDouble``."""

from tests.doubles.gitlab.server import GitLabDouble
from tests.doubles.gitlab.state import DEVELOPER, MAINTAINER, OWNER, GitLabState

__all__ = ["DEVELOPER", "MAINTAINER", "OWNER", "GitLabDouble", "GitLabState"]
