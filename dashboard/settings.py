"""The dashboard's settings: the ``[dashboard]`` table of the central config file."""

from __future__ import annotations

import msgspec


class DashboardSettings(msgspec.Struct, frozen=True, forbid_unknown_fields=True,
                        omit_defaults=True):
    host: str = "127.0.0.1"  # put a TLS reverse proxy in front for other machines
    port: int = 8080
    secure_cookies: bool = False  # set true when served over HTTPS
