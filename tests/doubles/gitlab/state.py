"""In-memory GitLab: users, tokens, groups, projects and their rules, plus one bare repository per project.

The HTTP layer (``api.py``) only parses requests and shapes JSON; every rule GitLab enforces that the
adapter depends on (path uniqueness, roles, scopes, protected branches) lives here so it is enforced the
same way for REST calls and for git pushes.
"""

from __future__ import annotations

import re
import secrets
import subprocess
import threading
from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from pathlib import Path

# GitLab's access levels (Gitlab::Access).
NO_ACCESS, DEVELOPER, MAINTAINER, OWNER, ADMIN = 0, 30, 40, 50, 60
LEVEL_NAMES = {NO_ACCESS: "No one", DEVELOPER: "Developers + Maintainers", MAINTAINER: "Maintainers",
               OWNER: "Owners", ADMIN: "Admins"}


class ApiError(Exception):
    """An HTTP error with GitLab's body shape; ``body`` is sent as JSON."""

    def __init__(self, status: int, body: dict):
        super().__init__(status, body)
        self.status = status
        self.body = body


def not_found(what: str) -> ApiError:
    return ApiError(404, {"message": f"404 {what} Not Found"})


FORBIDDEN = ApiError(403, {"message": "403 Forbidden"})


@dataclass
class User:
    id: int
    username: str
    access_level: int  # one role on every group and project: enough for the adapter's rules
    is_admin: bool = False


@dataclass
class Token:
    value: str
    user_id: int
    scopes: tuple[str, ...]


@dataclass
class Group:
    id: int
    name: str
    path: str
    full_path: str
    parent_id: int | None
    description: str = ""
    visibility: str = "private"


@dataclass
class Project:
    id: int
    name: str
    path: str
    namespace_id: int
    full_path: str
    description: str = ""
    topics: list[str] = field(default_factory=list)
    visibility: str = "private"
    archived: bool = False


@dataclass
class DeployToken:
    id: int
    name: str
    username: str
    scopes: list[str]
    token: str
    project_id: int | None
    group_id: int | None
    revoked: bool = False


@dataclass
class ProtectedBranch:
    id: int
    project_id: int
    name: str
    push_access_levels: list[dict]
    merge_access_levels: list[dict]
    allow_force_push: bool


@dataclass
class LoggedRequest:
    method: str
    path: str  # decoded path below /api/v4, e.g. "/groups/dso/acme"
    body: dict
    status: int = 0
    fault: Fault | None = None  # the injected failure that answered it
    done: int | None = None  # with an ``after`` fault: the status of the work done before the answer was lost


@dataclass
class Fault:
    """One injected failure. ``status`` answers instead of the real response; ``delay`` sleeps first (longer
    than the client's timeout, it is a timeout). ``after``: the request is carried out first and only its
    answer is lost or replaced, as when GitLab did the work and the response never arrived (or a racing
    worker did it, for a 409)."""

    method: str
    pattern: re.Pattern
    status: int | None
    delay: float
    times: int
    after: bool = False
    hits: int = 0


class Faults:
    """The double's explicit fault-injection hook: ``state.faults.add("POST", r"^/groups$", status=500)``."""

    def __init__(self, lock: threading.RLock):
        self._lock = lock
        self._faults: list[Fault] = []

    def add(self, method: str, path_regex: str, status: int | None = None, *, delay: float = 0.0,
            times: int = 1, after: bool = False) -> Fault:
        if status is None and not delay:
            raise ValueError("a fault needs a status or a delay")
        fault = Fault(method.upper(), re.compile(path_regex), status, delay, times, after)
        with self._lock:
            self._faults.append(fault)
        return fault

    def take(self, method: str, path: str) -> Fault | None:
        """The first armed fault matching this request, disarmed by one use."""
        with self._lock:
            for fault in self._faults:
                if fault.times > 0 and fault.method in (method, "*") and fault.pattern.search(path):
                    fault.times -= 1
                    fault.hits += 1
                    return fault
        return None

    def clear(self) -> None:
        with self._lock:
            self._faults.clear()

    def __len__(self) -> int:
        with self._lock:
            return len(self._faults)


