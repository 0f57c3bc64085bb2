"""One frozen settings object, built once at start-up from a YAML file and the environment.

Precedence: defaults < YAML file (``--config`` or ``TUMEN_CONFIG``) < environment variables.
Every error is a :class:`ConfigError` whose message is one line naming the file and the key.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from tumen.errors import ConfigError

__all__ = [
    "ENV_OVERRIDES",
    "AlerterSettings",
    "ClassifierSettings",
    "DatabaseSettings",
    "EmbeddedSettings",
    "KafkaSettings",
    "MetricsSettings",
    "ProducerSettings",
    "Settings",
    "load_settings",
]


class _Section(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class KafkaSettings(_Section):
    bootstrap_servers: str | None = None  # unset: embedded bus
    client_id: str = "tumen"
    partitions: int = Field(default=6, ge=1, le=1024)
    replication_factor: int = Field(default=1, ge=1, le=16)
    max_poll_records: int = Field(default=100, ge=1, le=10000)
    poll_timeout_ms: int = Field(default=1000, ge=10, le=60000)
    session_timeout_ms: int = Field(default=30000, ge=1000, le=300000)
    heartbeat_interval_ms: int = Field(default=3000, ge=100, le=60000)
    max_poll_interval_ms: int = Field(default=300000, ge=10000, le=3600000)
    request_timeout_ms: int = Field(default=30000, ge=1000, le=300000)
    compression: str | None = Field(default="gzip", pattern=r"^(gzip|snappy|lz4|zstd)$")
    connect_timeout_s: float = Field(default=120.0, gt=0, le=86400)
    # Prefix for every topic and group name, for clusters shared by several deployments (and
    # by tests, which give each test its own namespace).
    namespace: str = Field(default="", pattern=r"^[A-Za-z0-9._-]*$", max_length=100)


class DatabaseSettings(_Section):
    url: str = "sqlite:///tumen.db"
    connect_timeout_s: float = Field(default=120.0, gt=0, le=86400)
    pool_size: int = Field(default=5, ge=1, le=100)


class MetricsSettings(_Section):
    host: str = "127.0.0.1"
    port: int = Field(default=9464, ge=0, le=65535)  # 0: pick a free port


class EmbeddedSettings(_Section):
    path: str = ".tumen/bus.sqlite3"


class ProducerSettings(_Section):
    interval_s: int = Field(default=900, ge=10, le=86400)
    min_interval_s: int = Field(default=300, ge=1, le=86400)
    max_interval_s: int = Field(default=86400, ge=60, le=604800)
    concurrency: int = Field(default=16, ge=1, le=512)
    per_host_concurrency: int = Field(default=2, ge=1, le=64)
    per_host_spacing_s: float = Field(default=1.0, ge=0, le=3600)
    connect_timeout_s: float = Field(default=10.0, gt=0, le=300)
    read_timeout_s: float = Field(default=20.0, gt=0, le=300)
    deadline_s: float = Field(default=60.0, gt=0, le=3600)
    max_body_bytes: int = Field(default=10 * 1024 * 1024, ge=1024, le=1024**3)
    max_redirects: int = Field(default=5, ge=0, le=20)
    backoff_base_s: float = Field(default=60.0, gt=0, le=86400)
    backoff_max_s: float = Field(default=6 * 3600.0, gt=0, le=7 * 86400)
    jitter: float = Field(default=0.1, ge=0, le=0.5)
    near_duplicate_threshold: float = Field(default=0.8, gt=0, le=1)
    respect_retry_after_for_host: bool = True
    # Near-duplicates are looked for among the articles first seen within this window.
    near_duplicate_window_s: int = Field(default=3 * 86400, ge=3600, le=90 * 86400)
    # Publishing: how long one batch may wait for the broker's acknowledgement, and the cap of
    # the backoff between retries while the broker is down.
    publish_timeout_s: float = Field(default=30.0, gt=0, le=600)
    bus_retry_max_s: float = Field(default=300.0, ge=1, le=3600)
    # Parsing runs in worker processes so a hostile document is bounded in time and memory
    # (0: parse in-process, no such bounds; for tests and tiny installs).
    parse_workers: int = Field(default=2, ge=0, le=64)
    parse_timeout_s: float = Field(default=30.0, gt=0, le=600)
    parse_memory_mb: int = Field(default=1024, ge=256, le=65536)
    max_items_per_feed: int = Field(default=10000, ge=1, le=1000000)


class ClassifierSettings(_Section):
    batch_size: int = Field(default=32, ge=1, le=4096)
    max_wait_ms: int = Field(default=500, ge=0, le=600000)
    threads: int | None = Field(default=None, ge=1, le=256)
    artifact: str | None = None


class AlerterSettings(_Section):
    webhook_url: str | None = None
    webhook_format: str = Field(default="json", pattern=r"^(json|slack)$")
    webhook_timeout_s: float = Field(default=10.0, gt=0, le=300)
    webhook_retries: int = Field(default=3, ge=0, le=20)


class Settings(_Section):
    source: str = "<defaults>"
    profile: str | None = None  # path of a profile YAML; None: the shipped default
    allow_private_addresses: bool = False
    log_level: str = Field(default="INFO", pattern=r"^(DEBUG|INFO|WARNING|ERROR)$")
    database: DatabaseSettings = DatabaseSettings()
    kafka: KafkaSettings = KafkaSettings()
    metrics: MetricsSettings = MetricsSettings()
    embedded: EmbeddedSettings = EmbeddedSettings()
    producer: ProducerSettings = ProducerSettings()
    classifier: ClassifierSettings = ClassifierSettings()
    alerter: AlerterSettings = AlerterSettings()

    @property
    def embedded_mode(self) -> bool:
        return not self.kafka.bootstrap_servers


# Environment variable -> (dotted key, parser).
ENV_OVERRIDES: dict[str, str] = {
    "TUMEN_DATABASE_URL": "database.url",
    "TUMEN_KAFKA_BOOTSTRAP_SERVERS": "kafka.bootstrap_servers",
    "TUMEN_METRICS_PORT": "metrics.port",
    "TUMEN_ALLOW_PRIVATE_ADDRESSES": "allow_private_addresses",
    "TUMEN_PROFILE": "profile",
    "TUMEN_LOG_LEVEL": "log_level",
}


def _read_yaml(path: Path) -> dict[str, Any]:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError("config file not found", source=str(path)) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read config file: {exc}", source=str(path)) from exc
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or "invalid YAML"
        raise ConfigError(f"{problem}{where}", source=str(path)) from exc
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError("top level must be a mapping", source=str(path))
    return data


def _set_dotted(data: dict[str, Any], dotted: str, value: Any) -> None:
    *parents, leaf = dotted.split(".")
    node = data
    for key in parents:
        child = node.get(key)
        if not isinstance(child, dict):
            child = {} if child is None else child
            node[key] = child
        node = child
    node[leaf] = value


def _env_value(name: str, raw: str) -> Any:
    """Empty strings mean 'unset' for the bootstrap servers (embedded mode)."""
    if name == "TUMEN_KAFKA_BOOTSTRAP_SERVERS" and not raw.strip():
        return None
    return raw


def load_settings(
    config_path: str | Path | None = None, env: Mapping[str, str] | None = None
) -> Settings:
    """Build the settings from defaults, the YAML file and the environment."""
    env = os.environ if env is None else env
    path_text = str(config_path) if config_path else env.get("TUMEN_CONFIG") or None
    data: dict[str, Any] = _read_yaml(Path(path_text)) if path_text else {}
    source = path_text or "<defaults>"
    env_sources: dict[str, str] = {}
    for name, dotted in ENV_OVERRIDES.items():
        if name in env:
            _set_dotted(data, dotted, _env_value(name, env[name]))
            env_sources[dotted] = name
    data["source"] = source
    try:
        return Settings.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        key = ".".join(str(p) for p in first["loc"])
        origin = env_sources.get(key, source)
        msg = first["msg"] if first["type"] != "extra_forbidden" else "unknown key"
        raise ConfigError(msg, source=origin, key=key) from exc
