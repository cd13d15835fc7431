"""GitLab REST v4 over HTTP: routing, authentication, JSON shapes and pagination for ``GitLabState``.

Paths, bodies and error shapes follow docs.gitlab.com/api: ids may be numbers or URL-encoded full paths
(``/groups/dso%2Facme``), errors are ``{"message": ...}``, lists carry ``x-*`` and ``Link`` headers.
"""

from __future__ import annotations

import json
import socket
import time
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, unquote, urlencode, urlsplit

from tests.doubles.gitlab.state import (
    MAINTAINER, ApiError, DeployToken, GitLabState, Group, LoggedRequest, Project, ProtectedBranch, User,
)

_CREATED_AT = datetime(2024, 1, 1, tzinfo=timezone.utc).isoformat().replace("+00:00", "Z")
_INSUFFICIENT_SCOPE = ApiError(403, {
    "error": "insufficient_scope",
    "error_description": "The request requires higher privileges than provided by the access token.",
    "scope": "api",
})

# What GitLab says with these statuses; a 409 on a create means the thing exists (a racing request made it).
_FAULT_MESSAGES = {409: "409 Conflict", 500: "500 Internal Server Error",
                   502: "502 Bad Gateway", 503: "503 Service Unavailable", 504: "504 Gateway Timeout"}


class ApiServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address, state: GitLabState, git_url: str):
        self.state = state
        self.git_url = git_url  # where project repositories are served (http_url_to_repo)
        super().__init__(address, ApiHandler)


class ApiHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: ApiServer

    def setup(self) -> None:
        self.request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        super().setup()

    def log_message(self, format: str, *args) -> None:  # noqa: A002 - quiet test output
        pass

    def do_GET(self) -> None:
        self._handle()

    def do_POST(self) -> None:
        self._handle()

    def do_PUT(self) -> None:
        self._handle()

    def do_DELETE(self) -> None:
        self._handle()

    # --- plumbing ----------------------------------------------------------------------------------------

    def _handle(self) -> None:
        state = self.server.state
        split = urlsplit(self.path)
        raw = split.path.removeprefix("/api/v4")
        # Split before decoding: "/groups/dso%2Facme" is one id, not two segments.
        segments = [unquote(s) for s in raw.strip("/").split("/")] if raw.strip("/") else []
        query = {k: v[-1] for k, v in parse_qs(split.query).items()}
        body = self._body()
        data = {**query, **body}
        entry = LoggedRequest(self.command, "/" + "/".join(segments), data)
        if segments[:1] != ["internal"]:  # the hook's calls are not the adapter's traffic
            with state.lock:
                state.requests.append(entry)
        headers: dict[str, str] = {}
        fault = None
        try:
            if not split.path.startswith("/api/v4/"):
                raise ApiError(404, {"message": "404 Not Found"})
            fault = state.faults.take(self.command, entry.path)
            if fault is not None and not fault.after:
                self._fail(entry, fault)
                return
            status, payload = self._route(segments, data, query, headers)
        except ApiError as exc:
            status, payload = exc.status, exc.body
        if fault is not None:  # the work is done; only its answer is lost or replaced
            self._fail(entry, fault, done=status)
            return
        entry.status = status
        self._send(status, payload, headers)

    def _fail(self, entry: LoggedRequest, fault, *, done: int | None = None) -> None:
        entry.fault = fault
        if done is not None:
            entry.done = done
        if fault.delay:
            time.sleep(fault.delay)  # the client has given up by now; whatever is sent is lost
        status = fault.status or 504
        entry.status = status
        try:
            self._send(status, {"message": _FAULT_MESSAGES.get(status, f"{status} Injected failure")}, {})
        except OSError:
            pass  # the client hung up after its timeout

    def _body(self) -> dict:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        if not raw:
            return {}
        if "json" in (self.headers.get("Content-Type") or ""):
            return json.loads(raw)
        return {k: v[-1] for k, v in parse_qs(raw.decode()).items()}

    def _send(self, status: int, payload, headers: dict[str, str]) -> None:
        data = b"" if status == 204 else json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for name, value in headers.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)

    def _user(self, *, write: bool) -> User:
        value = self.headers.get("PRIVATE-TOKEN")
        auth = self.headers.get("Authorization", "")
        if not value and auth.lower().startswith("bearer "):
            value = auth[7:].strip()
        user, token = self.server.state.authenticate(value)
        needed = {"api"} if write else {"api", "read_api"}
        if not needed & set(token.scopes):
            raise _INSUFFICIENT_SCOPE
        return user

    def _paginate(self, items: list, query: dict, headers: dict[str, str]) -> list:
        page = max(int(query.get("page", 1)), 1)
        per_page = min(max(int(query.get("per_page", 20)), 1), 100)
        total = len(items)
        pages = max((total + per_page - 1) // per_page, 1)
        next_page = page + 1 if page < pages else None
        prev_page = page - 1 if page > 1 else None
        headers.update({"x-page": str(page), "x-per-page": str(per_page), "x-total": str(total),
                        "x-total-pages": str(pages), "x-next-page": str(next_page or ""),
                        "x-prev-page": str(prev_page or "")})
        base = f"http://{self.headers.get('Host')}{urlsplit(self.path).path}"

        def link(number: int, rel: str) -> str:
            return f'<{base}?{urlencode({**query, "page": number, "per_page": per_page})}>; rel="{rel}"'

        links = [link(n, rel) for n, rel in ((prev_page, "prev"), (next_page, "next")) if n]
        links += [link(1, "first"), link(pages, "last")]
        headers["Link"] = ", ".join(links)
        return items[(page - 1) * per_page: page * per_page]

    # --- routes ------------------------------------------------------------------------------------------

    def _route(self, seg: list[str], data: dict, query: dict, headers: dict[str, str]) -> tuple[int, object]:
        state, method = self.server.state, self.command
        if seg == ["internal", "allowed"] and method == "POST":
            return 200, self._internal_allowed(data)
        user = self._user(write=method != "GET")
        match (method, seg):
            case ("GET", ["user"]):
                return 200, self._user_json(user)
            case ("GET", ["users"]):
                users = [u for u in state.users.values() if u.username == query.get("username", u.username)]
                return 200, self._paginate([self._user_json(u) for u in users], query, headers)
            case ("GET", ["groups"]):
                groups = sorted(state.groups.values(), key=lambda g: g.full_path)
                search = query.get("search", "")
                groups = [g for g in groups if search.lower() in g.full_path.lower()]
                return 200, self._paginate([self._group_json(g) for g in groups], query, headers)
            case ("POST", ["groups"]):
                return 201, self._group_json(state.create_group(user, data))
            case ("GET", ["groups", ref]):
                return 200, self._group_json(state.group(ref))
            case ("GET", ["projects"]):
                projects = sorted(state.projects.values(), key=lambda p: p.id)
                return 200, self._paginate([self._project_json(p) for p in projects], query, headers)
            case ("POST", ["projects"]):
                return 201, self._project_json(state.create_project(user, data))
            case ("GET", ["projects", ref]):
                return 200, self._project_json(state.project(ref))
            case ("PUT", ["projects", ref]):
                return 200, self._project_json(state.update_project(user, state.project(ref), data))
            case ("POST", ["projects", ref, "archive"]):
                project = state.project(ref)
                state.require(user, MAINTAINER)
                project.archived = True
                return 201, self._project_json(project)
            case (_, ["projects" | "groups" as kind, ref, "deploy_tokens", *rest]):
                return self._deploy_tokens(user, kind, ref, rest, data, query, headers)
            case (_, ["projects", ref, "protected_branches", *rest]):
                return self._protected_branches(user, state.project(ref), rest, data, query, headers)
            case ("POST", ["projects", ref, "merge_requests"]):
                return 201, state.create_merge_request(user, state.project(ref), data)
            case ("GET", ["projects", ref, "merge_requests"]):
                project = state.project(ref)
                found = [mr for mr in state.merge_requests.values() if mr["project_id"] == project.id
                         and mr["source_branch"] == query.get("source_branch", mr["source_branch"])
                         and query.get("state", "all") in ("all", mr["state"])]
                return 200, self._paginate(found, query, headers)
            case ("GET", ["projects", ref, "merge_requests", iid]):
                return 200, state.merge_request(state.project(ref), int(iid))
        raise ApiError(404, {"message": "404 Not Found"})

    def _deploy_tokens(self, user: User, kind: str, ref: str, rest: list[str], data: dict, query: dict,
                       headers: dict[str, str]) -> tuple[int, object]:
        state, method = self.server.state, self.command
        owner = state.project(ref) if kind == "projects" else state.group(ref)
        owner_key = "project_id" if kind == "projects" else "group_id"
        state.require(user, MAINTAINER)
        mine = [t for t in state.deploy_tokens.values() if getattr(t, owner_key) == owner.id]
        if method == "GET" and not rest:
            if query.get("active") == "true":
                mine = [t for t in mine if not t.revoked]
            return 200, self._paginate([self._deploy_json(t) for t in mine], query, headers)
        if method == "POST" and not rest:
            target = {"project": owner} if kind == "projects" else {"group": owner}
            token = state.create_deploy_token(user, data, **target)
            return 201, {**self._deploy_json(token), "token": token.token}
        token = next((t for t in mine if rest and str(t.id) == rest[0]), None)
        if token is None:
            raise ApiError(404, {"message": "404 Deploy Token Not Found"})
        if method == "GET":
            return 200, self._deploy_json(token)
        if method == "DELETE":
            token.revoked = True  # GitLab revokes; the row stays for audit
            return 204, None
        raise ApiError(405, {"message": "405 Method Not Allowed"})

    def _protected_branches(self, user: User, project: Project, rest: list[str], data: dict, query: dict,
                            headers: dict[str, str]) -> tuple[int, object]:
        state, method = self.server.state, self.command
        rules = [r for r in state.protected.values() if r.project_id == project.id]
        if method == "GET" and not rest:
            return 200, self._paginate([self._protected_json(r) for r in rules], query, headers)
        if method == "POST" and not rest:
            return 201, self._protected_json(state.protect(user, project, data))
        rule = next((r for r in rules if rest and r.name == rest[0]), None)
        if rule is None:
            raise ApiError(404, {"message": "404 Not found"})
        if method == "GET":
            return 200, self._protected_json(rule)
        if method == "DELETE":
            state.require(user, MAINTAINER)
            del state.protected[rule.id]
            return 204, None
        raise ApiError(405, {"message": "405 Method Not Allowed"})

    def _internal_allowed(self, data: dict) -> dict:
        """Asked by the repositories' pre-receive hook, like gitlab-shell asks /internal/allowed."""
        state = self.server.state
        project = state.project_by_repo(data.get("repo", ""))
        if project is None:
            return {"status": False, "message": "The project you were looking for could not be found."}
        if project.archived:
            return {"status": False, "message": "You are not allowed to push code to an archived project."}
        user = state.user_by_name(data.get("username"))
        for change in data.get("changes", []):
            reason = state.check_push(project, user, change["ref"], change["kind"])
            if reason:
                return {"status": False, "message": reason}
        return {"status": True}

    # --- JSON shapes -------------------------------------------------------------------------------------

    def _web(self, path: str) -> str:
        return f"http://{self.headers.get('Host')}/{path}"

    @staticmethod
    def _user_json(user: User) -> dict:
        return {"id": user.id, "username": user.username, "name": user.username, "state": "active",
                "is_admin": user.is_admin, "bot": user.username.endswith("bot")}

    def _group_json(self, group: Group) -> dict:
        state = self.server.state
        names = [g.name for g in reversed(state.ancestors(group.id))]
        return {"id": group.id, "name": group.name, "path": group.path, "full_path": group.full_path,
                "full_name": " / ".join(names), "parent_id": group.parent_id,
                "description": group.description,
                "visibility": group.visibility, "web_url": self._web(f"groups/{group.full_path}"),
                "created_at": _CREATED_AT}

    def _project_json(self, project: Project) -> dict:
        state = self.server.state
        namespace = state.groups[project.namespace_id]
        empty = not state.branches(project)
        return {
            "id": project.id, "name": project.name, "path": project.path,
            "path_with_namespace": project.full_path, "description": project.description,
            "name_with_namespace": f"{self._group_json(namespace)['full_name']} / {project.name}",
            "default_branch": None if empty else state.default_branch(project),
            "topics": list(project.topics), "tag_list": list(project.topics),
            "visibility": project.visibility, "archived": project.archived, "empty_repo": empty,
            "http_url_to_repo": f"{self.server.git_url}/{project.full_path}.git",
            "ssh_url_to_repo": f"git@127.0.0.1:{project.full_path}.git",
            "web_url": self._web(project.full_path), "created_at": _CREATED_AT,
            "namespace": {"id": namespace.id, "name": namespace.name, "path": namespace.path, "kind": "group",
                          "full_path": namespace.full_path, "parent_id": namespace.parent_id},
        }

    @staticmethod
    def _deploy_json(token: DeployToken) -> dict:
        return {"id": token.id, "name": token.name, "username": token.username, "expires_at": None,
                "scopes": list(token.scopes), "revoked": token.revoked, "expired": False}

    @staticmethod
    def _protected_json(rule: ProtectedBranch) -> dict:
        return {"id": rule.id, "name": rule.name, "push_access_levels": rule.push_access_levels,
                "merge_access_levels": rule.merge_access_levels, "allow_force_push": rule.allow_force_push,
                "unprotect_access_levels": [], "code_owner_approval_required": False}

