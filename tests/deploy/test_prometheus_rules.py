"""deploy/prometheus: the config and rules pass promtool, every rule is unit-tested both ways
(fires / must not fire), and every expression names only metrics, labels and label values that
Tumen really exports."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from .helpers import DEPLOY, Rule, check_promql, load_rules, run_tool

PROM = DEPLOY / "prometheus"
TEST_FILES = sorted((PROM / "tests").glob("*.test.yml"))


@pytest.mark.integration
def test_promtool_check_config() -> None:
    r = run_tool("promtool", "check", "config", str(PROM / "prometheus.yml"))
    assert r.returncode == 0, r.stdout + r.stderr


@pytest.mark.integration
def test_promtool_check_rules() -> None:
    r = run_tool("promtool", "check", "rules", *map(str, sorted((PROM / "rules").glob("*.yml"))))
    assert r.returncode == 0, r.stdout + r.stderr


@pytest.mark.integration
@pytest.mark.parametrize("test_file", TEST_FILES, ids=lambda p: p.name)
def test_promtool_rule_unit_tests(test_file: Path) -> None:
    r = run_tool("promtool", "test", "rules", str(test_file))
    assert r.returncode == 0, r.stdout + r.stderr


def _alert_tests() -> dict[str, list[list[object]]]:
    """alertname -> the exp_alerts lists of its alert_rule_test cases, over all test files."""
    seen: dict[str, list[list[object]]] = {}
    for path in TEST_FILES:
        for test in yaml.safe_load(path.read_text(encoding="utf-8"))["tests"]:
            for case in test.get("alert_rule_test", []):
                seen.setdefault(case["alertname"], []).append(case.get("exp_alerts") or [])
    return seen


def test_every_alert_is_tested_firing_and_silent(rules: list[Rule]) -> None:
    cases = _alert_tests()
    alerts = {r.name for r in rules if r.is_alert}
    never_fires = [a for a in alerts if not any(cases.get(a, []))]
    never_silent = [a for a in alerts if not any(not c for c in cases.get(a, []))]
    assert never_fires == [], "alerts without a test case where they fire"
    assert never_silent == [], "alerts without a test case where they must not fire"
    assert not set(cases) - alerts, "tests name alerts that no rule defines"


def test_alerts_have_routing_labels_and_runbook_annotations(rules: list[Rule]) -> None:
    for rule in (r for r in rules if r.is_alert):
        labels, notes = rule.raw.get("labels", {}), rule.raw.get("annotations", {})
        assert labels.get("severity") in {"critical", "warning"}, rule.name
        assert labels.get("kind") in {"operational", "intelligence"}, rule.name
        assert rule.group == f"tumen-{labels['kind']}", f"{rule.name} is in group {rule.group}"
        assert notes.get("summary") and len(notes.get("description", "")) > 150, (
            f"{rule.name}: summary and a description that says what to do"
        )


def test_recording_rule_names_follow_level_metric_operation(rules: list[Rule]) -> None:
    bad = [r.name for r in rules if not r.is_alert and not r.name.startswith("tumen:")]
    assert not bad
    assert all(r.name.count(":") >= 2 for r in rules if not r.is_alert)


@pytest.mark.parametrize("rule", load_rules(), ids=lambda r: r.name)
def test_rule_uses_only_exported_metrics(
    rule: Rule, exposed: dict[str, frozenset[str]], recorded: set[str]
) -> None:
    """promtool unit tests feed made-up series; this ties the rules to what Tumen exports."""
    assert check_promql(rule.expr, exposed=exposed, recorded=recorded) == []
