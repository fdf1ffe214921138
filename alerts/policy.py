"""Escalation policies, per site, from YAML (a sample ships beside this file).

The duty desk always sees an alert at once; a policy says who is told next if nobody at
the desk has acknowledged it: the family contacts one after another, then emergency
rescue. Steps are chosen by condition, else by severity; a condition with no steps stays
on the desk. A site without its own policy uses ``default``.
"""

from __future__ import annotations

import enum
from pathlib import Path

import msgspec
import yaml

from alerts.errors import AlertsError
from alerts.model import PROFILES, REQUESTS, Condition, Severity


class PolicyError(AlertsError):
    """The policy file is missing, malformed or inconsistent."""


class NoticeChannel(enum.StrEnum):
    SMS = "sms"
    WEBHOOK = "webhook"
    EMAIL = "email"
    CONSOLE = "console"


class Target(enum.StrEnum):
    FAMILY = "family"  # the resident's contacts, in order
    RESCUE = "rescue"  # the site's emergency centre
    VISITOR = "visitor"  # who visits the resident (their ``visitor``: a responder or contact)


# a contact has a phone number, no more
FAMILY_CHANNELS = (NoticeChannel.SMS, NoticeChannel.CONSOLE)


class Step(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    after_s: float
    channel: NoticeChannel
    to: Target
    next_contact_after_s: float = 120.0  # family: the next contact if no answer by then


class Rescue(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    webhook: str = ""
    phone: str = ""
    email: str = ""
    language: str = "zh"


class Response(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """What the desk must do once it has an alarm, and by when."""

    # taken or acknowledged, then neither dispatched nor resolved by then: open again, the
    # escalation goes on (keyed like the steps: a condition, else a severity; none: never)
    ack_timeout_s: dict[str, float] = msgspec.field(
        default_factory=lambda: {"fall": 900.0, "sos": 900.0})
    arrive_home_s: float = 1800.0  # a responder on site by then, at a home
    arrive_institution_s: float = 300.0  # ... inside a care institution
    send_next: bool = False  # a responder who cannot come or did not arrive: send the next
    # the requests the desk takes for this site's residents (by phone)
    request_types: list[str] = msgspec.field(
        default_factory=lambda: [c.value for c in sorted(REQUESTS)])

    def ack_timeout_for(self, condition: Condition) -> float | None:
        found = self.ack_timeout_s.get(condition.value)
        if found is None:
            found = self.ack_timeout_s.get(PROFILES[condition].severity.name.lower())
        return found


class SitePolicy(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    rescue: Rescue = Rescue()
    steps: dict[str, list[Step]] = {}  # condition or severity name -> steps
    response: Response = Response()

    def steps_for(self, condition: Condition) -> list[Step]:
        if condition in REQUESTS:  # a request never pages family or rescue
            return []
        steps = self.steps.get(condition.value)
        if steps is None:
            steps = self.steps.get(PROFILES[condition].severity.name.lower(), [])
        return steps


class PolicyFile(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    default: SitePolicy
    sites: dict[str, SitePolicy] = {}


# What a policy's steps are keyed by: a condition's name, or a severity's for every
# condition of that severity without steps of its own (a request has none).
STEP_KEYS: tuple[str, ...] = (*(c.value for c in Condition if c not in REQUESTS),
                              *(s.name.lower() for s in Severity))


class Policies:
    def __init__(self, data: PolicyFile) -> None:
        self.data = data
        self._default = data.default
        self._sites = data.sites
        for policy in (data.default, *data.sites.values()):
            for key in policy.response.request_types:
                if key not in {c.value for c in REQUESTS}:
                    raise PolicyError(f"request_types: no request called {key!r}")
            for key in policy.response.ack_timeout_s:
                if key not in STEP_KEYS:
                    raise PolicyError(f"ack_timeout_s: no condition or severity called {key!r}")
            for key, steps in policy.steps.items():
                if key not in STEP_KEYS:
                    raise PolicyError(f"no condition or severity called {key!r}")
                if any(s.to is Target.RESCUE and not rescue_address(policy.rescue, s.channel)
                       for s in steps):
                    raise PolicyError(f"{key}: a rescue step needs a rescue address for "
                                      f"its channel")
                if any(s.to in (Target.FAMILY, Target.VISITOR)
                       and s.channel not in FAMILY_CHANNELS
                       for s in steps):
                    raise PolicyError(f"{key}: family contacts are reached by "
                                      f"{' or '.join(FAMILY_CHANNELS)} (they have a phone)")

    def for_site(self, site_id: str) -> SitePolicy:
        return self._sites.get(site_id, self._default)

    def channels(self) -> set[NoticeChannel]:
        """Every channel some step of some site's policy sends on."""
        return {step.channel for policy in (self._default, *self._sites.values())
                for steps in policy.steps.values() for step in steps}

    def with_site(self, site_id: str, policy: SitePolicy) -> Policies:
        """A copy with ``site_id``'s own policy replaced. Raises PolicyError."""
        sites = {**self._sites, site_id: policy}
        return Policies(PolicyFile(default=self._default, sites=sites))


def save(policies: Policies, path: Path) -> None:
    """Write the policy file atomically (a crash leaves the old or the new one)."""
    text = yaml.safe_dump(msgspec.to_builtins(policies.data), sort_keys=False,
                          allow_unicode=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(text)
    tmp.replace(path)

def rescue_address(rescue: Rescue, channel: NoticeChannel) -> str:
    """Where a rescue notice by ``channel`` goes ("" when the policy has none)."""
    return {NoticeChannel.SMS: rescue.phone, NoticeChannel.WEBHOOK: rescue.webhook,
            NoticeChannel.EMAIL: rescue.email, NoticeChannel.CONSOLE: "console"}[channel]


def load(path: Path) -> Policies:
    try:
        return Policies(msgspec.convert(yaml.safe_load(path.read_text()), PolicyFile))
    except OSError as exc:
        raise PolicyError(f"cannot read {path}: {exc}") from exc
    except (yaml.YAMLError, msgspec.ValidationError) as exc:
        raise PolicyError(f"{path}: {exc}") from exc


SAMPLE = Path(__file__).with_name("policy.sample.yaml")
