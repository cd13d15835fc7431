"""The example alert rules of docs/operations.md: valid Prometheus rule files (`promtool check rules` where
promtool is installed; `.ci/run` installs Debian's prometheus for it), every dso_* series they use is one
the console exports, and promtool's rule unit test fires the stuck-run and failing-sync alerts on series
shaped like the console's."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "operations.md"
PROMTOOL = shutil.which("promtool")


def alert_rules() -> str:
    blocks = re.findall(r"```yaml\n(.*?)```", DOC.read_text(), flags=re.S)
    rules = [block for block in blocks if block.startswith("groups:")]
    assert len(rules) == 1
    return rules[0]


def exported_names() -> set[str]:
    from console.ops import metrics

    names = set()
    for metric in (metrics.REQUEST_LATENCY, metrics.REQUESTS, metrics.RUNS_FINISHED, metrics.RUN_DURATION,
                   metrics.QUEUE_WAIT, metrics.SWEEPER_CORRECTIONS):
        for family in metric.collect():
            names.update(sample.name for sample in family.samples)
            names.add(family.name + ("_total" if family.type == "counter" else ""))
    names.update(name + suffix for name in [n for n in names] for suffix in ("_bucket", "_count", "_sum"))
    names.update({"dso_runs", "dso_run_oldest_age_seconds", "dso_redeploy_warnings_open", "dso_drift_open"})
    return names


def test_the_rules_have_the_structure_prometheus_expects():
    document = yaml.safe_load(alert_rules())
    assert [group["name"] for group in document["groups"]] == ["dso-console"]
    rules = document["groups"][0]["rules"]
    assert {"DsoConsoleSyncsFailing", "DsoConsoleRunsStuck", "DsoConsoleQueueGrowing"} <= {r["alert"] for r in rules}
    for rule in rules:
        assert set(rule) <= {"alert", "expr", "for", "labels", "annotations"}, rule["alert"]
        assert rule["expr"].strip() and rule["labels"]["severity"] in {"info", "warning", "critical"}
        assert rule["annotations"]["summary"]
        if "for" in rule:
            assert re.fullmatch(r"\d+[smh]", rule["for"])


def test_the_rules_use_only_series_the_console_exports():
    exported = exported_names()
    used = set(re.findall(r"\b(dso_[a-z_]+)\b", alert_rules()))
    assert used and used <= exported, used - exported


@pytest.mark.skipif(PROMTOOL is None, reason="promtool is not installed (Debian: apt-get install prometheus)")
def test_promtool_accepts_the_rules_and_they_fire_on_the_consoles_series(tmp_path):
    rules = tmp_path / "rules.yaml"
    rules.write_text(alert_rules())
    checked = subprocess.run([PROMTOOL, "check", "rules", str(rules)], capture_output=True, text=True, timeout=60)
    assert checked.returncode == 0, checked.stdout + checked.stderr

    tests = tmp_path / "rules_test.yaml"
    tests.write_text(yaml.safe_dump({
        "rule_files": [str(rules)],
        "evaluation_interval": "1m",
        "tests": [{
            "interval": "1m",
            "input_series": [
                {"series": 'dso_run_oldest_age_seconds{kind="sync",status="running"}',
                 "values": "1700+60x30"},
                {"series": 'dso_runs_finished_total{kind="sync",outcome="failed"}', "values": "0+5x40"},
                {"series": 'dso_runs_finished_total{kind="sync",outcome="succeeded"}', "values": "0+5x40"},
            ],
            "alert_rule_test": [
                {"eval_time": "25m", "alertname": "DsoConsoleRunsStuck",
                 "exp_alerts": [{"exp_labels": {"severity": "critical", "kind": "sync"},
                                 "exp_annotations": {
                                     "summary": "A sync run has been running for more than 30 minutes",
                                     "description": "The sweeper fails runs past DSO_SYNC_STUCK_AFTER_SECONDS; "
                                                    "check that beat runs and that workers renew their leases."}}]},
                {"eval_time": "35m", "alertname": "DsoConsoleSyncsFailing",
                 "exp_alerts": [{"exp_labels": {"severity": "warning"},
                                 "exp_annotations": {
                                     "summary": "More than 20 % of repository syncs fail",
                                     "description": "Open the failed runs (API syncs/?status=failed): their "
                                                    "error says what to fix (token scope, unreachable forge, "
                                                    "refused push)."}}]},
                {"eval_time": "35m", "alertname": "DsoConsoleQueueGrowing", "exp_alerts": []},
            ],
        }],
    }))
    tested = subprocess.run([PROMTOOL, "test", "rules", str(tests)], capture_output=True, text=True, timeout=60)
    assert tested.returncode == 0, tested.stdout + tested.stderr
