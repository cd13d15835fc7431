"""Mirror.sync with ``recorded_refs``: pushes follow the target, reported changes follow the caller's record."""

from __future__ import annotations

from tests.provisioning.test_mirror import Setup
from tests.support.gitrepos import refs


def test_changes_are_reported_against_the_record_even_when_the_target_already_has_them(tmp_path, git_serve,
                                                                                       token):
    setup = Setup(tmp_path, git_serve, token)
    first = setup.upstream.commit("first")
    setup.publish()
    recorded = setup.sync().refs
    assert recorded == {"refs/heads/main": first}

    second = setup.upstream.commit("second")
    setup.upstream.tag("v2")
    setup.publish()
    setup.sync()  # an attempt whose push landed, and whose worker died before recording anything

    redo = setup.sync(recorded_refs=recorded)
    assert not redo.pushed  # nothing left to push
    assert [(c.ref, c.old_sha, c.new_sha, c.kind) for c in redo.changes] == [
        ("refs/heads/main", first, second, "updated"),
        ("refs/tags/v2", None, second, "created"),
    ]
    assert redo.refs == refs(setup.source_dir) == refs(setup.target_dir)
    # Without a record, the target is the base, as before.
    assert not setup.sync().changed


def test_a_target_that_drifted_from_the_record_is_repaired_without_reporting_a_change(tmp_path, git_serve,
                                                                                      token):
    setup = Setup(tmp_path, git_serve, token)
    setup.upstream.commit("first")
    setup.publish()
    recorded = setup.sync().refs
    setup.upstream.branch("stray")
    setup.upstream.push(setup.target_dir, "refs/heads/stray:refs/heads/stray")  # someone wrote to the mirror

    result = setup.sync(recorded_refs=recorded)
    assert result.pushed and not result.changed
    assert refs(setup.target_dir) == refs(setup.source_dir)
