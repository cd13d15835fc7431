"""scan/inventory_at against a real base + overlay kustomize layout."""

from __future__ import annotations

from provisioning.image_tags import DeployConfig, inventory_at, scan

KUSTOMIZE = DeployConfig(kind="kustomize", path="overlays/prod")

BASE = """\
resources:
  - deployment.yaml
images:
  - name: backend
    newName: registry.example.com/shop/backend
    newTag: 1.0.0
"""
DEPLOYMENT = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: shop
spec:
  template:
    spec:
      initContainers:
        - name: migrate
          image: registry.example.com/shop/migrate:{migrate}
      containers:
        - name: web
          image: backend
        - name: proxy
          image: registry.example.com/shop/proxy:{proxy}
---
apiVersion: batch/v1
kind: CronJob
metadata:
  name: report
spec:
  jobTemplate:
    spec:
      template:
        spec:
          containers:
            - name: report
              image: registry.example.com/shop/report:7
"""
OVERLAY = """\
resources:
  - ../../base
  - https://github.com/example/remote//deploy?ref=v1
  - ../../../outside
components:
  - ../../components/loop
images:
  - name: backend
    newTag: {tag}
"""
LOOP = "resources:\n  - ../../components/loop\n  - ../../overlays/prod\n"


def _seed(work) -> str:
    work.write("base/kustomization.yaml", BASE)
    work.write("base/deployment.yaml", DEPLOYMENT.format(migrate="1", proxy="2.0"))
    work.write("overlays/prod/kustomization.yaml", OVERLAY.format(tag="1.1.0"))
    work.write("components/loop/Kustomization", LOOP)
    return work.commit("kustomize layout")


def test_inventory_follows_base_overlay_and_manifests(work, tmp_path):
    sha = _seed(work)
    refs, problems = inventory_at(work.mirror(tmp_path / "m.git"), config=KUSTOMIZE, sha=sha)

    assert {(r.file, r.location, r.image, r.tag, r.source) for r in refs} == {
        ("base/kustomization.yaml", "images[name=backend]", "registry.example.com/shop/backend", "1.0.0",
         "kustomize-images"),
        ("overlays/prod/kustomization.yaml", "images[name=backend]", "backend", "1.1.0", "kustomize-images"),
        ("base/deployment.yaml", "spec.template.spec.initContainers[name=migrate].image",
         "registry.example.com/shop/migrate", "1", "manifest"),
        ("base/deployment.yaml", "spec.template.spec.containers[name=proxy].image",
         "registry.example.com/shop/proxy", "2.0", "manifest"),
        ("base/deployment.yaml", "[doc=1].spec.jobTemplate.spec.template.spec.containers[name=report].image",
         "registry.example.com/shop/report", "7", "manifest"),
    }  # fmt: skip
    reasons = sorted(p.reason for p in problems)
    assert "references outside the repository: ../../../outside (not followed)" in reasons
    assert "references outside the repository: https://github.com/example/remote//deploy?ref=v1 (not followed)" in reasons
    assert any(r.startswith("kustomization cycle") for r in reasons)
    assert all(p.commit_sha == sha for p in problems)


def test_history_records_overlay_base_and_manifest_changes_per_commit(work, tmp_path):
    first = _seed(work)
    work.write("overlays/prod/kustomization.yaml", OVERLAY.format(tag="1.2.0"))
    overlay_bump = work.commit("prod: backend 1.2.0")
    work.write("base/deployment.yaml", DEPLOYMENT.format(migrate="2", proxy="2.1"))
    manifest_bump = work.commit("base: migrate 2, proxy 2.1")
    work.write("base/unreferenced.yaml", "kind: Pod\nspec:\n  containers:\n    - name: x\n      image: reg/x:1\n")
    work.commit("a file no kustomization lists")
    work.write("base/kustomization.yml", "ignored: true\n")
    work.write("base/kustomization.yaml", BASE.replace("1.0.0", "1.0.1"))
    base_bump = work.commit("base: backend default 1.0.1")

    result = scan(work.mirror(tmp_path / "m.git"), config=KUSTOMIZE, old_sha=first, new_sha=base_bump)

    assert [(c.commit_sha, c.file, c.location, c.old_tag, c.new_tag) for c in result.changes] == [
        (overlay_bump, "overlays/prod/kustomization.yaml", "images[name=backend]", "1.1.0", "1.2.0"),
        (manifest_bump, "base/deployment.yaml", "spec.template.spec.containers[name=proxy].image", "2.0", "2.1"),
        (manifest_bump, "base/deployment.yaml", "spec.template.spec.initContainers[name=migrate].image", "1", "2"),
        (base_bump, "base/kustomization.yaml", "images[name=backend]", "1.0.0", "1.0.1"),
    ]
    # Problems already present at old_sha are still reported, against new_sha, so a sync run shows them.
    outside = [p for p in result.problems if "outside" in p.reason]
    assert outside and all(p.commit_sha == base_bump for p in outside)


def test_overlay_gaining_a_new_resource_later(work, tmp_path):
    work.write("app/kustomization.yaml", "resources:\n  - web.yaml\n")
    first = work.commit("kustomization before its resource exists")
    work.write("app/web.yaml", "kind: Pod\nspec:\n  containers:\n    - name: web\n      image: reg/web:5\n")
    added = work.commit("add web")

    result = scan(work.mirror(tmp_path / "m.git"), config=DeployConfig("kustomize", "app"), old_sha=None, new_sha=added)

    assert [(c.commit_sha, c.kind, c.new_tag) for c in result.changes] == [(added, "added", "5")]
    assert [(p.commit_sha, p.reason) for p in result.problems] == [(first, "resource web.yaml not found")]
