"""The ``eldercare`` command as a user runs it."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from eldercare_cli.main import build_parser
from harness.mosquitto import LocalMosquitto

CLI = [sys.executable, "-m", "eldercare_cli.main"]


def _run(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*CLI, *args], capture_output=True, text=True, timeout=timeout,
                          check=False)


def test_help_lists_every_subcommand_and_each_has_help() -> None:
    top = _run("--help")
    assert top.returncode == 0
    commands = build_parser()._subparsers._group_actions[0].choices  # type: ignore[union-attr]
    assert {"simulate", "demo"} <= set(commands)
    for name in commands:
        assert name in top.stdout
        sub = _run(name, "--help")
        assert sub.returncode == 0 and "usage: eldercare " + name in sub.stdout


def test_simulate_without_a_broker_prints_device_messages() -> None:
    done = _run("simulate", "--homes", "2", "--speed", "3600", "--duration", "1",
                "--start", "2026-11-23T07:00:00Z")
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert "zigbee2mqtt/bridge/state (retained)  online" in lines
    assert any(line.startswith("native/h00001-wristband/vitals  {") for line in lines)


@pytest.mark.parametrize("args", [["--homes", "0"], ["--broker", "http://x"],
                                  ["--level", "cloud"]])
def test_simulate_refuses_bad_arguments_clearly(args: list[str]) -> None:
    done = _run("simulate", "--duration", "1", *args)
    assert done.returncode != 0
    assert "error" in done.stderr and "Traceback" not in done.stderr


def test_simulate_reports_a_json_stats_line_and_labels(mosquitto: LocalMosquitto,
                                                       tmp_path: object) -> None:
    from pathlib import Path

    labels = Path(str(tmp_path)) / "labels.jsonl"
    done = _run("simulate", "--level", "gateway", "--homes", "50", "--speed", "3600",
                "--duration", "2", "--broker", mosquitto.url, "--stats",
                "--incident-rate", "5", "--labels", str(labels))
    assert done.returncode == 0, done.stderr
    stats = json.loads(done.stdout.splitlines()[-1])
    assert stats["readings"] > 1000 and stats["readings_per_s"] > 0
    assert stats["messages_per_s"] > 0
    assert len(labels.read_text().splitlines()) == stats["incidents"] > 0


def test_registry_import_and_export_round_trip_and_a_bad_file_changes_nothing(
        tmp_path: Path) -> None:
    import registry
    from central import config
    from registry.db import read_file

    cfg = tmp_path / "central.toml"
    cfg.write_bytes(config.dump(config.CentralConfig(data_dir=str(tmp_path / "data"),
                                                     registry=str(registry.SAMPLE))))
    done = _run("registry", "import", "--config", str(cfg), str(registry.SAMPLE))
    assert done.returncode == 0, done.stderr
    assert "2 sites, 2 gateways, 2 residents" in done.stdout
    out = tmp_path / "out.yaml"
    assert _run("registry", "export", "--config", str(cfg), str(out)).returncode == 0
    assert read_file(out) == read_file(registry.SAMPLE)
    bad = tmp_path / "bad.yaml"
    bad.write_text(registry.SAMPLE.read_text().replace("site_id: site-000}",
                                                       "site_id: site-404}"))
    refused = _run("registry", "import", "--config", str(cfg), str(bad))
    assert refused.returncode == 2 and "Traceback" not in refused.stderr
    assert refused.stderr.count("unknown site site-404") == 2  # both gateways named
    again = _run("registry", "export", "--config", str(cfg))
    assert again.returncode == 0 and again.stdout == out.read_text()  # nothing changed
