"""The alert core's settings: the ``[alerts]`` table of the central config file."""

from __future__ import annotations

from pathlib import Path

import msgspec


class SettingsError(Exception):
    """A secret file named in the settings cannot be read."""


def _secret(path: str) -> str:
    try:
        return Path(path).read_text().strip()
    except OSError as exc:
        raise SettingsError(f"cannot read secret file {path}: {exc}") from exc


class KannelSettings(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    sendsms_url: str  # e.g. http://127.0.0.1:13013/cgi-bin/sendsms
    username: str
    password_file: str
    sender: str = ""

    def password(self) -> str:
        return _secret(self.password_file)


class SmtpSettings(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    host: str
    port: int
    sender: str
    starttls: bool = True


class AlertSettings(msgspec.Struct, frozen=True, forbid_unknown_fields=True,
                    omit_defaults=True):
    policy: str  # escalation policies (sample: alerts/policy.sample.yaml)
    callback_host: str = "127.0.0.1"  # Kannel's delivery reports and SMS replies come here
    callback_port: int = 13080
    reply_token_file: str | None = None
    kannel: KannelSettings | None = None  # without it, SMS notices go to the console
    webhook_secret_file: str | None = None
    smtp: SmtpSettings | None = None
    confirm_fall_s: float = 60.0
    bed_return_s: float = 1800.0

    def reply_token(self) -> str:
        return _secret(self.reply_token_file) if self.reply_token_file else ""

    def webhook_secret(self) -> bytes:
        if self.webhook_secret_file is None:
            raise SettingsError("webhook steps need webhook_secret_file")
        return _secret(self.webhook_secret_file).encode()
