"""schemathesis against the published OpenAPI schema on a live server: no 5xx, responses match the schema.

It runs schemathesis' own command line (`st run`), as a platform team would against a staging console,
with a platform admin's token so that every operation is reachable, and a member project to act on.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
import requests

from tests.factories import make_member, make_project, make_repository, make_user
from tests.reliability.figures import record_figures

pytestmark = pytest.mark.django_db(transaction=True)

CHECKS = "not_a_server_error,response_schema_conformance,content_type_conformance"


def _token(live_server, username: str, password: str) -> str:
    response = requests.post(f"{live_server.url}/api/v1/auth/token/",
                             json={"username": username, "password": password}, timeout=30)
    assert response.status_code == 200, response.text
    return response.json()["token"]


@pytest.mark.timeout(900)
def test_no_server_error_and_responses_match_the_schema(live_server, tmp_path: Path):
    admin = make_user("fuzz-admin", staff=True, password="fuzz-pass-123")
    project = make_project()
    make_member(admin, project)
    make_repository(project, name="infra", is_infra=True, deploy_kind="helm")
    token = _token(live_server, "fuzz-admin", "fuzz-pass-123")
    st = Path(sys.executable).with_name("st")
    completed = subprocess.run(
        [str(st), "run", f"{live_server.url}/api/schema/", "--url", f"{live_server.url}",
         "-H", f"Authorization: Token {token}", "--checks", CHECKS,
         "--phases", "examples,coverage,fuzzing", "--max-examples", "8", "--seed", "20261202",
         "--generation-database", "none", "--request-timeout", "30", "--workers", "1", "--no-color",
         "--max-time", "240",
         # The manifests are a multi-document YAML stream, which schemathesis' single-document YAML
         # deserializer cannot read; tests/provisioning/test_manifests.py validates them against the CRDs.
         # A cluster's connection test connects to whatever API server URL the fuzzer registered: tests
         # talk to loopback only (tests/console/clusters covers it against the Kubernetes double).
         "--exclude-path-regex", r"manifests|clusters/\{id\}/test/"],
        capture_output=True, text=True, timeout=600, cwd=tmp_path,
    )
    output = completed.stdout + completed.stderr
    failures = re.findall(r"^\s*\d+\. Test Case ID", output, flags=re.MULTILINE)
    selected = re.search(r"Operations:\s+(\d+) selected", output)
    operations = int(selected.group(1)) if selected else 0
    record_figures("schemathesis", {"operations": operations, "exit_code": completed.returncode,
                                    "failures": len(failures)})
    assert operations > 20, output[-4000:]
    assert completed.returncode == 0, output[-12000:]
