"""The alert core refuses to start on settings that would silently not send an SMS."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from alerts.service import AlertService
from alerts.settings import AlertSettings, SettingsError
from ingest import registry as registry_module
from telemetry.clock import FakeClock
from tests.support.readings import T0


def _policy(tmp_path: Path) -> str:
    path = tmp_path / "policy.yaml"
    path.write_text(yaml.safe_dump({"default": {"steps": {"fall": [
        {"after_s": 60, "channel": "sms", "to": "family"}]}}}))
    return str(path)


def test_sms_steps_without_an_sms_gateway_are_a_startup_error(tmp_path: Path) -> None:
    settings = AlertSettings(policy=_policy(tmp_path))
    with pytest.raises(SettingsError, match="sends SMS"):
        AlertService(settings, registry_module.load(registry_module.SAMPLE), FakeClock(T0),
                     tmp_path)


def test_sms_printed_on_the_console_only_when_the_config_says_so(tmp_path: Path) -> None:
    settings = AlertSettings(policy=_policy(tmp_path), callback_port=0, sms="console")
    service = AlertService(settings, registry_module.load(registry_module.SAMPLE),
                           FakeClock(T0), tmp_path)
    service.callbacks.close()
    service.db.close()
