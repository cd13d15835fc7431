"""The README's commands and the repository page's CI snippets, run as shown against the stack `make run`
starts, over real HTTP with the real curl.

The commands are read from README.md and from the rendered page, never copied here: only the host, port,
tokens and ids are filled in, so a wrong change to the docs, the snippets or the endpoints breaks this test.
The stack is started from the Makefile's `run` recipe with its own ports and data folder and stopped with
Ctrl-C's SIGINT; stopping must be quiet and leave nothing behind in the working directory."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from collections.abc import Iterator

import pytest

from tests.smoke.client import ISSUER, GitLabKeys, Http, api_token, wait_for_run
from tests.smoke.documented import (
    fenced_blocks,
    gitlab_jobs,
    job_script,
    page_code_blocks,
    readme_section,
    run_documented,
)
from tests.smoke.stack import REPO, EmbeddedStack, clean_environment

DEMO = ("demo", "demo-password")
ADMIN = ("admin", "admin-password")
REPOSITORY_ID = 1  # the demo's first repository in a fresh database, as the README's example says
CI_PROJECT_PATH = "acme/shop-backend"
CI_VARIABLES = {
    "CI_PIPELINE_ID": "1001", "CI_JOB_URL": "https://gitlab.smoke.test/acme/shop-backend/-/jobs/5005",
    "CI_COMMIT_SHA": "0123456789abcdef0123456789abcdef01234567", "CI_COMMIT_REF_PROTECTED": "true",
}


def working_tree_state() -> tuple[set[str], str]:
    """Every file under the checkout (bytecode and caches aside) and git's view of it: a run that writes into
    its working directory shows up in one or the other."""
    skip = {".git", ".venv", "__pycache__", ".pytest_cache", "node_modules"}
    files = set()
    for path in REPO.rglob("*"):
        relative = path.relative_to(REPO)
        if not skip.intersection(relative.parts) and not path.is_dir():
            files.add(str(relative))
    git = ""
    if (REPO / ".git").exists() and shutil.which("git"):
        git = subprocess.run(["git", "status", "--porcelain"], cwd=REPO, capture_output=True,
                             text=True).stdout
    return files, git


@pytest.fixture(scope="module")
def stack(tmp_path_factory) -> Iterator[EmbeddedStack]:
    if shutil.which("curl") is None:
        pytest.skip("the documented commands need the curl binary (.ci/run installs it)")
    root = tmp_path_factory.mktemp("embedded")
    before = working_tree_state()
    embedded = EmbeddedStack(root / "data")
    embedded.working_tree_before = before
    try:
        embedded.start()
        yield embedded
    finally:
        embedded.kill_leftovers()


@pytest.fixture(scope="module")
def user_token(stack) -> str:
    return api_token(stack.base_url, *DEMO)


@pytest.fixture(scope="module")
def ci_token(stack, user_token) -> str:
    """Created as the README says a maintainer does: `POST /api/v1/repositories/{id}/ci-tokens/`."""
    status, _, body = Http(stack.base_url).request(
        "POST", f"/api/v1/repositories/{REPOSITORY_ID}/ci-tokens/", json_body={"name": "gitlab-ci"},
        headers={"Authorization": f"Token {user_token}"})
    assert status == 201, body
    return json.loads(body)["secret"]


@pytest.fixture(scope="module")
def gitlab(stack, user_token) -> Iterator[GitLabKeys]:
    """A trusted GitLab instance registered in the admin by the admin, and the demo repository allowing the
    GitLab project, as the README describes."""
    keys = GitLabKeys()
    try:
        admin = Http(stack.base_url)
        admin.sign_in(*ADMIN, login_path="/admin/login/")
        status, _, body = admin.form_post("/admin/console/trustedgitlabinstance/add/", {
            "name": "gitlab", "issuer": ISSUER, "jwks_url": keys.url, "audience": stack.base_url,
            "enabled": "on", "_save": "Save"})
        assert status == 302, body.decode()[-3000:]
        status, _, body = Http(stack.base_url).request(
            "PATCH", f"/api/v1/repositories/{REPOSITORY_ID}/ci-settings/",
            json_body={"ci_allowed_project_paths": [CI_PROJECT_PATH]},
            headers={"Authorization": f"Token {user_token}"})
        assert status == 200, body
        yield keys
    finally:
        keys.close()


def repository_page(stack) -> str:
    browser = Http(stack.base_url)
    browser.sign_in(*DEMO)
    status, _, body = browser.request("GET", f"/repositories/{REPOSITORY_ID}/")
    assert status == 200
    return body.decode()


def assert_sync_accepted(stack, outcome, user_token) -> None:
    """Every call answered below 400 (so never 500), the last one 202 with the run's URL in Location, and
    that run ends well."""
    assert outcome.returncode == 0, outcome.describe()
    assert outcome.calls, outcome.describe()
    assert all(call.status and call.status < 400 for call in outcome.calls), outcome.describe()
    sync = outcome.calls[-1]
    assert sync.status == 202, outcome.describe()
    run_url = rf"{re.escape(stack.base_url)}/api/v1/syncs/\d+/"
    assert re.fullmatch(run_url, sync.location or ""), outcome.describe()
    wait_for_run(stack.base_url, sync.location, user_token)


def test_pages_have_a_favicon(stack):
    browser = Http(stack.base_url, follow_redirects=True)
    status, _, body = browser.request("GET", "/accounts/login/")
    assert status == 200
    icon = re.search(r'<link rel="icon" href="([^"]+)"', body.decode())
    assert icon, "the page links no icon"
    status, headers, _ = browser.request("GET", icon.group(1))
    assert status == 200 and headers["Content-Type"].startswith("image/svg+xml")
    status, headers, _ = browser.request("GET", "/favicon.ico")
    assert status == 200 and headers["Content-Type"].startswith("image/svg+xml")


@pytest.mark.skipif(shutil.which("jq") is None,
                    reason="the README's command pipes into jq (.ci/run installs it)")
def test_readme_rest_commands(stack, user_token, tmp_path):
    (block, *_) = fenced_blocks(readme_section("REST API"), "sh")
    script = block.replace("localhost:8000", f"127.0.0.1:{stack.port}")
    assert "TOKEN=$(curl" in script and "/sync/" in script, script
    outcome = run_documented(script, clean_environment(), tmp_path / "calls")
    assert [call.status for call in outcome.calls] == [200, 200, 202], outcome.describe()
    assert_sync_accepted(stack, outcome, user_token)


def test_page_ci_token_snippets(stack, user_token, ci_token, tmp_path):
    blocks = page_code_blocks(repository_page(stack), "ci-triggers")
    sync_url = f"{stack.base_url}/api/v1/repositories/{REPOSITORY_ID}/sync/"
    with_token = [b for b in blocks if "$DSO_CONSOLE_TOKEN" in b]
    assert len(with_token) == 2, blocks  # the GitLab job and the shell line
    job_block, shell_line = with_token
    (job,) = gitlab_jobs(job_block).values()
    env = clean_environment(DSO_CONSOLE_TOKEN=ci_token, **CI_VARIABLES)
    for script in (job_script(job), shell_line + "\n"):
        assert sync_url in script, script
        outcome = run_documented(script, env, tmp_path / "calls")
        assert_sync_accepted(stack, outcome, user_token)


def test_page_id_token_snippet(stack, user_token, gitlab, tmp_path):
    blocks = [b for b in page_code_blocks(repository_page(stack), "ci-triggers") if "$DSO_ID_TOKEN" in b]
    assert len(blocks) == 1, blocks
    (job,) = gitlab_jobs(blocks[0]).values()
    audience = job["id_tokens"]["DSO_ID_TOKEN"]["aud"]
    assert audience == stack.base_url  # the trusted instance's audience, as registered
    id_token = gitlab.mint(audience=audience, project_path=CI_PROJECT_PATH)
    outcome = run_documented(job_script(job), clean_environment(DSO_ID_TOKEN=id_token, **CI_VARIABLES),
                             tmp_path / "calls")
    assert_sync_accepted(stack, outcome, user_token)


def readme_ci_jobs() -> list[dict]:
    blocks = fenced_blocks(readme_section("Triggering syncs from GitLab CI"), "yaml")
    jobs = [job for block in blocks for job in gitlab_jobs(block).values()]
    assert len(jobs) == 2, blocks
    return jobs


def readme_script(job: dict) -> str:
    script = job_script(job)
    assert "/api/v1/repositories/42/sync/" in script, script
    return script.replace("/repositories/42/", f"/repositories/{REPOSITORY_ID}/")


def test_readme_ci_token_job(stack, user_token, ci_token, tmp_path):
    (job,) = [job for job in readme_ci_jobs() if "id_tokens" not in job]
    env = clean_environment(DSO_CONSOLE_URL=stack.base_url, DSO_CONSOLE_TOKEN=ci_token, **CI_VARIABLES)
    assert_sync_accepted(stack, run_documented(readme_script(job), env, tmp_path / "calls"), user_token)


def test_readme_id_token_job(stack, user_token, gitlab, tmp_path):
    (job,) = [job for job in readme_ci_jobs() if "id_tokens" in job]
    id_token = gitlab.mint(audience=stack.base_url, project_path=CI_PROJECT_PATH)
    env = clean_environment(DSO_CONSOLE_URL=stack.base_url, DSO_ID_TOKEN=id_token, **CI_VARIABLES)
    assert_sync_accepted(stack, run_documented(readme_script(job), env, tmp_path / "calls"), user_token)


def test_ctrl_c_stops_everything_quietly_and_leaves_the_checkout_clean(stack):
    """Last in this module: stops the shared stack."""
    assert stack.children, "run_embedded started no processes"
    returncode = stack.interrupt()
    output = stack.output()
    assert returncode == 0, output[-4000:]
    assert not stack.leftovers()
    problems = [line for line in output.splitlines() if re.search(r"\bERROR\b|Traceback|CRITICAL", line)]
    assert not problems, "\n".join(problems)
    (files_before, git_before), (files_after, git_after) = stack.working_tree_before, working_tree_state()
    assert sorted(files_after - files_before) == [], "the run wrote files into the working directory"
    assert git_after == git_before, f"git status changed:\n{git_before}\n->\n{git_after}"


@pytest.mark.parametrize("document", ["README.md", "docs/ci-triggers.md"])
def test_documented_gitlab_jobs_are_valid_gitlab_ci(document):
    """GitLab refuses a job whose script item is not a string: an unquoted `- curl -H "Authorization: …"`
    line is a YAML mapping, so such a job never runs."""
    blocks = [b for b in fenced_blocks((REPO / document).read_text(), "yaml") if "script:" in b]
    assert blocks, f"{document} shows no GitLab job"
    for block in blocks:
        for name, job in gitlab_jobs(block).items():
            script = job["script"]
            assert all(isinstance(line, str) for line in script), f"{document}: job {name}: {script}"
