"""What the edge agent tells Prometheus, and whether it is ready: the heartbeat's figures
(one place for them: ``Agent.heartbeat``), read at scrape time, plus the uplink's state.

Imported only when the gateway config has a ``[metrics]`` table, so a gateway without one
does not pay for the library.
"""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client import CollectorRegistry
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.process_collector import ProcessCollector
from prometheus_client.registry import Collector

from edge_agent.agent import Agent

_PREFIX = "eldercare_edge_"


class EdgeCollector(Collector):
    def __init__(self, agent: Agent) -> None:
        self.agent = agent

    def collect(self) -> Iterator[Metric]:
        beat = self.agent.heartbeat()
        yield GaugeMetricFamily(_PREFIX + "outbox_readings",
                                "readings kept and not yet acknowledged by the centre",
                                value=beat.outbox_depth)
        yield GaugeMetricFamily(_PREFIX + "outbox_oldest_age_seconds",
                                "age of the oldest of them (0: none)",
                                value=beat.oldest_pending_age_s or 0.0)
        yield CounterMetricFamily(_PREFIX + "dropped_readings",
                                  "routine readings dropped for want of disk budget",
                                  value=beat.dropped_total)
        yield CounterMetricFamily(_PREFIX + "readings", "readings taken into the outbox",
                                  value=beat.readings_total)
        refused = CounterMetricFamily(_PREFIX + "refused", "local messages refused, by reason",
                                      labels=["reason"])
        for reason, n in sorted(beat.refused.items()):
            refused.add_metric([reason], n)
        yield refused
        yield CounterMetricFamily(_PREFIX + "local_alarms",
                                  "alarms raised on the home's own siren or light",
                                  value=self.agent.alarms_raised)
        yield CounterMetricFamily(_PREFIX + "fallback_alarms",
                                  "falls and SOS the centre did not take in time: the home's "
                                  "fallback alarm sounded",
                                  value=self.agent.fallback_alarms)
        yield GaugeMetricFamily(_PREFIX + "uplink_connected",
                                "1 while connected to the central broker",
                                value=int(self.agent.uplink.connected.is_set()))
        yield GaugeMetricFamily(_PREFIX + "disk_free_bytes", "free bytes where the outbox is",
                                value=beat.disk_free_bytes)


class EdgeMetrics:
    def __init__(self, agent: Agent) -> None:
        self.agent = agent
        self.registry = CollectorRegistry()
        ProcessCollector(registry=self.registry)
        self.registry.register(EdgeCollector(agent))

    def checks(self) -> dict[str, bool]:
        """Ready: subscribed at the home's broker. The uplink is not a condition: the
        outbox keeps everything while the centre is away (its metrics say so)."""
        return {"local_broker": self.agent.local_ready.is_set()}
