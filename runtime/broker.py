"""How a process connects to an MQTT broker: the ``[broker]`` table of the central config
and the ``[local]`` / ``[uplink]`` tables of a gateway's."""

from __future__ import annotations

import msgspec

from runtime.secrets import read_secret


class BrokerConnection(msgspec.Struct, frozen=True, forbid_unknown_fields=True,
                       omit_defaults=True):
    host: str = "127.0.0.1"
    port: int = 1883
    # The other nodes of a clustered broker, "host:port" each: tried in turn, after
    # ``host``/``port``, when the node in use is unreachable or drops the connection.
    also: list[str] = []
    username: str | None = None
    password_file: str | None = None  # the password stays in a file of its own
    ca_file: str | None = None  # TLS: the CA that signed the broker's certificate
    cert_file: str | None = None  # TLS client certificate and key, where required
    key_file: str | None = None

    def addresses(self) -> list[tuple[str, int]]:
        """Every address to try, the first one first.

        Raises:
            ValueError: an entry of ``also`` is not ``host:port``.
        """
        out = [(self.host, self.port)]
        for entry in self.also:
            host, sep, port = entry.rpartition(":")
            if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
                raise ValueError(f"broker address {entry!r} is not host:port")
            out.append((host, int(port)))
        return out

    def password(self) -> str | None:
        """The password, read from ``password_file`` (``SecretError`` if unreadable)."""
        return read_secret(self.password_file) if self.password_file else None
