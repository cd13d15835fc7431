"""One git client for provisioning: environment (``env``), command runner (``client``), error translation
(``errors``)."""

from provisioning.git.client import GitClient, GitResult, display_url, parse_refs
from provisioning.git.env import askpass_helper, git_environment, redact
from provisioning.git.errors import BRANCH_MOVED, translate

__all__ = ["BRANCH_MOVED", "GitClient", "GitResult", "askpass_helper", "display_url", "git_environment",
           "parse_refs", "redact", "translate"]
