"""GitLab as DSO Console's internal forge, through python-gitlab.

Layout: ``<root_group>/<organization>/<project>/<repository>``: one group per organization and one subgroup
per console project under the root group, one GitLab project per registered repository.

Rules this adapter keeps:
- Idempotent: every ``ensure_*`` looks up by full path first and creates only what is missing.
- It only adopts GitLab projects carrying the console's marker (topic, or the marker in the description);
  anything else at a wanted path is someone else's and raises ``Conflict``. Groups are adopted as they are,
  since administrators often pre-create the organization groups.
- It never deletes projects or groups; ``archive_repository`` makes a project read-only and
  ``retire_repository`` renames a removed repository's project aside before archiving it.
- python-gitlab errors are translated here, with messages naming the path and never a token. 5xx and
  connection errors become ``Unreachable`` (transient) and are not retried in-process: every operation is
  idempotent, so the calling task retries the whole step with backoff.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import gitlab
import requests
from gitlab.exceptions import GitlabAuthenticationError, GitlabError

from provisioning.errors import (
    AuthenticationFailed, Conflict, InvalidInput, NotFound, PermissionDenied, ProvisioningError, Unreachable,
)
from provisioning.forge.base import Forge, ForgeGroup, ForgeRepository, GitRemote

_READ_SCOPES = ["read_repository"]
_NO_ACCESS = 0


@dataclass(frozen=True)
class GitLabSettings:
    url: str
    token: str = field(repr=False)  # admin, or Owner of the root group; needs the ``api`` scope
    root_group: str = "dso"
    bot_username: str = "dso-console-bot"
    # Project/group access token with write_repository used for mirror pushes; falls back to ``token``.
    bot_token: str | None = field(default=None, repr=False)
    marker_topic: str = "managed-by-dso-console"
    timeout: float = 30
    ssl_verify: bool = True
    # Base of clone URLs when git is not served at ``url`` (a proxy, or the test double's second port).
    git_http_url: str | None = None


class GitLabForge(Forge):
    def __init__(self, settings: GitLabSettings):
        self.settings = settings
        self.root_group = settings.root_group.strip("/")
        self._gl = gitlab.Gitlab(settings.url.rstrip("/"), private_token=settings.token,
                                 timeout=settings.timeout, ssl_verify=settings.ssl_verify,
                                 retry_transient_errors=False)

    # --- Forge ------------------------------------------------------------------------------------------

    def ensure_group(self, path: str, *, name: str, description: str = "") -> ForgeGroup:
        path = _clean(path)
        segments = path.split("/")
        parent = None
        created = False
        for depth in range(1, len(segments) + 1):
            current = "/".join(segments[:depth])
            is_target = depth == len(segments)
            group = self._find_group(current)
            if group is None:
                group = self._create_group(current, parent_id=parent.id if parent else None,
                                           name=name if is_target else segments[depth - 1],
                                           description=description if is_target else "")
                created = is_target and group is not None
                if group is None:
                    # The path was taken: a race with another worker (adopt its group) or a project.
                    group = self._find_group(current)
                    if group is None:
                        raise Conflict(f"group {current}: path taken by a project, not a group")
            parent = group
        return ForgeGroup(path=parent.full_path, name=parent.name, created=created, id=parent.id)

    def ensure_repository(self, path: str, *, description: str = "") -> ForgeRepository:
        path = _clean(path)
        namespace, _, slug = path.rpartition("/")
        if not namespace:
            example = self.group_path_for("org", slug)
            raise InvalidInput(f"repository path {path!r} needs a group, e.g. {example}")
        existing = self._find_project(path)
        if existing is not None:
            return self._adopt(existing)
        group = self._get_group(namespace)
        data = {"name": slug, "path": slug, "namespace_id": group.id, "visibility": "private",
                "description": self._marked(description), "topics": [self.settings.marker_topic]}
        with self._translate(f"project {path}"):
            try:
                project = self._gl.projects.create(data)
            except GitlabError as exc:
                if not _is_taken(exc):
                    raise
                # Lost a race, or a group/project we cannot see holds the path: decide on what is there now.
                return self._adopt(self._get_project(path))
        return self._repository(project, created=True)

    def get_repository(self, path: str) -> ForgeRepository:
        return self._repository(self._get_project(_clean(path)))

    def find_repository_by_id(self, forge_id: int) -> ForgeRepository | None:
        """One request; None when the project is gone or no longer carries the console's marker."""
        try:
            project = self._get_project(forge_id)
        except NotFound:
            return None
        return self._repository(project) if self._is_managed(project) else None

    def clone_url(self, path: str) -> str:
        """GitLab's ``http_url_to_repo`` shape, computed without a request so it works before creation."""
        return f"{(self.settings.git_http_url or self.settings.url).rstrip('/')}/{_clean(path)}.git"


    def push_remote(self, path: str) -> GitRemote:
        project = self._get_project(_clean(path))
        return GitRemote(project.http_url_to_repo, self.settings.bot_username,
                         self.settings.bot_token or self.settings.token)

    def push_remote_for(self, repository: ForgeRepository) -> GitRemote:
        # The lookup that found ``repository`` gave its clone URL: no second request.
        return GitRemote(repository.clone_url, self.settings.bot_username,
                         self.settings.bot_token or self.settings.token)

    def read_remote(self, path: str, *, stored: GitRemote | None = None, name: str = "argocd") -> GitRemote:
        """Read-only credentials for ``path``: the deploy token the caller ``stored`` while GitLab still lists
        it as active (two reads, nothing created), otherwise a new one (``rotate_deploy_token``), which the
        caller must store, since GitLab shows a secret only once."""
        if stored is not None and stored.username and stored.password:
            owner, url = self._token_owner(_clean(path))
            with self._translate(f"deploy tokens of {path}"):
                active = any(t.username == stored.username and t.name == name and _active(t)
                             for t in owner.deploytokens.list(get_all=True))
            if active:
                return GitRemote(url, stored.username, stored.password)
        return self.rotate_deploy_token(path, name=name)

    def rotate_deploy_token(self, path: str, *, name: str = "argocd") -> GitRemote:
        """Replace the deploy token named ``name`` on purpose (lost, leaked, or revoked in GitLab)."""
        return self.ensure_deploy_token(path, name=name)

    def set_default_branch(self, path: str, branch: str) -> None:
        project = self._get_project(_clean(path))
        if project.default_branch == branch:
            return
        with self._translate(f"project {path}"):
            self._gl.projects.update(project.id, {"default_branch": branch})

    def archive_repository(self, path: str) -> None:
        project = self._get_project(_clean(path))
        if project.archived:
            return
        with self._translate(f"project {path}"):
            project.archive()

    def retire_repository(self, path: str, *, new_path: str) -> str | None:
        path, new_path = _clean(path), _clean(new_path)
        if path.rpartition("/")[0] != new_path.rpartition("/")[0]:
            raise InvalidInput(f"a retired repository stays in its group: {new_path!r} is not beside {path!r}")
        project = self._find_project(path)
        if project is None:
            project = self._find_project(new_path)
            if project is None:
                return None
        elif not self._is_managed(project):
            raise Conflict(f"{path}: not managed by DSO Console, left as it is")
        else:
            slug = new_path.rpartition("/")[2]
            # Rename first (an archived project is read-only), archive second: a retry after a crash in
            # between finds it at its new path.
            with self._translate(f"project {path}"):
                self._gl.projects.update(project.id, {"path": slug, "name": slug})
            project = self._get_project(new_path)
        if not project.archived:
            with self._translate(f"project {new_path}"):
                project.archive()
        return new_path

    # --- GitLab-only operations -------------------------------------------------------------------------

    def ensure_deploy_token(self, path: str, *, name: str = "argocd") -> GitRemote:
        """Create a read-only (``read_repository``) deploy token for the project or group at ``path``.

        GitLab shows a deploy token's secret only in the response that created it, and this adapter stores
        nothing: the caller must persist the returned ``password`` (encrypted) and hand it to Argo CD.
        Because an existing token's secret cannot be read back, every call rotates: it creates a new token
        named ``name`` first, then revokes the older active ones with that name, so there is never a moment
        without a valid token, and never more than one left behind. Call it when provisioning, or when the
        stored secret is lost or must be rotated; not on every sync.
        """
        path = _clean(path)
        owner, url = self._token_owner(path)
        with self._translate(f"deploy tokens of {path}"):
            stale = [t for t in owner.deploytokens.list(get_all=True) if t.name == name and _active(t)]
            token = owner.deploytokens.create({"name": name, "scopes": _READ_SCOPES})
            for old in stale:
                owner.deploytokens.delete(old.id)
        return GitRemote(url, token.username, token.token)

    def _token_owner(self, path: str):
        """The project or group at ``path`` and the URL its deploy tokens read."""
        owner = self._find_project(path)
        if owner is not None:
            return owner, owner.http_url_to_repo
        owner = self._get_group(path)
        # A group token serves every repository below the group; it has no single clone URL.
        return owner, owner.web_url

    def protect_for_mirror(self, path: str, *, branches: tuple[str, ...] | None = None) -> None:
        """Protect ``branches`` (default: the project's default branch, else ``main``) so only the bot pushes.

        The rule: nobody by role (``push_access_level`` 0), the bot user by id (``allowed_to_push``), force
        pushes allowed (a mirror follows upstream rewrites), merges by nobody. Only named branches are
        protected, not ``*``: GitLab refuses deleting protected branches over git, which would break the
        mirror's ``--prune`` for every branch removed upstream.

        User-level push rules are a GitLab Premium feature. A Free instance ignores ``allowed_to_push``; this
        method then raises ``InvalidInput`` and leaves the branch protected with nobody allowed to push, so
        mirroring fails loudly instead of letting every maintainer push.
        """
        project = self._get_project(_clean(path))
        bot_id = self._bot_id()
        wanted = list(branches or (project.default_branch or "main",))
        with self._translate(f"protected branches of {path}"):
            current = {rule.name: rule for rule in project.protectedbranches.list(get_all=True)}
            for branch in wanted:
                rule = current.get(branch)
                if rule is not None and _mirror_rule_ok(rule.attributes, bot_id):
                    continue
                if rule is not None:
                    # Access-level lists cannot be replaced in place through the REST API; recreate.
                    project.protectedbranches.delete(branch)
                try:
                    created = project.protectedbranches.create({
                        "name": branch, "push_access_level": _NO_ACCESS, "merge_access_level": _NO_ACCESS,
                        "allow_force_push": True, "allowed_to_push": [{"user_id": bot_id}],
                    })
                except GitlabError as exc:
                    if not _is_taken(exc):
                        raise
                    # Protected meanwhile (a racing worker, or our attempt whose answer was lost): judge
                    # the rule that is there; a wrong one is replaced by the next attempt.
                    created = project.protectedbranches.get(branch)
                    if not _mirror_rule_ok(created.attributes, bot_id):
                        raise Unreachable(f"{path}:{branch} was protected meanwhile with another rule; "
                                          "retry to replace it") from exc
                if not _mirror_rule_ok(created.attributes, bot_id):
                    raise InvalidInput(
                        f"GitLab ignored the per-user push rule on {path}:{branch} (allowed_to_push needs "
                        "GitLab Premium); the branch is protected with nobody allowed to push",
                        code="gitlab_tier_unsupported")

    def current_username(self) -> str:
        """Who the admin token acts as: a cheap check that the URL and token work."""
        with self._translate("the current user"):
            self._gl.auth()
        return self._gl.user.username

    # --- lookups and creation ---------------------------------------------------------------------------

    def _find_group(self, path: str):
        try:
            return self._get_group(path)
        except NotFound:
            return None

    def _get_group(self, path: str):
        with self._translate(f"group {path}"):
            return self._gl.groups.get(path)

    def _find_project(self, path: str):
        try:
            return self._get_project(path)
        except NotFound:
            return None

    def _get_project(self, path: str | int):
        with self._translate(f"project {path}"):
            return self._gl.projects.get(path)

    def _create_group(self, path: str, *, parent_id: int | None, name: str, description: str):
        """Create one group; None when the path was taken meanwhile."""
        data = {"name": name, "path": path.rsplit("/", 1)[-1], "visibility": "private",
                "description": description}
        if parent_id is not None:
            data["parent_id"] = parent_id
        with self._translate(f"group {path}"):
            try:
                return self._gl.groups.create(data)
            except GitlabError as exc:
                if _is_taken(exc):
                    return None
                raise

    def _bot_id(self) -> int:
        with self._translate(f"user {self.settings.bot_username}"):
            users = self._gl.users.list(username=self.settings.bot_username, get_all=True)
        if not users:
            raise NotFound(f"GitLab user {self.settings.bot_username} does not exist: "
                           "check DSO_GITLAB_BOT_USERNAME")
        return users[0].id

    def _adopt(self, project) -> ForgeRepository:
        if not self._is_managed(project):
            raise Conflict(f"{project.path_with_namespace}: path taken by a project DSO Console "
                           "does not manage")
        return self._repository(project)

    def _is_managed(self, project) -> bool:
        marker = self.settings.marker_topic
        topics = getattr(project, "topics", None) or getattr(project, "tag_list", None) or []
        return marker in topics or marker in (project.description or "")

    def _marked(self, description: str) -> str:
        note = f"Managed by DSO Console ({self.settings.marker_topic})."
        return f"{description.strip()}\n\n{note}" if description.strip() else note

    @staticmethod
    def _repository(project, *, created: bool = False) -> ForgeRepository:
        return ForgeRepository(path=project.path_with_namespace, clone_url=project.http_url_to_repo,
                               created=created, default_branch=project.default_branch or None, id=project.id)

    # --- error translation ------------------------------------------------------------------------------

    @contextmanager
    def _translate(self, what: str) -> Iterator[None]:
        try:
            yield
        except ProvisioningError:
            raise
        except GitlabAuthenticationError as exc:
            raise AuthenticationFailed("GitLab rejected the token: check DSO_GITLAB_TOKEN") from exc
        except GitlabError as exc:
            raise _translated(exc, what, self._redact) from exc
        except (requests.ConnectionError, requests.Timeout) as exc:
            raise Unreachable(f"GitLab at {self.settings.url} is unreachable ({type(exc).__name__})") from exc

    def _redact(self, text: str) -> str:
        for secret in (self.settings.token, self.settings.bot_token):
            if secret:
                text = text.replace(secret, "***")
        return text


