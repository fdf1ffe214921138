"""The sample registry, changed for one test (a site made a care home with shifts, a
resident moved home): written to a file the test's processes read."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

import registry


def edited_sample(tmp_path: Path, edit: Callable[[dict[str, Any]], None]) -> Path:
    """``registry.SAMPLE`` with ``edit`` applied to its document, as a file in ``tmp_path``."""
    doc = yaml.safe_load(registry.SAMPLE.read_text())
    edit(doc)
    path = tmp_path / "registry.yaml"
    path.write_text(yaml.safe_dump(doc))
    return path


def moved_home(doc: dict[str, Any]) -> None:
    """Test Resident B and gateway gw-00001 at site-001 (homes in the community)."""
    for item in (*doc["gateways"], *doc["residents"]):
        if item.get("gateway_id") == "gw-00001" or item.get("resident_id") == "res-00001":
            item["site_id"] = "site-001"


def night_rounds(doc: dict[str, Any]) -> None:
    """The sample care home (site-000) with three shifts and rounds every 2 h at night;
    every resident high risk."""
    doc["sites"][0]["shifts"] = ["08:00", "16:00", "00:00"]
    doc["sites"][0]["rounds"] = {"start": "22:00", "end": "06:00", "every_min": 120}
    for r in doc["residents"]:
        r["risk_tier"] = "high"
