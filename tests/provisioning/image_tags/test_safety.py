"""Hostile and broken files become ScanProblems; the scan of everything else goes on."""

from __future__ import annotations

from provisioning.image_tags import DeployConfig, Limits, inventory_at, scan

CONFIG = DeployConfig(kind="helm", value_files=("values.yaml", "bad.yaml"))
GOOD = "image:\n  repository: reg/app\n  tag: '{tag}'\n"
BOMB = "\n".join(
    ["a: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol]"]
    + [f"{chr(98 + i)}: &{chr(98 + i)} [" + ", ".join([f"*{chr(97 + i)}"] * 9) + "]" for i in range(9)]
    + ["image: {repository: reg/bomb, tag: '1'}"]
)


def _problems_for(work, tmp_path, bad: str | bytes, limits: Limits = Limits()):
    work.write("values.yaml", GOOD.format(tag="1"))
    work.write("bad.yaml", "ok: true\n")
    first = work.commit("good")
    work.write("bad.yaml", bad)
    work.write("values.yaml", GOOD.format(tag="2"))
    broken = work.commit("broken file next to a good bump")
    result = scan(work.mirror(tmp_path / "m.git"), config=CONFIG, old_sha=None, new_sha=broken, limits=limits)
    # The good file is still scanned, in the same commit as the broken one.
    assert [(c.commit_sha, c.new_tag) for c in result.changes] == [(first, "1"), (broken, "2")]
    assert [p.file for p in result.problems] == ["bad.yaml"]
    assert result.problems[0].commit_sha == broken
    return result.problems[0].reason


def test_invalid_yaml_reports_the_line(work, tmp_path):
    reason = _problems_for(work, tmp_path, "a: 1\nb: [unclosed\nc: 3\n")
    assert reason.startswith("invalid YAML at line 3")


def test_alias_bomb_is_refused_without_expanding(work, tmp_path):
    assert len(BOMB) < 1000  # nine levels of nine: 9**10 nodes if expanded
    reason = _problems_for(work, tmp_path, BOMB)
    assert "alias bomb" in reason


def test_file_too_large(work, tmp_path):
    reason = _problems_for(work, tmp_path, "x: " + "y" * 5000 + "\n", Limits(max_file_bytes=4096))
    assert reason.startswith("file too large")


def test_binary_file(work, tmp_path):
    reason = _problems_for(work, tmp_path, b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR")
    assert "binary" in reason


def test_deep_nesting(work, tmp_path):
    reason = _problems_for(work, tmp_path, "[" * 5000 + "]" * 5000)
    assert "nested" in reason


def test_recursive_alias_terminates(work, tmp_path):
    reason = _problems_for(work, tmp_path, "a: &a\n  b: *a\n")
    assert "nested deeper" in reason or "too complex" in reason


def test_same_broken_blob_is_reported_once(work, tmp_path):
    work.write("values.yaml", "image: [\n")
    first = work.commit("broken")
    for i in range(3):
        work.write("other.txt", str(i))
        work.commit(f"unrelated {i}")
    refs, problems = inventory_at(work.mirror(tmp_path / "m.git"), config=DeployConfig("helm"), sha="HEAD")
    assert refs == () and len(problems) == 1
    result = scan(tmp_path / "m.git", config=DeployConfig("helm"), old_sha=None, new_sha=work.head())
    assert [(p.commit_sha, p.file) for p in result.problems] == [(first, "values.yaml")]
