"""The site registry of a simulated fleet: what the centre must know about its homes.

The same fake names as ``layout`` (sites of 20 homes, one gateway and one resident per
home, every device of ``layout.DEVICES``), residents at risk of wandering as the routine
model says, and two fake contacts each. Simulated routines run on UTC, so the sites do.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import msgspec
import yaml

from firmware_stubs import layout
from firmware_stubs.routine import Profiles
from registry import Registry, RegistryFile
from telemetry.kinds import Kind


def registry_data(homes: int, seed: int) -> dict[str, Any]:
    risk = Profiles(seed, homes).wandering_risk
    sites = sorted({layout.site_id(h) for h in range(homes)})
    return {
        "sites": [{"site_id": s, "name": f"Simulated site {s}", "timezone": "UTC",
                   "address": f"{int(s[5:]) + 1} Simulation Road"} for s in sites],
        "gateways": [{"gateway_id": layout.gateway_id(h), "site_id": layout.site_id(h)}
                     for h in range(homes)],
        "residents": [{
            "resident_id": layout.resident_id(h), "site_id": layout.site_id(h),
            "room": layout.home_id(h), "display_name": f"Test Resident {h}",
            "medical_notes": "simulated", "wandering_risk": bool(risk[h]),
            "contacts": [{"name": f"Test Family {h}-{k}",
                          "phone": f"+8600000{h:05d}{k:03d}", "language": "zh"}
                         for k in range(2)]} for h in range(homes)],
        "devices": [{"device_id": d.device_id, "gateway_id": layout.gateway_id(h),
                     "resident_id": layout.resident_id(h), "room": d.room.value,
                     "kinds": [k.value for k in d.kinds if k is not Kind.LINK_QUALITY]}
                    for h in range(homes) for d in layout.DEVICES],
    }


def write(path: Path, homes: int, seed: int) -> None:
    path.write_text(yaml.safe_dump(registry_data(homes, seed), sort_keys=False))


def registry(homes: int, seed: int) -> Registry:
    return Registry(msgspec.convert(registry_data(homes, seed), RegistryFile))
