"""Fixtures of the deploy tests (deploy/prometheus, alertmanager, grafana, compose, k8s)."""

from __future__ import annotations

import pytest

from .helpers import Rule, exposed_metrics, load_rules


@pytest.fixture(scope="session")
def exposed() -> dict[str, frozenset[str]]:
    """What Tumen's /metrics really serves: sample name -> label names."""
    return exposed_metrics()


@pytest.fixture(scope="session")
def rules() -> list[Rule]:
    return load_rules()


@pytest.fixture(scope="session")
def recorded(rules: list[Rule]) -> set[str]:
    """Series made by the shipped recording rules."""
    return {r.name for r in rules if not r.is_alert}
