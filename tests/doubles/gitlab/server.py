"""A loopback GitLab: REST v4 on one port, each project's repository over real Git smart HTTP on another.

Two servers, because ``provisioning.githttp.GitHttpServer`` owns its listening socket. Projects report
``http_url_to_repo`` on the git server, so callers follow GitLab's own pointers and never guess URLs.

Pushes are checked the way GitLab checks them: the authorizer decides read/write from the token (deploy
tokens read only), and every bare repository's ``pre-receive`` hook asks the API's ``/internal/allowed``
(as gitlab-shell does) whether each ref update respects the project's protected branches.
"""

from __future__ import annotations

import sys
import threading
from pathlib import Path

from provisioning.githttp import GitAccess, GitHttpServer
from tests.doubles.gitlab.api import ApiServer
from tests.doubles.gitlab.state import DEVELOPER, GitLabState, Project, User

_HOOK = """#!{python}
# pre-receive hook of the GitLab double: classify each ref update, ask the API whether it is allowed.
import json, os, subprocess, sys, urllib.request

ZERO = "0" * 40
changes = []
for line in sys.stdin:
    old, new, ref = line.split()
    if new == ZERO:
        kind = "delete"
    elif old == ZERO:
        kind = "create"
    elif subprocess.run(["git", "merge-base", "--is-ancestor", old, new]).returncode == 0:
        kind = "update"
    else:
        kind = "force"
    changes.append({{"ref": ref, "kind": kind}})
payload = {{
    "repo": os.environ.get("GL_REPOSITORY", ""),
    "username": os.environ.get("GL_USERNAME") or os.environ.get("REMOTE_USER"),
    "changes": changes,
}}
request = urllib.request.Request({api!r} + "/api/v4/internal/allowed", data=json.dumps(payload).encode(),
                                 headers={{"Content-Type": "application/json"}})
with urllib.request.urlopen(request, timeout=60) as response:
    answer = json.load(response)
if not answer["status"]:
    print("GitLab: " + answer["message"], file=sys.stderr)
    sys.exit(1)
"""


class _GitServer(GitHttpServer):
    """Adds GitLab's hook environment (GL_USERNAME, GL_REPOSITORY) for the request being served.

    The handler thread calls the authorizer and then builds the CGI environment, so a thread-local set by
    the authorizer names the token's owner; REMOTE_USER alone would be whatever Basic username was sent.
    """

    def __init__(self, *args, identity: threading.local, **kwargs):
        self._identity = identity
        super().__init__(*args, **kwargs)

    def _base_env(self) -> dict[str, str]:
        env = super()._base_env()
        env["GL_USERNAME"] = getattr(self._identity, "username", "") or ""
        env["GL_REPOSITORY"] = getattr(self._identity, "repository", "") or ""
        return env


class GitLabDouble:
    """Start with ``with GitLabDouble(tmp_path) as gl:``; ``gl.url`` is the instance URL for python-gitlab.

    ``gl.admin``/``gl.admin_token`` can create top-level groups; ``gl.bot``/``gl.bot_token`` is a
    maintainer bot with ``api`` + ``write_repository``. Add more with ``gl.state.add_user``/``add_token``.
    """

    def __init__(self, root: Path, *, host: str = "127.0.0.1"):
        self.state = GitLabState(Path(root) / "repos")
        self._identity = threading.local()
        self.git = _GitServer(self.state.repos_root, self.authorize, host=host, identity=self._identity)
        self.api = ApiServer((host, 0), self.state, self.git.url)
        self._thread: threading.Thread | None = None
        self.state.hook_script = _HOOK.format(python=sys.executable, api=self.url)
        self.state.web_url = self.url
        self.admin = self.state.add_user("root", is_admin=True)
        self.admin_token = self.state.add_token(self.admin, scopes=("api",))
        self.bot = self.state.add_user("dso-console-bot")
        self.bot_token = self.state.add_token(self.bot, scopes=("api", "write_repository"))

    @property
    def url(self) -> str:
        host, port = self.api.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> GitLabDouble:
        self.git.start()
        self._thread = threading.Thread(target=self.api.serve_forever, name="gitlab-api", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self.api.shutdown()
        self.api.server_close()
        if self._thread is not None:
            self._thread.join()
        self.git.stop()

    def __enter__(self) -> GitLabDouble:
        return self.start()

    def __exit__(self, *exc_info) -> None:
        self.stop()

    # --- git access, as GitLab grants it -----------------------------------------------------------------

    def authorize(self, repo_path: str, username: str | None, password: str | None) -> GitAccess:
        self._identity.username = None
        self._identity.repository = repo_path.removesuffix(".git")
        project = self.state.project_by_repo(repo_path)
        if project is None or not password:
            return GitAccess.NONE
        deploy = self.state.deploy_access(project, username, password)
        if deploy is not None:
            return GitAccess.READ if "read_repository" in deploy.scopes else GitAccess.NONE
        token = self.state.tokens.get(password)
        if token is None:
            return GitAccess.NONE
        user = self.state.users[token.user_id]
        named = self.state.user_by_name(username)
        if named is not None and named.id != user.id:
            # Another user's name with this token: GitLab answers "HTTP Basic: Access denied".
            return GitAccess.NONE
        self._identity.username = user.username
        scopes = set(token.scopes)
        if scopes & {"api", "write_repository"} and user.access_level >= DEVELOPER and not project.archived:
            return GitAccess.WRITE
        if scopes & {"api", "read_api", "read_repository", "write_repository"}:
            return GitAccess.READ
        return GitAccess.NONE

    # --- helpers for tests -------------------------------------------------------------------------------

    def project(self, full_path: str) -> Project:
        return self.state.project(full_path)

    def repo_dir(self, full_path: str) -> Path:
        """Bare repository of a project, to inspect what pushes landed."""
        return self.state.repo_dir(full_path)

    def clone_url(self, full_path: str) -> str:
        return f"{self.git.url}/{full_path}.git"

    def add_user(self, username: str, *, access_level: int = 40, scopes: tuple[str, ...] = ("api",)
                 ) -> tuple[User, str]:
        user = self.state.add_user(username, access_level=access_level)
        return user, self.state.add_token(user, scopes=scopes)
