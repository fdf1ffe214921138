"""The site registry: who lives where, which devices are whose, whom to call.

``model`` (the records and the checked ``Registry``), ``load`` (from YAML; ``SAMPLE`` is
the demo's), ``time`` (the one home of a site's local time)."""

from registry.load import SAMPLE, load
from registry.model import (
    CheckIn,
    Contact,
    Device,
    Gateway,
    Org,
    Registry,
    RegistryError,
    RegistryFile,
    Resident,
    RoundPlan,
    Site,
    VisitDays,
    VitalLimit,
)

__all__ = [
    "SAMPLE",
    "CheckIn",
    "Contact",
    "Device",
    "Gateway",
    "Org",
    "Registry",
    "RegistryError",
    "RegistryFile",
    "Resident",
    "RoundPlan",
    "Site",
    "VisitDays",
    "VitalLimit",
    "load",
]
