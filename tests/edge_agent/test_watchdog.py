"""The gateway's last-seen watchdog, on a fake clock."""

from __future__ import annotations

from edge_agent.config import DeviceConfig
from edge_agent.watchdog import Watchdog
from telemetry.clock import FakeClock
from telemetry.kinds import Kind
from telemetry.topics import Dialect

DOOR = DeviceConfig("front-door", Dialect.ZIGBEE2MQTT, "front_door", [Kind.DOOR])
RADAR = DeviceConfig("bathroom-radar", Dialect.ZIGBEE2MQTT, "bathroom_radar", [Kind.FALL],
                     battery_powered=False)
BED = DeviceConfig("bed-vitals", Dialect.ESPHOME, "bed-vitals", [Kind.HEART_RATE],
                   battery_powered=False)


def silent(watchdog: Watchdog) -> list[str]:
    return sorted(o.device_id for o in watchdog.check()
                  if o.kind is Kind.AVAILABILITY and o.value == 0.0)


def test_devices_behind_a_downed_radio_are_held_then_given_a_fresh_budget() -> None:
    clock = FakeClock()
    watchdog = Watchdog([DOOR, RADAR, BED], clock, battery_budget_s=7200, mains_budget_s=900)
    watchdog.hold(["front-door", "bathroom-radar", "not-configured"], held=True)
    clock.advance(3 * 3600)  # past both budgets: only the device on another radio is news
    assert silent(watchdog) == ["bed-vitals"]
    watchdog.hold(["front-door", "bathroom-radar"], held=False)  # the radio is back
    clock.advance(899)
    assert silent(watchdog) == []  # a fresh budget from the moment it came back
    clock.advance(2)
    assert silent(watchdog) == ["bathroom-radar"]
    clock.advance(7200)
    assert silent(watchdog) == ["front-door"]  # each silence once
    assert silent(watchdog) == []