def _translated(exc: GitlabError, what: str, redact) -> ProvisioningError:
    status = exc.response_code
    detail = redact(_message(exc))
    if status == 401:
        return AuthenticationFailed("GitLab rejected the token: check DSO_GITLAB_TOKEN")
    if status == 403:
        return PermissionDenied(f"token lacks api scope or Owner/Maintainer role on {what}")
    if status == 404:
        return NotFound(f"{what} does not exist")
    if status == 409 or (status == 400 and _is_taken(exc)):
        return Conflict(f"{what}: {detail}")
    if status is None or status >= 500 or status == 429:
        return Unreachable(f"GitLab answered {status or 'nothing'} for {what}; retry later")
    if status in (400, 422):
        return InvalidInput(f"GitLab refused {what}: {detail}")
    return ProvisioningError(f"GitLab answered {status} for {what}: {detail}")


def _message(exc: GitlabError) -> str:
    message = exc.error_message
    if isinstance(message, dict):  # validation errors: {"path": ["has already been taken"], ...}
        return "; ".join(f"{key} {' '.join(map(str, value if isinstance(value, list) else [value]))}"
                         for key, value in message.items())
    return str(message)[:300]


def _is_taken(exc: GitlabError) -> bool:
    """A create refused because the thing exists: GitLab's 400 "has already been taken", or any 409 (a
    racing request, or our own whose answer was lost, created it first). The caller looks again and adopts."""
    return exc.response_code == 409 or (exc.response_code == 400 and "has already been taken" in _message(exc))


def _mirror_rule_ok(rule: dict, bot_id: int) -> bool:
    levels = rule.get("push_access_levels") or []
    users = {level.get("user_id") for level in levels if level.get("user_id") is not None}
    roles = {level.get("access_level") for level in levels if level.get("user_id") is None
             and level.get("group_id") is None and level.get("deploy_key_id") is None}
    return bool(rule.get("allow_force_push")) and users == {bot_id} and roles <= {_NO_ACCESS}


def _active(token) -> bool:
    return not getattr(token, "revoked", False) and not getattr(token, "expired", False)


def _clean(path: str) -> str:
    cleaned = "/".join(s for s in path.strip().strip("/").removesuffix(".git").split("/") if s)
    if not cleaned:
        raise InvalidInput("empty GitLab path")
    return cleaned
