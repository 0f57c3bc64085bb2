"""Shared helpers of the deploy tests: paths, the real tools, and what Tumen really exports."""

from __future__ import annotations

import shutil
import subprocess
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from prometheus_client.metrics import MetricWrapperBase
from prometheus_client.parser import text_string_to_metric_families

from tumen.metrics import Health, Metrics, MetricsServer
from tumen.profile import load_profile

from .promql import Matcher, parse

__all__ = [
    "DEPLOY",
    "PROMETHEUS_BUILTINS",
    "ROOT",
    "Rule",
    "check_promql",
    "exposed_metrics",
    "known_label_values",
    "load_rules",
    "load_yaml_documents",
    "run_tool",
]

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
RULES_DIR = DEPLOY / "prometheus" / "rules"

# Series that Prometheus itself makes, with the labels a rule or panel may match on them.
PROMETHEUS_BUILTINS: dict[str, frozenset[str] | None] = {
    "up": frozenset({"job", "instance"}),
    "ALERTS": None,  # alert labels: any
    "ALERTS_FOR_STATE": None,
}
# Labels every scraped series carries.
TARGET_LABELS = frozenset({"job", "instance"})


def run_tool(*args: str, timeout_s: float = 120) -> subprocess.CompletedProcess[str]:
    """Run promtool/amtool; ``deploy/prometheus/run-local install`` provides them."""
    if shutil.which(args[0]) is None:
        subprocess.run(
            ["bash", str(DEPLOY / "prometheus" / "run-local"), "install"], check=True, timeout=600
        )
    return subprocess.run(
        list(args), capture_output=True, text=True, timeout=timeout_s, check=False, cwd=ROOT
    )


def load_yaml_documents(path: Path) -> list[Any]:
    with path.open(encoding="utf-8") as f:
        return [d for d in yaml.safe_load_all(f) if d is not None]


@dataclass(frozen=True)
class Rule:
    file: str
    group: str
    name: str  # the alert or recorded series name
    expr: str
    raw: dict[str, Any]

    @property
    def is_alert(self) -> bool:
        return "alert" in self.raw


def load_rules() -> list[Rule]:
    rules = []
    for path in sorted(RULES_DIR.glob("*.yml")):
        for group in yaml.safe_load(path.read_text(encoding="utf-8"))["groups"]:
            for raw in group["rules"]:
                name = raw.get("alert") or raw["record"]
                rules.append(Rule(path.name, group["name"], name, str(raw["expr"]), raw))
    return rules


def _touch_labelled(metrics: Metrics) -> None:
    """A labelled metric has no sample before its first child; make one so that /metrics shows
    its label names (the values are placeholders)."""
    for collector in vars(metrics).values():
        if isinstance(collector, MetricWrapperBase):
            names = collector._labelnames  # prometheus_client keeps no public accessor
            if names:
                collector.labels(*["x"] * len(names))


def exposed_metrics() -> dict[str, frozenset[str]]:
    """Sample names (with _total/_bucket/_info suffixes) and their label names, read from the
    live /metrics of an in-process Tumen metrics endpoint."""
    metrics = Metrics()
    _touch_labelled(metrics)
    server = MetricsServer(metrics=metrics, health=Health(), host="127.0.0.1", port=0).start()
    try:
        url = f"http://127.0.0.1:{server.port}/metrics"
        with urllib.request.urlopen(url, timeout=10) as reply:
            text = reply.read().decode()
    finally:
        server.stop()
    names: dict[str, set[str]] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            names.setdefault(sample.name, set()).update(sample.labels)
    return {name: frozenset(labels) for name, labels in names.items()}


def known_label_values() -> dict[str, set[str]]:
    """Bounded label values that rules and panels may name literally."""
    profile = load_profile()
    return {
        "type": set(profile.type_names),
        "pair": {p.name for p in profile.watch_pairs},
        "outcome": {"ok", "not_modified", "error"},
        "service": {"producer", "classifier", "store", "alerter"},
        "kind": {"operational", "intelligence"},
        "severity": {"critical", "warning"},
        "alertstate": {"pending", "firing"},
    }


def _matcher_problems(
    m: Matcher, exposed: dict[str, frozenset[str]], recorded: set[str]
) -> Iterator[str]:
    if m.metric in exposed and m.label not in exposed[m.metric] | TARGET_LABELS:
        yield f"{m.metric} has no label {m.label!r} (it has {sorted(exposed[m.metric])})"
    builtin = PROMETHEUS_BUILTINS.get(m.metric or "")
    if m.metric in PROMETHEUS_BUILTINS and builtin is not None and m.label not in builtin:
        yield f"{m.metric} has no label {m.label!r}"
    values = m.plain_values()
    allowed = known_label_values().get(m.label)
    if values and allowed and (m.metric in exposed or m.metric in recorded or m.metric == "ALERTS"):
        for v in values:
            if v not in allowed:
                selector = f"{m.metric}{{{m.label}{m.op}{m.value!r}}}"
                yield f"{selector}: {v!r} is not one of {sorted(allowed)}"


def check_promql(expr: str, *, exposed: dict[str, frozenset[str]], recorded: set[str]) -> list[str]:
    """Problems with the names an expression uses: unknown metrics, labels or label values."""
    parsed = parse(expr)
    problems = [
        f"unknown metric {name!r}"
        for name in sorted(parsed.metrics)
        if name not in exposed and name not in recorded and name not in PROMETHEUS_BUILTINS
    ]
    for m in parsed.matchers:
        problems.extend(_matcher_problems(m, exposed, recorded))
    raw = [n for n in parsed.metrics if n in exposed]
    if raw and not parsed.metrics & (recorded | set(PROMETHEUS_BUILTINS)):
        labels = set().union(*(exposed[n] for n in raw)) | TARGET_LABELS
        problems.extend(
            f"grouping by {label!r}, which none of {sorted(raw)} has"
            for label in sorted(parsed.grouping_labels - labels)
        )
    return problems
