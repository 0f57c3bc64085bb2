"""Configuration: defaults, YAML, environment overrides, and one-line errors with exit status 2."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tumen.config import load_settings
from tumen.errors import ConfigError


def test_defaults_are_embedded_sqlite_and_port_9464() -> None:
    s = load_settings(env={})
    assert s.embedded_mode
    assert s.database.url.startswith("sqlite:///")
    assert s.metrics.port == 9464
    assert s.allow_private_addresses is False


def test_yaml_then_env_precedence(tmp_path: Path) -> None:
    cfg = tmp_path / "c.yaml"
    cfg.write_text("metrics: {port: 9500}\nkafka: {bootstrap_servers: 'a:1', partitions: 3}\n")
    s = load_settings(cfg, env={"TUMEN_METRICS_PORT": "9600", "TUMEN_DATABASE_URL": "sqlite://"})
    assert s.metrics.port == 9600
    assert s.kafka.bootstrap_servers == "a:1" and s.kafka.partitions == 3
    assert s.database.url == "sqlite://"
    assert not s.embedded_mode


def test_env_config_path_and_allow_private(tmp_path: Path) -> None:
    cfg = tmp_path / "c.yaml"
    cfg.write_text("log_level: DEBUG\n")
    s = load_settings(env={"TUMEN_CONFIG": str(cfg), "TUMEN_ALLOW_PRIVATE_ADDRESSES": "true"})
    assert s.log_level == "DEBUG" and s.allow_private_addresses is True


def test_empty_bootstrap_env_means_embedded() -> None:
    assert load_settings(env={"TUMEN_KAFKA_BOOTSTRAP_SERVERS": ""}).embedded_mode


def test_settings_are_frozen() -> None:
    s = load_settings(env={})
    with pytest.raises(Exception, match="frozen"):
        s.log_level = "DEBUG"  # type: ignore[misc]


@pytest.mark.parametrize(
    ("yaml_text", "env", "expected"),
    [
        ("kafka: {bogus: 1}\n", {}, "c.yaml: kafka.bogus: unknown key"),
        ("metrics: {port: seven}\n", {}, "c.yaml: metrics.port:"),
        ("metrics: {port: 70000}\n", {}, "c.yaml: metrics.port: Input should be less"),
        ("unknown_top: 1\n", {}, "c.yaml: unknown_top: unknown key"),
        ("- a list\n", {}, "c.yaml: top level must be a mapping"),
        ("a: [unclosed\n", {}, "c.yaml: "),
        ("", {"TUMEN_METRICS_PORT": "x"}, "TUMEN_METRICS_PORT: metrics.port:"),
        ("", {"TUMEN_ALLOW_PRIVATE_ADDRESSES": "maybe"}, "TUMEN_ALLOW_PRIVATE_ADDRESSES: "),
    ],
)
def test_config_errors_name_file_and_key(
    tmp_path: Path, yaml_text: str, env: dict[str, str], expected: str
) -> None:
    cfg = tmp_path / "c.yaml"
    cfg.write_text(yaml_text)
    with pytest.raises(ConfigError) as info:
        load_settings(cfg, env=env)
    message = str(info.value)
    assert expected in message
    assert "\n" not in message


def _cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "tumen.cli", *args],
        capture_output=True,
        text=True,
        env={"PATH": "/usr/bin:/bin", **(env or {})},
        timeout=60,
        check=False,
    )


@pytest.mark.parametrize(
    ("args", "env", "needle"),
    [
        (["--config", "/nonexistent/tumen.yaml", "db", "upgrade"], {}, "config file not found"),
        (["db", "upgrade"], {"TUMEN_METRICS_PORT": "abc"}, "TUMEN_METRICS_PORT: metrics.port"),
        (["--profile", "/nonexistent/p.yaml", "poll", "--once"], {}, "profile file not found"),
    ],
)
def test_cli_config_error_is_one_line_exit_2(
    tmp_path: Path, args: list[str], env: dict[str, str], needle: str
) -> None:
    env = {**env, "TUMEN_DATABASE_URL": f"sqlite:///{tmp_path / 'x.db'}"}
    proc = _cli(*args, env=env)
    assert proc.returncode == 2, proc.stderr
    assert needle in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1, proc.stderr
    assert "Traceback" not in proc.stderr


def test_cli_unknown_key_in_file(tmp_path: Path) -> None:
    cfg = tmp_path / "bad.yaml"
    cfg.write_text("database: {ur1: sqlite://}\n")
    proc = _cli("--config", str(cfg), "db", "upgrade")
    assert proc.returncode == 2
    assert proc.stderr.strip() == f"tumen: error: {cfg}: database.ur1: unknown key"
