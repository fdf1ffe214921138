"""The alert core's settings: the ``[alerts]`` table of the central config file."""

from __future__ import annotations

import secrets
import urllib.parse
from typing import Literal

import msgspec

from alerts.errors import AlertsError
from runtime.secrets import read_secret


class SettingsError(AlertsError):
    """A secret file named in the settings cannot be read."""


class KannelSettings(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    sendsms_url: str  # e.g. http://127.0.0.1:13013/cgi-bin/sendsms
    username: str
    password_file: str
    sender: str = ""

    def password(self) -> str:
        return read_secret(self.password_file)


class SmtpSettings(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    host: str
    port: int
    sender: str
    starttls: bool = True


class ClusterSettings(msgspec.Struct, frozen=True, forbid_unknown_fields=True,
                      omit_defaults=True):
    """One alert node of several (the ``[cluster]`` table of the central config): the
    gateways are split into ``partitions`` by the clustered broker, each partition owned
    by one live node through a lease in the shared PostgreSQL store ``state``."""

    node_id: str  # unique per node, the same across its restarts
    state: str  # libpq DSN: "postgresql://eldercare@db-host/eldercare" (password: ~/.pgpass)
    partitions: int = 6  # the broker's mapping must use the same number
    lease_ttl_s: float = 4.0  # a dead node's partitions move after this long

    def __post_init__(self) -> None:
        if not self.state.startswith(("postgresql://", "postgres://")):
            raise ValueError("[cluster] state must be a postgresql:// DSN")
        if self.partitions < 1 or self.lease_ttl_s < 1:
            raise ValueError("[cluster] partitions and lease_ttl_s must be 1 or more")


WILDCARDS = frozenset({"0.0.0.0", "::", "[::]", ""})


class AlertSettings(msgspec.Struct, frozen=True, forbid_unknown_fields=True,
                    omit_defaults=True):
    policy: str  # escalation policies (sample: alerts/policy.sample.yaml)
    callback_host: str = "127.0.0.1"  # Kannel's delivery reports and SMS replies come here
    callback_port: int = 13080
    # Where Kannel reaches this node's callbacks ("http://node-1.example.org:13080"): the
    # dlr-url of every SMS it sends. Needed when callback_host is a wildcard (0.0.0.0), which
    # names no address Kannel could call; by default http://callback_host:callback_port.
    callback_url: str = ""
    # The secret both callback URLs must carry (``&token=``): Kannel's sms-service get-url
    # for replies, and the dlr-url of every SMS we send. Required with ``kannel``.
    reply_token_file: str | None = None
    kannel: KannelSettings | None = None
    # "console": print SMS notices instead of sending them (a demo or a test only). Without
    # it, a policy with SMS steps and no [alerts.kannel] is refused at startup.
    sms: Literal["", "console"] = ""
    webhook_secret_file: str | None = None
    smtp: SmtpSettings | None = None
    confirm_fall_s: float = 60.0
    bed_return_s: float = 1800.0
    # How often what the detectors learned is written to the store (also at a clean stop
    # and when a node lets a partition go); a crash loses at most this much of it.
    learned_every_s: float = 600.0
    # A fall or SOS nobody at the desk has taken or acknowledged by then: the home's gateway
    # is told to sound its fallback alarm (``telemetry.commands.SOUND``); 0: never.
    sound_home_after_s: float = 120.0
    # A resident whose home unit can ask (a device that answers, ``Kind.ANSWER``) is asked
    # before an inactivity check reaches the desk; answered within this, the check is on
    # the timeline only. 0: never ask.
    prompt_answer_s: float = 120.0
    sos_cancel_s: float = 30.0  # an SOS pressed by mistake may be cancelled this long
    # In bed, breathing seen, then no breathing or heart rate reading for this long: an
    # alarm at once (``alerts.detectors.sleep``)
    no_vital_signs_s: float = 180.0
    # a visit not made this many days after it fell due is a warning on the desk
    visit_grace_days: float = 3.0

    def __post_init__(self) -> None:
        if not self.learned_every_s > 0:
            raise ValueError("[alerts] learned_every_s must be more than 0")
        if self.sound_home_after_s < 0:
            raise ValueError("[alerts] sound_home_after_s must be 0 (never) or more")
        if not 0 <= self.prompt_answer_s <= 600:
            raise ValueError("[alerts] prompt_answer_s must be 0 (never ask) to 600")
        if not 60 <= self.no_vital_signs_s <= 1800:
            raise ValueError("[alerts] no_vital_signs_s must be 60 to 1800")
        if not 0 <= self.visit_grace_days <= 30:
            raise ValueError("[alerts] visit_grace_days must be 0 to 30")
        if not 0 <= self.sos_cancel_s <= 120:
            raise ValueError("[alerts] sos_cancel_s must be 0 (no cancel) to 120")
        if self.kannel is not None and self.callback_host in WILDCARDS \
                and not self.callback_url:
            raise ValueError(f"[alerts] callback_host = {self.callback_host!r} listens on every "
                             "address but names none Kannel could send delivery reports to: "
                             "set callback_url to the address Kannel reaches this node at")
        if self.callback_url and not self.callback_url.startswith(("http://", "https://")):
            raise ValueError("[alerts] callback_url must be an http:// or https:// URL")
        if urllib.parse.urlsplit(self.callback_url).hostname in WILDCARDS:
            raise ValueError("[alerts] callback_url must name this node's own address")

    def reply_token(self) -> str:
        """The callbacks' secret; without Kannel nothing calls back, so a random one."""
        if self.reply_token_file:
            token = read_secret(self.reply_token_file)
            if len(token) < 16:
                raise SettingsError(f"{self.reply_token_file}: the callback token needs at "
                                    f"least 16 characters")
            return token
        if self.kannel is not None:
            raise SettingsError("[alerts.kannel] needs reply_token_file: without it anyone "
                                "who reaches the callback port could acknowledge a fall")
        return secrets.token_urlsafe(24)

    def webhook_secret(self) -> bytes:
        if self.webhook_secret_file is None:
            raise SettingsError("webhook steps need webhook_secret_file")
        return read_secret(self.webhook_secret_file).encode()
