"""``eldercare install``: a gateway and the central process installed into a temporary
root, checked with systemd's own tools (``systemd-analyze verify`` and ``security``,
``systemd-sysusers``); a second install keeps the operator's config."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from central import config as central_config
from edge_agent import config as edge_config
from eldercare_cli.install_cmd import central_unit

ROOT = Path(__file__).resolve().parents[1]
EXE = str(Path(sys.executable).with_name("eldercare"))
UNITS = Path("lib/systemd/system")


def _install(what: str, root: Path, *extra: str) -> str:
    done = subprocess.run([sys.executable, "-m", "eldercare_cli.main", "install", what,
                           "--root", str(root), "--exec", EXE, *extra], cwd=ROOT,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return done.stdout


def _verify(unit: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["systemd-analyze", "verify", "--man=no", str(unit)],
                          capture_output=True, text=True, timeout=60)


def _exposure(unit: Path) -> float:
    done = subprocess.run(["systemd-analyze", "security", "--offline=yes", "--man=no",
                           str(unit)], capture_output=True, text=True, timeout=60)
    found = re.search(r"Overall exposure level for \S+: (\d+\.\d+)", done.stdout)
    assert found, done.stdout + done.stderr
    return float(found.group(1))


@pytest.mark.parametrize(("what", "units", "configs"), [
    ("gateway", ["eldercare-edge-broker.service", "eldercare-edge.service"],
     ["gateway.toml", "edge/mosquitto.conf", "edge/passwd"]),
    ("central", ["eldercare-central-broker.service", "eldercare-central.service"],
     ["central.toml", "registry.yaml", "policy.yaml", "central/mosquitto.conf",
      "central/server.crt", "central/credentials/gw-00000.password"]),
])
def test_an_install_lays_down_units_systemd_accepts_and_keeps_config_on_upgrade(
    tmp_path: Path, what: str, units: list[str], configs: list[str],
) -> None:
    root = tmp_path / "root"
    # gateway: a LAN address (passwords on); central: the name gateways reach, one gateway
    out = _install(what, root, "--bind", "192.0.2.10", "--host", "mqtt.example.invalid",
                   "--gateway", "gw-00000")
    assert f"enable --now {' '.join(units)}" in out
    for name in configs:
        assert (root / "etc/eldercare" / name).is_file(), name
    for unit in units:
        path = root / UNITS / unit
        checked = _verify(path)
        assert checked.returncode == 0 and checked.stdout + checked.stderr == "", \
            checked.stdout + checked.stderr
        assert _exposure(path) <= 2.0  # systemd's own score: "OK" is below 4.0
        text = path.read_text()
        assert "Restart=always" in text and "User=" in text and "User=root" not in text
    # the config it laid down is one the processes load
    if what == "gateway":
        cfg = edge_config.load(root / "etc/eldercare/gateway.toml")
        assert cfg.data_dir == "/var/lib/eldercare-edge"
        broker = (root / "etc/eldercare/edge/mosquitto.conf").read_text()
        assert "allow_anonymous false" in broker
        assert "password_file /etc/eldercare/edge/passwd" in broker  # the path on the gateway
    else:
        central = central_config.load(root / "etc/eldercare/central.toml")
        assert central.data_dir == "/var/lib/eldercare"
        broker = (root / "etc/eldercare/central/mosquitto.conf").read_text()
        assert "certfile /etc/eldercare/central/server.crt" in broker  # the server's path
        assert "cafile /etc/eldercare/central/ca/ca.crt" in broker
        assert central.broker.password_file == \
            "/etc/eldercare/central/credentials/ingest.password"
        assert (root / "etc/eldercare/central/credentials/ingest.password").is_file()
    # the service user, made by systemd's own tool from what was laid down
    subprocess.run(["systemd-sysusers", "--root", str(root),
                    str(root / "usr/lib/sysusers.d/eldercare.conf")], check=True,
                   capture_output=True, timeout=60)
    assert re.search(r"^eldercare:x:\d+:\d+:", (root / "etc/passwd").read_text(), re.M)
    # an upgrade: the operator's edits survive, the units are written again
    edited = root / "etc/eldercare" / configs[0]
    edited.write_text(edited.read_text() + "# the operator's edit\n")
    before = edited.read_text()
    (root / UNITS / units[0]).write_text("stale")
    again = _install(what, root)
    assert f"kept  {edited} (exists)" in again
    assert edited.read_text() == before
    assert _verify(root / UNITS / units[0]).returncode == 0


def test_verify_is_not_a_formality(tmp_path: Path) -> None:
    """The same check fails on a unit whose command does not exist."""
    unit = tmp_path / "eldercare-central.service"
    unit.write_text(central_unit("/nonexistent/eldercare"))
    checked = _verify(unit)
    assert checked.returncode != 0 and "not executable" in checked.stderr
