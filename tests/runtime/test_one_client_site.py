"""One place builds an MQTT client (``runtime.mqtt.new_client``): the callback API
version and the protocol are chosen once for the product and the tools."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_only_runtime_mqtt_constructs_a_paho_client() -> None:
    built = sorted(str(p.relative_to(ROOT)) for p in ROOT.rglob("*.py")
                   if ".venv" not in p.parts and "tests" not in p.parts
                   and "mqtt.Client(" in p.read_text())
    assert built == ["runtime/mqtt.py"]
