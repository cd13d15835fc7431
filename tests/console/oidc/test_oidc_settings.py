"""DSO_OIDC_* settings are checked when the console starts, so a typo is found before the first sign-in."""

from __future__ import annotations

import pytest

from tests.console.test_settings import load_settings


@pytest.mark.parametrize("extra, message", [
    ({"DSO_OIDC_ISSUER": "https://sso.example.com/realms/dso"}, "needs DSO_OIDC_CLIENT_ID and DSO_OIDC_CLIENT_SECRET"),
    ({"DSO_OIDC_ISSUER": "https://sso.example.com/realms/dso", "DSO_OIDC_CLIENT_ID": "dso",
      "DSO_OIDC_CLIENT_SECRET": "s", "DSO_OIDC_SCOPES": "profile email"}, "must include openid"),
    ({"DSO_OIDC_ORGANIZATION_GROUP_PATTERN": "dso/{org}/{role}"}, "may only use {organization}, {project} and {role}: 'org'"),
    ({"DSO_OIDC_PROJECT_GROUP_PATTERN": "dso/{organization}/{role}"}, "needs {project}"),
])
def test_bad_oidc_settings_stop_the_start(tmp_path, extra, message):
    result = load_settings({"DSO_DATA_DIR": str(tmp_path), **extra})
    assert result.returncode != 0 and message in result.stderr


def test_a_complete_oidc_configuration_starts(tmp_path):
    result = load_settings({"DSO_DATA_DIR": str(tmp_path), "DSO_OIDC_ISSUER": "https://sso.example.com/realms/dso/",
                            "DSO_OIDC_CLIENT_ID": "dso-console", "DSO_OIDC_CLIENT_SECRET": "secret",
                            "DSO_OIDC_PROJECT_GROUP_PATTERN": "/{organization}/{project}/{role}"},
                           show="OIDC_ISSUER")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "'https://sso.example.com/realms/dso'"
