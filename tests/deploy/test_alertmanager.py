"""deploy/alertmanager: amtool accepts the config, every alert the rules can raise reaches the
receiver meant for its kind and severity, and the inhibitions name real alerts and jobs."""

from __future__ import annotations

import re

import pytest
import yaml

from .helpers import DEPLOY, Rule, load_rules, run_tool

CONFIG = DEPLOY / "alertmanager" / "alertmanager.yml"

# kind, severity -> receiver: the routing policy in README.md, "Watching".
RECEIVERS = {
    ("operational", "critical"): "oncall-pager",
    ("operational", "warning"): "ops-email",
    ("intelligence", "critical"): "analysts-webhook-and-email",
    ("intelligence", "warning"): "analysts-webhook",
}


def _route(*labels: str, expect: str) -> tuple[int, str]:
    r = run_tool(
        "amtool",
        "config",
        "routes",
        "test",
        f"--config.file={CONFIG}",
        f"--verify.receivers={expect}",
        *labels,
    )
    return r.returncode, r.stdout.strip()


@pytest.mark.integration
def test_amtool_check_config() -> None:
    r = run_tool("amtool", "check-config", str(CONFIG))
    assert r.returncode == 0, r.stdout + r.stderr


@pytest.mark.integration
@pytest.mark.parametrize("alert", [r for r in load_rules() if r.is_alert], ids=lambda r: r.name)
def test_each_alert_reaches_its_receiver(alert: Rule) -> None:
    labels = alert.raw["labels"]
    expect = RECEIVERS[labels["kind"], labels["severity"]]
    code, got = _route(
        f"alertname={alert.name}", *(f"{k}={v}" for k, v in labels.items()), expect=expect
    )
    assert code == 0, f"{alert.name} goes to {got}, not {expect}"


@pytest.mark.integration
def test_unlabelled_alerts_fall_back_to_the_ops_mailbox() -> None:
    assert _route("alertname=Something", expect="ops-email")[0] == 0


def _names(matchers: list[str], label: str) -> set[str]:
    found: set[str] = set()
    for m in matchers:
        hit = re.fullmatch(rf'{label}\s*(=~|=)\s*"([^"]*)"', m)
        if hit:
            found.update(hit.group(2).split("|"))
    return found


def test_inhibit_rules_name_real_alerts_and_jobs(rules: list[Rule]) -> None:
    config = yaml.safe_load(CONFIG.read_text(encoding="utf-8"))
    prom = yaml.safe_load((DEPLOY / "prometheus" / "prometheus.yml").read_text(encoding="utf-8"))
    alerts = {r.name for r in rules if r.is_alert}
    jobs = {j["job_name"] for j in prom["scrape_configs"]}
    for rule in config["inhibit_rules"]:
        matchers = rule["source_matchers"] + rule["target_matchers"]
        assert _names(matchers, "alertname") <= alerts, rule
        assert _names(rule["source_matchers"], "job") <= jobs, rule
        for label in rule.get("equal", []):  # both sides must carry the label compared
            for side in ("source_matchers", "target_matchers"):
                for name in _names(rule[side], "alertname"):
                    alert = next(r for r in rules if r.name == name)
                    assert label in alert.expr, f"{name} has no {label!r} label for {rule}"
