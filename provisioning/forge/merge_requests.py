"""Merge requests at an infra repository's external GitLab (python-gitlab): open one for a bump's branch and
read its state. Built from plain values; GitLab errors become provisioning errors with a code."""

from __future__ import annotations

from dataclasses import dataclass

import gitlab
import requests
from gitlab.exceptions import GitlabAuthenticationError, GitlabError

from provisioning.errors import AuthenticationFailed, Conflict, InvalidInput, NotFound, PermissionDenied, ProvisioningError, Unreachable


@dataclass(frozen=True)
class MergeRequestInfo:
    iid: int
    web_url: str
    state: str  # opened, merged, closed, locked
    merge_commit_sha: str | None


class MergeRequestClient:
    def __init__(self, url: str, token: str, *, timeout: float = 30.0, ssl_verify: bool = True):
        self.url = url.rstrip("/")
        self.token = token
        self._gl = gitlab.Gitlab(self.url, private_token=token, timeout=timeout, ssl_verify=ssl_verify)

    def open(self, *, project_path: str, source_branch: str, target_branch: str, title: str,
             description: str = "") -> MergeRequestInfo:
        """Open the merge request, or adopt the open one of the same branch (a retried bump)."""
        project = self._gl.projects.get(project_path, lazy=True)
        try:
            mr = project.mergerequests.create({"source_branch": source_branch, "target_branch": target_branch,
                                               "title": title[:255], "description": description,
                                               "remove_source_branch": True})
        except GitlabError as error:
            if error.response_code != 409:
                raise self._translated(error, project_path) from error
            found = self._call(lambda: project.mergerequests.list(source_branch=source_branch, state="opened",
                                                                  get_all=False), project_path)
            if not found:
                raise self._translated(error, project_path) from error
            mr = found[0]
        except (requests.ConnectionError, requests.Timeout) as error:
            raise Unreachable(f"GitLab at {self.url} is unreachable ({type(error).__name__})") from error
        return _info(mr)

    def get(self, *, project_path: str, iid: int) -> MergeRequestInfo:
        project = self._gl.projects.get(project_path, lazy=True)
        return _info(self._call(lambda: project.mergerequests.get(iid), project_path))

    def _call(self, function, what: str):
        try:
            return function()
        except GitlabError as error:
            raise self._translated(error, what) from error
        except (requests.ConnectionError, requests.Timeout) as error:
            raise Unreachable(f"GitLab at {self.url} is unreachable ({type(error).__name__})") from error

    def _translated(self, error: GitlabError, what: str) -> ProvisioningError:
        status = error.response_code
        detail = str(error.error_message).replace(self.token, "***")[:300] if self.token else str(error.error_message)[:300]
        if isinstance(error, GitlabAuthenticationError) or status == 401:
            return AuthenticationFailed("the external GitLab rejected the repository's token",
                                        code="merge_request_auth_failed")
        if status == 403:
            return PermissionDenied(f"the repository's token may not open merge requests in {what} (needs the api "
                                    "scope and the Developer role)", code="merge_request_forbidden")
        if status == 404:
            return NotFound(f"{what} or its merge request does not exist on {self.url}", code="merge_request_not_found")
        if status == 409:
            return Conflict(f"GitLab refused the merge request in {what}: {detail}")
        if status is None or status >= 500 or status == 429:
            return Unreachable(f"GitLab answered {status or 'nothing'} for {what}; retried later")
        if status in (400, 422):
            return InvalidInput(f"GitLab refused the merge request in {what}: {detail}")
        return ProvisioningError(f"GitLab answered {status} for {what}: {detail}")


def _info(mr) -> MergeRequestInfo:
    return MergeRequestInfo(iid=int(mr.iid), web_url=mr.web_url, state=mr.state,
                            merge_commit_sha=getattr(mr, "merge_commit_sha", None))
