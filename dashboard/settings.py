"""The dashboard's settings: the ``[dashboard]`` table of the central config file."""

from __future__ import annotations

import ipaddress

import msgspec


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class DashboardSettings(msgspec.Struct, frozen=True, forbid_unknown_fields=True,
                        omit_defaults=True):
    host: str = "127.0.0.1"  # put a TLS reverse proxy in front for other machines
    port: int = 8080
    # The session cookie only over HTTPS. Required when the desk listens beyond loopback:
    # it is then reached through a TLS proxy, and a cookie sent in clear text would let
    # anyone on the network act as the nurse who signed in.
    secure_cookies: bool = False

    def __post_init__(self) -> None:
        if not self.secure_cookies and not _loopback(self.host):
            raise ValueError(f"[dashboard] host = {self.host!r} is reachable from other "
                             "machines: serve it through HTTPS and set secure_cookies = true")
