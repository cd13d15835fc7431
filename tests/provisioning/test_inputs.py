"""The pure value rules: git ref names agree with the real ``git check-ref-format`` over a corpus."""

from __future__ import annotations

import random
import subprocess

import pytest

from provisioning.inputs import (
    dns_label_problem,
    git_branch_name_problem,
    git_ref_name_problem,
    git_revision_problem,
    image_tag_problem,
    repo_relative_path_problem,
)

HAND_PICKED = [
    "main", "HEAD", "x/HEAD", "refs/heads/main", "feature/login", "v1.2.3", "release-2024.01", "a/b/c",
    "my branch", "a..b", "a.", "a./b", ".a", "a/.b", "a.lock", "a.lock/b", "b/a.lock", "a.locks", "lock",
    "a//b", "/a", "a/", "@", "@/a", "a@b", "a@{b", "@{", "a@{-1}", "a~1", "a^", "a:b", "a?", "a*", "a[b",
    "a]b", "a\\b", "a\tb", "a\nb", "a\x7fb", "a\x01", "é", "ünïcödé/branch", "日本", "a\u00a0b", "a\u2028b",
    "a\u0085b", "🚀", "a{b}", "a}b", "a!b", "a#b", "a$b", "a%b", "a&b", "a'b", 'a"b', "a(b)", "a+b", "a,b",
    "a;b", "a<b>", "a=b", "a|b", "a`b", ".", "..", "...", "a...b", "./a", "a/./b", "a/../b", "0123456789abcdef",
    "a" * 200, "refs/tags/v1.0.0", "refs/heads/", "refs//heads", "@@", "a@", "@a", "a.lock.b", ".lock",
    "x.", "x./y.", "{", "}", "@}",
]
# Characters that the rules single out, plus a few plain ones, to build random names from.
ALPHABET = list("ab/.@{}-~^:?*[\\ lock") + ["\t", "\x7f", "é", "\u00a0"]


def _corpus() -> list[str]:
    rng = random.Random(20240607)  # fixed: a failure names a reproducible input
    generated = {"".join(rng.choice(ALPHABET) for _ in range(rng.randint(1, 9))) for _ in range(700)}
    # git check-ref-format reads a leading '-' as an option and has no '--': such names cannot be asked.
    return sorted(name for name in set(HAND_PICKED) | generated if not name.startswith("-"))


def _git_accepts(tmp_path, *args: str) -> bool:
    done = subprocess.run(["git", "check-ref-format", *args], cwd=tmp_path, capture_output=True,
                          env={"PATH": "/usr/bin:/bin", "GIT_CEILING_DIRECTORIES": str(tmp_path.parent)})
    return done.returncode == 0


def test_ref_name_rules_agree_with_git_check_ref_format(tmp_path):
    disagreements = []
    for name in _corpus():
        for flags, ours in (
            ((), git_ref_name_problem(name) is None),
            (("--allow-onelevel",), git_ref_name_problem(name, allow_onelevel=True) is None),
            (("--branch",), git_branch_name_problem(name) is None),
        ):
            if ours != _git_accepts(tmp_path, *flags, name):
                disagreements.append((flags, name, ours))
    assert disagreements == []
    assert len(_corpus()) > 400  # the comparison really covered many names


def test_branch_names_starting_with_a_dash_are_refused_like_git():
    assert git_branch_name_problem("-x") is not None
    assert git_revision_problem("--upload-pack=evil") is not None


@pytest.mark.parametrize("revision", ["HEAD", "main", "v1.2.3", "feature/x", "refs/heads/main", "0" * 40, "é"])
def test_revisions_accepted(revision):
    assert git_revision_problem(revision) is None


@pytest.mark.parametrize("revision", ["my branch", "", "a..b", "-x", "a\u00a0b", "a\u2028b", "main.lock", "@"])
def test_revisions_refused(revision):
    assert git_revision_problem(revision)


@pytest.mark.parametrize("path", [".", "values.yaml", "charts/web", "values production.yaml", "a/b-c_d.e/f", "ü.yaml"])
def test_repo_relative_paths_accepted(path):
    assert repo_relative_path_problem(path) is None


@pytest.mark.parametrize("path", [
    "", "/etc/passwd", "../x", "a/../../x", "a\\b", "a\tb", "a\nb", " values.yaml", "values.yaml ", "a//b",
    "$ARGOCD_APP_NAME.yaml", "https://evil.test/values.yaml", "values-*.yaml", "a?", "a\u200bb", "a\x00b",
])
def test_repo_relative_paths_refused(path):
    assert repo_relative_path_problem(path)


def test_dns_labels_and_tags():
    assert dns_label_problem("a" * 63) is None and dns_label_problem("a" * 64)
    assert dns_label_problem("acme", max_length=3) and dns_label_problem("Acme") and dns_label_problem("a-")
    assert image_tag_problem("v1.2.3_rc-1") is None and image_tag_problem("a" * 128) is None
    for tag in ("", ".v1", "-v1", "v 1", "a" * 129, "v1!", "é"):
        assert image_tag_problem(tag), tag
