"""Derive a local Prometheus config from the shipped deploy/prometheus/prometheus.yml.

The shipped file finds Tumen services by DNS inside compose/Kubernetes. Locally there is no such
DNS, so every tumen-* job is replaced by static targets on 127.0.0.1; the rule files, intervals
and labels stay those of the shipped file, so the local Prometheus evaluates exactly the rules
that ship. Used by deploy/prometheus/run-local and by tests/deploy.

    python local_config.py --out FILE [--scrape-interval 1s] [--evaluation-interval 1s]
        [--alertmanager HOST:PORT] TARGET...

TARGET is HOST:PORT (job tumen-run: the embedded `tumen run`, all stages in one process) or
SERVICE=HOST:PORT (job tumen-SERVICE, e.g. classifier=127.0.0.1:9465).
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import yaml

HERE = Path(__file__).resolve().parent
SHIPPED = HERE / "prometheus.yml"
EMBEDDED_JOB = "tumen-run"


def _jobs(targets: list[str]) -> dict[str, list[str]]:
    jobs: dict[str, list[str]] = {}
    for target in targets:
        service, sep, address = target.rpartition("=")
        job = f"tumen-{service}" if sep else EMBEDDED_JOB
        jobs.setdefault(job, []).append(address)
    return jobs


def derive(
    targets: list[str],
    *,
    scrape_interval: str | None = None,
    evaluation_interval: str | None = None,
    alertmanager: str | None = None,
    shipped: Path = SHIPPED,
) -> dict[str, Any]:
    """The shipped config with tumen-* jobs pointed at ``targets`` and absolute rule paths."""
    config: dict[str, Any] = yaml.safe_load(shipped.read_text(encoding="utf-8"))
    glob = config.setdefault("global", {})
    if scrape_interval:
        glob["scrape_interval"] = scrape_interval
        glob["scrape_timeout"] = scrape_interval
    if evaluation_interval:
        glob["evaluation_interval"] = evaluation_interval
    config["rule_files"] = [str(shipped.parent / p) for p in config.get("rule_files", [])]
    others = [j for j in config["scrape_configs"] if not j["job_name"].startswith("tumen-")]
    tumen = [
        {"job_name": job, "static_configs": [{"targets": addresses}]}
        for job, addresses in _jobs(targets).items()
    ]
    config["scrape_configs"] = tumen + others
    if alertmanager:
        config["alerting"] = {"alertmanagers": [{"static_configs": [{"targets": [alertmanager]}]}]}
    else:
        config.pop("alerting", None)  # nothing to send to; no connection attempts to nowhere
    return config


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("targets", nargs="+", metavar="TARGET")
    p.add_argument("--out", required=True)
    p.add_argument("--scrape-interval")
    p.add_argument("--evaluation-interval")
    p.add_argument("--alertmanager")
    a = p.parse_args()
    config = derive(
        a.targets,
        scrape_interval=a.scrape_interval,
        evaluation_interval=a.evaluation_interval,
        alertmanager=a.alertmanager,
    )
    Path(a.out).write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")


if __name__ == "__main__":
    main()
