"""Tag policies: semver ranges as npm writes them, pre-releases only when asked, regex captures, latest build."""

from __future__ import annotations

import datetime as dt

import pytest

from provisioning.errors import InvalidInput
from provisioning.registry import TagPolicy, select

TAGS = ["1.3.9", "1.4.0", "v1.4.7", "1.4.10-rc.1", "1.5.0", "2.0.0", "2.3.1", "3.0.0-beta.2", "3.0.0", "latest",
        "sha-0a1b2c"]


@pytest.mark.parametrize(("constraint", "expected"), [
    ("~1.4", "v1.4.7"),
    (">=2.0 <3", "2.3.1"),
    ("^1.2", "1.5.0"),
    ("", "3.0.0"),
    ("<1", None),
])
def test_semver_ranges(constraint, expected):
    assert select(TagPolicy("semver", constraint=constraint), TAGS) == expected


def test_prereleases_only_when_asked():
    assert select(TagPolicy("semver", constraint="~1.4"), TAGS) == "v1.4.7"
    assert select(TagPolicy("semver", constraint="~1.4", include_prereleases=True), TAGS) == "1.4.10-rc.1"
    assert select(TagPolicy("semver", constraint=">=3.0.0-0", include_prereleases=True), ["3.0.0-beta.2"]) \
        == "3.0.0-beta.2"


def test_regex_sorts_by_its_capture_numerically():
    tags = ["build-9", "build-10", "build-2", "other-99"]
    assert select(TagPolicy("regex", pattern=r"^build-(?P<sort>\d+)$"), tags) == "build-10"
    assert select(TagPolicy("regex", pattern=r"^release-(\d+\.\d+\.\d+)$"),
                  ["release-1.10.0", "release-1.9.3"]) == "release-1.10.0"


def test_latest_build_by_creation_time():
    at = dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc)
    created = {"a1": at, "b2": at + dt.timedelta(hours=2), "c3": at + dt.timedelta(hours=1), "old": None}
    assert select(TagPolicy("latest_build"), created, created=created) == "b2"
    assert select(TagPolicy("latest_build", pattern="^[ac]"), created, created=created) == "c3"


@pytest.mark.parametrize("policy", [
    dict(kind="semver", constraint="~~nonsense"),
    dict(kind="regex", pattern="build-\\d+"),  # no capture to sort by
    dict(kind="regex", pattern="(unclosed"),
    dict(kind="newest"),
])
def test_bad_policies_are_refused(policy):
    with pytest.raises(InvalidInput) as refused:
        TagPolicy(**policy)
    assert refused.value.code == "invalid_tag_policy"