class GitLabState:
    """All objects of the double. Thread-safe: the HTTP servers call it from many threads."""

    def __init__(self, repos_root: Path):
        self.repos_root = Path(repos_root)
        self.repos_root.mkdir(parents=True, exist_ok=True)
        self.lock = threading.RLock()
        self.users: dict[int, User] = {}
        self.tokens: dict[str, Token] = {}
        self.groups: dict[int, Group] = {}
        self.projects: dict[int, Project] = {}
        self.deploy_tokens: dict[int, DeployToken] = {}
        self.protected: dict[int, ProtectedBranch] = {}
        self.requests: list[LoggedRequest] = []
        self.faults = Faults(self.lock)
        self.hook_script: str | None = None  # set by the server once it knows its API URL
        self.merge_requests: dict[int, dict] = {}
        self.web_url = "http://gitlab.invalid"  # the server sets its own URL
        self._next_id = 0

    def new_id(self) -> int:
        with self.lock:
            self._next_id += 1
            return self._next_id

    # --- test helpers ------------------------------------------------------------------------------------

    def add_user(self, username: str, *, access_level: int = MAINTAINER, is_admin: bool = False) -> User:
        with self.lock:
            user = User(self.new_id(), username, ADMIN if is_admin else access_level, is_admin)
            self.users[user.id] = user
            return user

    def add_token(self, user: User, *, scopes: tuple[str, ...] = ("api",), value: str | None = None) -> str:
        value = value or "glpat-" + secrets.token_urlsafe(15)
        with self.lock:
            self.tokens[value] = Token(value, user.id, tuple(scopes))
        return value

    def fail_next(self, status: int = 502, *, times: int = 1, path_contains: str = "") -> None:
        """Make the next ``times`` API requests whose path contains ``path_contains`` answer ``status``."""
        self.faults.add("*", re.escape(path_contains), status, times=times)

    def writes(self) -> list[LoggedRequest]:
        """Logged requests that could change something (anything but GET)."""
        with self.lock:
            return [r for r in self.requests if r.method != "GET"]

    def repo_dir(self, project: Project | str) -> Path:
        full_path = project if isinstance(project, str) else project.full_path
        return self.repos_root / f"{full_path}.git"

    def git(self, project: Project | str, *args: str) -> str:
        """Run git inside a project's bare repository and return stdout."""
        return subprocess.run(["git", "--git-dir", str(self.repo_dir(project)), *args], check=True,
                              capture_output=True, text=True).stdout.strip()

    def branches(self, project: Project | str) -> dict[str, str]:
        out = self.git(project, "for-each-ref", "--format=%(refname:short) %(objectname)", "refs/heads")
        return dict(line.split(" ", 1) for line in out.splitlines() if line)

    # --- lookups -----------------------------------------------------------------------------------------

    def authenticate(self, value: str | None) -> tuple[User, Token]:
        token = self.tokens.get(value or "")
        if token is None:
            raise ApiError(401, {"message": "401 Unauthorized"})
        return self.users[token.user_id], token

    def group(self, ref: str) -> Group:
        with self.lock:
            for group in self.groups.values():
                if str(group.id) == ref or group.full_path == ref:
                    return group
        raise not_found("Group")

    def project(self, ref: str) -> Project:
        with self.lock:
            for project in self.projects.values():
                if str(project.id) == ref or project.full_path == ref:
                    return project
        raise not_found("Project")

    def project_by_repo(self, repo_path: str) -> Project | None:
        try:
            return self.project(repo_path.removesuffix(".git"))
        except ApiError:
            return None

    def ancestors(self, group_id: int) -> list[Group]:
        chain = []
        current: int | None = group_id
        while current is not None:
            group = self.groups[current]
            chain.append(group)
            current = group.parent_id
        return chain

    def user_by_name(self, username: str | None) -> User | None:
        return next((u for u in self.users.values() if u.username == username), None)

    @staticmethod
    def require(user: User, level: int) -> None:
        if user.access_level < level:
            raise FORBIDDEN

    # --- groups and projects -----------------------------------------------------------------------------

    def create_group(self, user: User, data: dict) -> Group:
        name, path = data.get("name"), data.get("path")
        if not name or not path:
            raise ApiError(400, {"message": "400 Bad request - name, path are missing"})
        parent_id = int(data["parent_id"]) if data.get("parent_id") not in (None, "") else None
        with self.lock:
            if parent_id is None:
                # Top-level groups need the instance-wide right to create groups: admins here.
                if not user.is_admin:
                    raise FORBIDDEN
                full_path = path
            else:
                if parent_id not in self.groups:
                    raise not_found("Group")
                self.require(user, MAINTAINER)
                full_path = f"{self.groups[parent_id].full_path}/{path}"
            if self._path_taken(full_path):
                raise ApiError(400, {"message": "Failed to save group {:path=>[\"has already been taken\"]}"})
            group = Group(self.new_id(), name, path, full_path, parent_id, data.get("description") or "",
                          data.get("visibility") or "private")
            self.groups[group.id] = group
            return group

    def _path_taken(self, full_path: str) -> bool:
        return any(g.full_path == full_path for g in self.groups.values()) or any(
            p.full_path == full_path for p in self.projects.values())

    def create_project(self, user: User, data: dict) -> Project:
        path = data.get("path") or data.get("name")
        if not path:
            raise ApiError(400, {"message": "400 Bad request - name, path are missing, at least one "
                                            "parameter must be provided"})
        with self.lock:
            if data.get("namespace_id") in (None, ""):
                raise FORBIDDEN  # personal namespaces are not part of this double
            namespace = self.group(str(data["namespace_id"]))
            self.require(user, MAINTAINER)
            full_path = f"{namespace.full_path}/{path}"
            if self._path_taken(full_path):
                raise ApiError(400, {"message": {"name": ["has already been taken"],
                                                 "path": ["has already been taken"]}})
            topics = data.get("topics") or data.get("tag_list") or []
            if isinstance(topics, str):
                topics = [t.strip() for t in topics.split(",") if t.strip()]
            project = Project(self.new_id(), data.get("name") or path, path, namespace.id, full_path,
                              data.get("description") or "", list(topics),
                              data.get("visibility") or "private")
            self._init_repository(project)
            self.projects[project.id] = project
            return project

    def _init_repository(self, project: Project) -> None:
        directory = self.repo_dir(project)
        directory.parent.mkdir(parents=True, exist_ok=True)
        subprocess.run(["git", "init", "--quiet", "--bare", "--initial-branch=main", str(directory)],
                       check=True, capture_output=True)
        if self.hook_script:
            hook = directory / "hooks" / "pre-receive"
            hook.write_text(self.hook_script)
            hook.chmod(0o755)

    def update_project(self, user: User, project: Project, data: dict) -> Project:
        self.require(user, MAINTAINER)
        with self.lock:
            if "default_branch" in data:
                branch = data["default_branch"]
                if branch not in self.branches(project):
                    raise ApiError(400, {"message": "Could not set the default branch. Do you have a branch "
                                                    f"named '{branch}'?"})
                self.git(project, "symbolic-ref", "HEAD", f"refs/heads/{branch}")
            if "topics" in data:
                topics = data["topics"]
                project.topics = topics.split(",") if isinstance(topics, str) else list(topics)
            if "description" in data:
                project.description = data["description"] or ""
            if data.get("name"):
                project.name = data["name"]
            if data.get("path") and data["path"] != project.path:
                # GitLab renames the project in place: same id, new path, repository moved along.
                full_path = f"{self.groups[project.namespace_id].full_path}/{data['path']}"
                if self._path_taken(full_path):
                    raise ApiError(400, {"message": {"path": ["has already been taken"]}})
                old_dir = self.repo_dir(project)
                project.path, project.full_path = data["path"], full_path
                old_dir.rename(self.repo_dir(project))
            return project

    def default_branch(self, project: Project) -> str | None:
        """HEAD's branch, or None while the repository is empty (as GitLab answers)."""
        head = self.git(project, "symbolic-ref", "--short", "HEAD")
        return head if head in self.branches(project) else None

    # --- deploy tokens -----------------------------------------------------------------------------------

    def create_deploy_token(self, user: User, data: dict, *, project: Project | None = None,
                            group: Group | None = None) -> DeployToken:
        self.require(user, MAINTAINER)
        scopes = data.get("scopes") or []
        if not data.get("name") or not scopes:
            raise ApiError(400, {"message": "400 Bad request - name, scopes are missing"})
        with self.lock:
            token_id = self.new_id()
            username = data.get("username") or f"gitlab+deploy-token-{token_id}"
            token = DeployToken(token_id, data["name"], username,
                                list(scopes), "gldt-" + secrets.token_urlsafe(15),
                                project.id if project else None, group.id if group else None)
            self.deploy_tokens[token.id] = token
            return token

    def deploy_access(self, project: Project, username: str | None,
                      password: str | None) -> DeployToken | None:
        """The deploy token these Basic credentials name, if it covers ``project``."""
        owners = {g.id for g in self.ancestors(project.namespace_id)}
        for token in self.deploy_tokens.values():
            if token.token == password and token.username == username and not token.revoked and (
                    token.project_id == project.id or token.group_id in owners):
                return token
        return None

    # --- protected branches and pushes -------------------------------------------------------------------

    def protect(self, user: User, project: Project, data: dict) -> ProtectedBranch:
        self.require(user, MAINTAINER)
        name = data.get("name")
        if not name:
            raise ApiError(400, {"message": "400 Bad request - name is missing"})
        with self.lock:
            if any(p.project_id == project.id and p.name == name for p in self.protected.values()):
                raise ApiError(409, {"message": f"Protected branch '{name}' already exists"})
            push = self._levels(data, "push", default=MAINTAINER)
            merge = self._levels(data, "merge", default=MAINTAINER)
            rule = ProtectedBranch(self.new_id(), project.id, name, push, merge,
                                   bool(data.get("allow_force_push", False)))
            self.protected[rule.id] = rule
            return rule

    def _levels(self, data: dict, kind: str, *, default: int) -> list[dict]:
        levels = []
        if f"{kind}_access_level" in data or not data.get(f"allowed_to_{kind}"):
            level = int(data.get(f"{kind}_access_level", default))
            levels.append({"id": self.new_id(), "access_level": level,
                           "access_level_description": LEVEL_NAMES.get(level, str(level)),
                           "user_id": None, "group_id": None})
        for entry in data.get(f"allowed_to_{kind}") or []:
            if "user_id" in entry:
                user = self.users.get(int(entry["user_id"]))
                if user is None:
                    raise ApiError(422, {"message": "user_id is invalid"})
                levels.append({"id": self.new_id(), "access_level": MAINTAINER,
                               "access_level_description": user.username, "user_id": user.id,
                               "group_id": None})
        return levels

    def protection_for(self, project: Project, branch: str) -> list[ProtectedBranch]:
        return [p for p in self.protected.values()
                if p.project_id == project.id and fnmatchcase(branch, p.name)]

    def check_push(self, project: Project, user: User | None, ref: str, kind: str) -> str | None:
        """Why GitLab would refuse this ref update, or None. ``kind``: create/update/force/delete."""
        if not ref.startswith("refs/heads/"):
            return None
        rules = self.protection_for(project, ref.removeprefix("refs/heads/"))
        if not rules:
            return None
        if kind == "delete":
            return "You can only delete protected branches using the web interface."
        allowed = user is not None and any(
            (level["user_id"] == user.id) if level["user_id"] is not None
            else (level["access_level"] > NO_ACCESS and user.access_level >= level["access_level"])
            for rule in rules for level in rule.push_access_levels)
        if kind == "force" and not (allowed and all(rule.allow_force_push for rule in rules)):
            return "You are not allowed to force push code to a protected branch on this project."
        if not allowed:
            return "You are not allowed to push code to protected branches on this project."
        return None


    # --- merge requests (issue #12): opened by the console's bumps, merged or closed by a test -------------

    def create_merge_request(self, user: User, project: Project, data: dict) -> dict:
        with self.lock:
            self.require(user, DEVELOPER)
            source, target = data.get("source_branch"), data.get("target_branch")
            branches = self.branches(project)
            if not source or not target or not data.get("title"):
                raise ApiError(400, {"message": "source_branch, target_branch and title are required"})
            if source not in branches:
                raise ApiError(400, {"message": {"source_branch": ["does not exist"]}})
            if any(mr["project_id"] == project.id and mr["source_branch"] == source and mr["state"] == "opened"
                   for mr in self.merge_requests.values()):
                raise ApiError(409, {"message": [f"Another open merge request already exists for this source "
                                                 f"branch"]})
            iid = 1 + max((mr["iid"] for mr in self.merge_requests.values() if mr["project_id"] == project.id),
                          default=0)
            mr = {"id": self.new_id(), "iid": iid, "project_id": project.id, "title": data["title"],
                  "description": data.get("description", ""), "source_branch": source, "target_branch": target,
                  "state": "opened", "merge_commit_sha": None, "sha": branches[source],
                  "web_url": f"{self.web_url}/{project.full_path}/-/merge_requests/{iid}",
                  "author": {"id": user.id, "username": user.username}}
            self.merge_requests[mr["id"]] = mr
            return mr

    def merge_request(self, project: Project, iid: int) -> dict:
        for mr in self.merge_requests.values():
            if mr["project_id"] == project.id and mr["iid"] == iid:
                return mr
        raise not_found("Merge Request")

    def merge(self, project: Project | str, iid: int) -> str:
        """Merge like GitLab's default method: a merge commit on the target branch; returns its sha."""
        project = self.project(project) if isinstance(project, str) else project
        mr = self.merge_request(project, iid)
        target = self.git(project, "rev-parse", f"refs/heads/{mr['target_branch']}").strip()
        source = self.git(project, "rev-parse", f"refs/heads/{mr['source_branch']}").strip()
        tree = self.git(project, "rev-parse", f"{source}^{{tree}}").strip()
        merged = self.git(project, "commit-tree", tree, "-p", target, "-p", source, "-m",
                          f"Merge branch '{mr['source_branch']}' into '{mr['target_branch']}'").strip()
        self.git(project, "update-ref", f"refs/heads/{mr['target_branch']}", merged, target)
        mr.update(state="merged", merge_commit_sha=merged)
        return merged

    def close_merge_request(self, project: Project | str, iid: int) -> None:
        project = self.project(project) if isinstance(project, str) else project
        self.merge_request(project, iid)["state"] = "closed"
