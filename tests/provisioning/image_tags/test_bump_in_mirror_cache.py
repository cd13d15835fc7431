"""A bump needs no working copy of its own: it works in the repository's bare mirror cache."""

from __future__ import annotations

from provisioning.forge.base import GitRemote
from provisioning.image_tags import DeployConfig, bump_image_tag
from provisioning.mirror import Mirror
from tests.support.gitrepos import WorkRepo, git, init_bare, refs

VALUES = 'image:\n  repository: registry.example.com/shop/backend\n  tag: "1.0.0"\n'


def test_a_bump_in_the_mirror_cache_leaves_it_bare_and_syncable(tmp_path):
    work = WorkRepo.create(tmp_path / "work")
    work.commit("seed", {"chart/values.yaml": VALUES})
    source_dir, target_dir = init_bare(tmp_path / "source.git"), init_bare(tmp_path / "target.git")
    work.publish(source_dir)
    source, target = GitRemote(source_dir.as_uri()), GitRemote(target_dir.as_uri())
    mirror = Mirror(tmp_path / "caches")
    mirror.sync(cache_key="infra", source=source, target=target)
    cache = mirror.cache_path("infra")

    result = bump_image_tag(source=source, branch="main", config=DeployConfig("helm", "chart"),
                            image="registry.example.com/shop/backend", tag="1.1.0", work_dir=cache,
                            requested_by="alice")

    assert result.changed and refs(source_dir)["refs/heads/main"] == result.commit_sha
    assert not (cache / "chart").exists() and not (cache / ".git").exists()  # no working tree appeared
    synced = mirror.sync(cache_key="infra", source=source, target=target)
    assert synced.refs["refs/heads/main"] == result.commit_sha
    assert 'tag: "1.1.0"' in git("show", "main:chart/values.yaml", cwd=target_dir)
    # The bump's private ref stays out of what the mirror pushes.
    every_ref = git("for-each-ref", "--format=%(refname)", cwd=target_dir).split()
    assert every_ref and all(ref.startswith(("refs/heads/", "refs/tags/")) for ref in every_ref)
