"""Broker limits both ends must agree on, apart from the generators (which need
``cryptography``): the edge agent imports these and nothing heavier."""

from __future__ import annotations

# QoS 1 messages the edge broker has in flight to one client. The edge agent acknowledges
# its devices' messages in groups, after each outbox commit (up to 10 fewer than this at a
# time): Mosquitto's default of 20 would make it wait for its own window.
EDGE_MAX_INFLIGHT = 100
