"""scan/inventory_at against real Helm chart histories in a bare mirror cache."""

from __future__ import annotations

from provisioning.errors import InvalidInput
from provisioning.image_tags import DeployConfig, ImageRef, inventory_at, scan

from .conftest import changes_as_tuples

HELM = DeployConfig(kind="helm", path="chart")

LAYOUTS = """\
image:
  repository: registry.example.com/shop/backend
  tag: "1.0.0"
app:
  worker:
    image:
      registry: registry.example.com
      repository: shop/worker
      tag: 2.0.0
images:
  frontend:
    repository: registry.example.com/shop/frontend
    tag: 3.0.0
global:
  image:
    registry: mirror.example.com:5000
    repository: base/nginx
    tag: "1.25"
sidecar:
  image: registry.example.com/shop/proxy:4.0.0 # plain string
pinned:
  image: registry.example.com/shop/pinned@sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa
notes:
  image: "{{ .Values.image.repository }}"
"""


def test_inventory_reads_every_helm_layout(work, tmp_path):
    work.write("chart/values.yaml", LAYOUTS)
    sha = work.commit("chart")
    refs, problems = inventory_at(work.mirror(tmp_path / "m.git"), config=HELM, sha=sha)
    assert problems == ()
    got = {(r.location, r.image, r.tag, r.digest) for r in refs}
    assert got == {
        ("image", "registry.example.com/shop/backend", "1.0.0", None),
        ("app.worker.image", "registry.example.com/shop/worker", "2.0.0", None),
        ("images.frontend", "registry.example.com/shop/frontend", "3.0.0", None),
        ("global.image", "mirror.example.com:5000/base/nginx", "1.25", None),
        ("sidecar.image", "registry.example.com/shop/proxy", "4.0.0", None),
        ("pinned.image", "registry.example.com/shop/pinned", None, "sha256:" + "a" * 64),
    }
    assert all(isinstance(r, ImageRef) and r.file == "chart/values.yaml" for r in refs)


def test_first_scan_records_whole_history_commit_by_commit(work, tmp_path):
    work.write("README.md", "infra\n")
    root = work.commit("init")
    work.write("chart/Chart.yaml", "apiVersion: v2\nname: shop\nversion: 0.1.0\nappVersion: 1.0.0\n")
    work.write("chart/values.yaml", "image:\n  repository: reg/shop/backend\n  tag: 1.0.0\n")
    c1 = work.commit("add chart", author="Bob", email="bob@example.com")
    work.write("chart/values.yaml", "image:\n  repository: reg/shop/backend\n  tag: 1.1.0\n")
    c2 = work.commit("bump backend to 1.1.0")
    work.write("chart/README.md", "docs only\n")
    work.commit("docs")
    work.write("chart/values.yaml", "image:\n  repository: reg/shop/backend\n  tag: 1.2.0\nsidecar:\n  image: reg/p:1\n")
    work.write("chart/Chart.yaml", "apiVersion: v2\nname: shop\nversion: 0.1.0\nappVersion: 1.2.0\n")
    c4 = work.commit("bump backend and add proxy")
    work.write("chart/values.yaml", "sidecar:\n  image: reg/p:1\n")
    c5 = work.commit("drop backend")

    result = scan(work.mirror(tmp_path / "m.git"), config=HELM, old_sha=None, new_sha=c5)

    f = "chart/values.yaml"
    assert changes_as_tuples(result) == [
        (c1, f, "image", "reg/shop/backend", "added", None, "1.0.0"),
        (c2, f, "image", "reg/shop/backend", "changed", "1.0.0", "1.1.0"),
        (c4, f, "image", "reg/shop/backend", "changed", "1.1.0", "1.2.0"),
        (c4, f, "sidecar.image", "reg/p", "added", None, "1"),
        (c5, f, "image", "reg/shop/backend", "removed", "1.2.0", None),
    ]
    first = result.changes[0]
    assert (first.commit_author, first.commit_email, first.commit_subject) == ("Bob", "bob@example.com", "add chart")
    assert first.committed_at.tzinfo is not None
    assert [(a.commit_sha, a.old_version, a.new_version, a.kind) for a in result.app_versions] == [
        (c1, None, "1.0.0", "added"),
        (c4, "1.0.0", "1.2.0", "changed"),
    ]
    assert [(r.location, r.tag) for r in result.inventory] == [("sidecar.image", "1")]
    # The root commit had no chart yet: that is history, not a problem.
    assert result.problems == ()
    assert result.commits_scanned == 6 and root


def test_incremental_scan_records_only_new_commits_each_with_its_own_commit(work, tmp_path):
    work.write("chart/values.yaml", "app:\n  image:\n    repository: reg/api\n    tag: v1\n")
    old = work.commit("v1")
    mirror = work.mirror(tmp_path / "m.git")
    assert [c.new_tag for c in scan(mirror, config=HELM, old_sha=None, new_sha=old).changes] == ["v1"]

    shas = []
    for tag in ("v2", "v3", "v4"):
        work.write("chart/values.yaml", f"app:\n  image:\n    repository: reg/api\n    tag: {tag}\n")
        shas.append(work.commit(f"release {tag}"))
    mirror = work.mirror(mirror)

    result = scan(mirror, config=HELM, old_sha=old, new_sha=shas[-1])

    assert [(c.commit_sha, c.old_tag, c.new_tag, c.commit_subject) for c in result.changes] == [
        (shas[0], "v1", "v2", "release v2"),
        (shas[1], "v2", "v3", "release v3"),
        (shas[2], "v3", "v4", "release v4"),
    ]
    assert scan(mirror, config=HELM, old_sha=shas[-1], new_sha=shas[-1]).changes == ()


