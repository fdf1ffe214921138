"""Device ids a gateway reports about its own parts, not about a device of the registry.

A gateway sends these like any device's readings (kind ``availability``); the centre
accepts them from any gateway it knows, without a registry entry, and judges them as the
gateway's health, not a resident's device.
"""

from __future__ import annotations

# The Zigbee coordinator (the USB radio zigbee2mqtt drives): while it is down, every Zigbee
# fall radar, SOS button and door contact of the home is deaf.
ZIGBEE_COORDINATOR = "zigbee-coordinator"

# The gateway itself: its daily test alarm (``Kind.LINK_TEST``) comes from it.
GATEWAY_SELF = "gateway"

GATEWAY_PARTS: frozenset[str] = frozenset({ZIGBEE_COORDINATOR, GATEWAY_SELF})