def test_merge_does_not_record_branch_changes_twice(work, tmp_path):
    work.write("chart/values.yaml", "image:\n  repository: reg/a\n  tag: '1'\nworker:\n  image: reg/w:1\n")
    base = work.commit("base")
    work.git("checkout", "-q", "-b", "feature")
    work.write("chart/values.yaml", "image:\n  repository: reg/a\n  tag: '2'\nworker:\n  image: reg/w:1\n")
    on_branch = work.commit("bump a on feature")
    work.git("checkout", "-q", "main")
    work.write("chart/other.txt", "unrelated\n")
    on_main = work.commit("unrelated on main")
    work.git("merge", "-q", "--no-ff", "-m", "merge feature", "feature", env=_identity())
    merge = work.head()
    # An evil merge: a change made in the merge commit itself, matching neither parent.
    work.write("chart/values.yaml", "image:\n  repository: reg/a\n  tag: '2'\nworker:\n  image: reg/w:9\n")
    work.git("commit", "-q", "--amend", "-a", "--no-edit", env=_identity())
    evil = work.head()

    result = scan(work.mirror(tmp_path / "m.git"), config=HELM, old_sha=base, new_sha=evil)

    assert [(c.commit_sha, c.location, c.old_tag, c.new_tag) for c in result.changes] == [
        (on_branch, "image", "1", "2"),
        (evil, "worker.image", "1", "9"),
    ]
    assert merge != evil and on_main


def test_missing_values_file_and_unknown_commit(work, tmp_path):
    work.write("chart/values.yaml", "image:\n  repository: reg/a\n  tag: '1'\n")
    first = work.commit("chart")
    work.delete("chart/values.yaml")
    gone = work.commit("remove values")
    mirror = work.mirror(tmp_path / "m.git")
    config = DeployConfig(kind="helm", path="chart", value_files=("values.yaml", "values-prod.yaml"))

    result = scan(mirror, config=config, old_sha=None, new_sha=gone)

    reasons = {(p.file, p.commit_sha, p.reason) for p in result.problems}
    assert ("chart/values.yaml", gone, f"values file chart/values.yaml not found at {gone[:12]}") in reasons
    assert ("chart/values-prod.yaml", gone, f"values file chart/values-prod.yaml not found at {gone[:12]}") in reasons
    assert [(c.commit_sha, c.kind) for c in result.changes] == [(first, "added"), (gone, "removed")]
    try:
        scan(mirror, config=config, old_sha="deadbeef" * 5, new_sha=gone)
    except InvalidInput as exc:
        assert "not found" in exc.message
    else:
        raise AssertionError("an unknown old_sha must be refused")


def _identity() -> dict[str, str]:
    return {
        "GIT_AUTHOR_NAME": "Merger",
        "GIT_AUTHOR_EMAIL": "m@example.com",
        "GIT_COMMITTER_NAME": "Merger",
        "GIT_COMMITTER_EMAIL": "m@example.com",
    }


def test_snapshots_updated_from_their_parent_equal_snapshots_built_whole(work, tmp_path, monkeypatch):
    from provisioning.image_tags import inventory

    config = DeployConfig(kind="helm", path="chart", value_files=("values.yaml", "values-b.yaml"))
    chart = "apiVersion: v2\nname: shop\nversion: 0.1.0\nappVersion: {}\n"
    work.write("chart/Chart.yaml", chart.format("1.0.0"))
    work.write("chart/values.yaml", LAYOUTS)
    work.commit("values-b.yaml is missing")
    work.write("chart/values-b.yaml", "image:\n  repository: reg/b\n  tag: '1'\n")
    work.commit("values-b.yaml appears")
    work.write("chart/values.yaml", "image: [broken\n")
    work.commit("values.yaml breaks")
    work.write("chart/values.yaml", LAYOUTS.replace('"1.0.0"', '"1.1.0"'))
    work.write("chart/Chart.yaml", chart.format("1.1.0"))
    work.commit("values.yaml fixed, bumped, appVersion moves")
    work.write("chart/Chart.yaml", "appVersion: [broken\n")
    work.commit("Chart.yaml breaks")
    work.delete("chart/values-b.yaml")
    work.write("chart/Chart.yaml", chart.format("1.2.0"))
    head = work.commit("values-b.yaml goes, Chart.yaml fixed")
    repo = work.mirror(tmp_path / "m.git")

    def outcome(result):
        return (changes_as_tuples(result), result.inventory, sorted(result.problems, key=repr),
                result.app_versions)

    updated = scan(repo, config=config, old_sha=None, new_sha=head)
    monkeypatch.setattr(inventory, "_helm_update", lambda *args: None)
    whole = scan(repo, config=config, old_sha=None, new_sha=head)

    assert outcome(updated) == outcome(whole)
    assert len(updated.problems) >= 2 and len(updated.app_versions) >= 2  # the history did exercise them
