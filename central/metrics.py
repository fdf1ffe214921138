"""What the central process tells Prometheus, and whether it is ready.

Most figures already exist where the work is done (ingest counters, the dead-letter table,
the spool, the alert state); a collector reads them at scrape time, so there is one place
for each count. Two are measured here as histograms: how long a store write takes, and how
long a fall or SOS takes from the device to the desk (the detector's time of the reading to
the alert being opened and pushed to the page).
"""

from __future__ import annotations

import socket
import urllib.parse
from collections.abc import Iterator

from prometheus_client import CollectorRegistry, Histogram
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.process_collector import ProcessCollector
from prometheus_client.registry import Collector

from alerts.model import AlertChange, Change, Condition
from alerts.service import AlertService
from central.cluster import ClusterNode
from ingest.consumer import Ingest
from ingest.store.spool import SpooledStore
from telemetry.clock import Clock

LATE_STEP_MS = 30_000  # an escalation step pending this long past its time is late
URGENT = frozenset({Condition.FALL, Condition.SOS})
_PREFIX = "eldercare_"


class CentralCollector(Collector):
    def __init__(self, ingest: Ingest, alerts: AlertService | None, clock: Clock,
                 sms_gateway: tuple[str, int] | None,
                 cluster: ClusterNode | None = None) -> None:
        self.ingest = ingest
        self.alerts = alerts
        self.clock = clock
        self.sms_gateway = sms_gateway
        self.cluster = cluster

    def collect(self) -> Iterator[Metric]:
        yield from self._ingest()
        if self.cluster is not None:
            yield from self._cluster(self.cluster)
        if self.alerts is not None:
            yield from self._alerts(self.alerts)

    def _cluster(self, node: ClusterNode) -> Iterator[Metric]:
        yield GaugeMetricFamily(_PREFIX + "cluster_partitions_held",
                                "partitions whose lease this alert node holds",
                                value=len(node.leases.held))
        yield GaugeMetricFamily(_PREFIX + "cluster_partitions_open",
                                "partitions whose broker sessions this node has open",
                                value=len(node.ingest.partitions()))
        yield GaugeMetricFamily(_PREFIX + "cluster_lease_age_seconds",
                                "since the start of the last round that renewed the leases",
                                value=node.lease_age_ms() / 1000)
        yield CounterMetricFamily(_PREFIX + "cluster_fences",
                                  "times the node let its partitions go, leases not renewed",
                                  value=node.fences)
        yield GaugeMetricFamily(_PREFIX + "cluster_degraded",
                                "1 while the node cannot keep its leases",
                                value=int(node.degraded()))

    def _ingest(self) -> Iterator[Metric]:
        ingest = self.ingest
        counts = ingest.counters()
        yield CounterMetricFamily(_PREFIX + "ingest_messages", "MQTT messages received",
                                  value=counts.get("messages", 0))
        readings = CounterMetricFamily(_PREFIX + "ingest_readings",
                                       "readings by outcome at the centre", labels=["outcome"])
        for outcome, key in (("accepted", "accepted"), ("stored", "stored"),
                             ("handed", "handed"), ("duplicate", "duplicates")):
            readings.add_metric([outcome], counts.get(key, 0))
        yield readings
        refused = CounterMetricFamily(_PREFIX + "ingest_refused",
                                      "messages or readings refused, by reason",
                                      labels=["reason"])
        for key, n in sorted(counts.items()):
            if key.startswith("refused:"):
                refused.add_metric([key.removeprefix("refused:")], n)
        yield refused
        yield CounterMetricFamily(_PREFIX + "store_errors", "store writes that failed",
                                  value=counts.get("store_errors", 0))
        dead = GaugeMetricFamily(_PREFIX + "dead_letters", "dead letters kept, by reason",
                                 labels=["reason"])
        for reason, n in sorted(ingest.dead.reasons().items()):
            dead.add_metric([reason], n)
        yield dead
        handoff = ingest.handoff
        yield CounterMetricFamily(_PREFIX + "consumer_errors",
                                  "alert-core hand-offs that failed (and were retried)",
                                  value=handoff.errors + counts.get("status_consumer_errors", 0))
        yield GaugeMetricFamily(_PREFIX + "consumer_backlog",
                                "readings waiting to be handed to the alert core again",
                                value=handoff.pending())
        yield CounterMetricFamily(_PREFIX + "consumer_dropped",
                                  "routine readings dropped from a full retry backlog",
                                  value=handoff.dropped)
        yield GaugeMetricFamily(_PREFIX + "alert_core_degraded",
                                "1 while the alert core fails to take readings",
                                value=int(handoff.degraded()))
        yield GaugeMetricFamily(_PREFIX + "broker_connected",
                                "1 while every ingest lane is connected and subscribed",
                                value=int(ingest.connected()))
        if isinstance(ingest.store, SpooledStore):
            spool = ingest.store.status()
            yield GaugeMetricFamily(_PREFIX + "spool_readings",
                                    "readings spooled while the store is away",
                                    value=spool["spool_readings"] or 0)
            yield GaugeMetricFamily(_PREFIX + "spool_oldest_age_seconds",
                                    "age of the oldest spooled batch (0: none)",
                                    value=spool["spool_oldest_age_s"] or 0)
            yield GaugeMetricFamily(_PREFIX + "store_refused_readings",
                                    "readings the store refused for good (kept aside)",
                                    value=spool["store_refused_readings"] or 0)

    def _alerts(self, alerts: AlertService) -> Iterator[Metric]:
        yield GaugeMetricFamily(_PREFIX + "alert_signals_kept",
                                "signals raised and not yet recorded (the alert store "
                                "failed on them); recorded when it is back",
                                value=alerts.kept())
        yield CounterMetricFamily(_PREFIX + "alert_signals_kept_dropped",
                                  "kept signals given up (over the bound, never critical)",
                                  value=alerts.kept_dropped)
        learned = CounterMetricFamily(
            _PREFIX + "learned_snapshots", "detector snapshots by outcome: restored, "
            "refused (version, corrupt, unknown), written, write_failed, read_failed",
            labels=["outcome", "detector"])
        for (outcome, detector), n in sorted(dict(alerts.learned_counts).items()):
            learned.add_metric([outcome, detector], n)
        yield learned
        db = alerts.db
        open_alerts = GaugeMetricFamily(_PREFIX + "open_alerts",
                                        "unresolved alerts by condition and severity",
                                        labels=["condition", "severity"])
        for condition, severity, n in db.alerts.open_counts():
            open_alerts.add_metric([condition.value, severity.name.lower()], n)
        yield open_alerts
        notices = GaugeMetricFamily(_PREFIX + "notices", "notices by channel and state",
                                    labels=["channel", "state"])
        for channel, state, n in db.notices.counts():
            notices.add_metric([channel, state.value], n)
        yield notices
        due, late = db.steps.counts(self.clock.now_ms(), LATE_STEP_MS)
        steps = GaugeMetricFamily(_PREFIX + "escalation_steps",
                                  "escalation steps pending and due now; late: overdue by "
                                  f"more than {LATE_STEP_MS // 1000} s", labels=["when"])
        steps.add_metric(["due"], due)
        steps.add_metric(["late"], late)
        yield steps
        yield from self._response(alerts)
        callbacks = alerts.callbacks
        reports = CounterMetricFamily(_PREFIX + "sms_callbacks",
                                      "SMS gateway callbacks: delivery reports by outcome, "
                                      "replies, refused (no or wrong secret)", labels=["kind"])
        for kind in ("delivered", "failed", "other", "reply"):
            reports.add_metric([kind], callbacks.reports[kind])
        reports.add_metric(["refused"], callbacks.refused)
        yield reports
        if self.sms_gateway is not None:
            yield GaugeMetricFamily(_PREFIX + "sms_gateway_up",
                                    "1 if the SMS gateway's sendsms port answers",
                                    value=int(reachable(*self.sms_gateway)))


    def _response(self, alerts: AlertService) -> Iterator[Metric]:
        """The response report's figures over the last 30 days (the same SQL as the desk's
        report), and the response's events since start."""
        now = self.clock.now_ms()
        report = alerts.db.reports
        total = report.answers(now - RESPONSE_WINDOW_MS, now)[0]
        sent = report.dispatches(now - RESPONSE_WINDOW_MS, now)
        window = "last 30 days"
        yield GaugeMetricFamily(_PREFIX + "response_alarms", f"alarms opened, {window}",
                                value=total["alarms"])
        shares = GaugeMetricFamily(_PREFIX + "response_answered_share",
                                   f"share of alarms answered (taken) within, {window}",
                                   labels=["within"])
        for within in ("60s", "180s"):
            shares.add_metric([within], total[f"answered_{within}_share"] or 0)
        yield shares
        times = GaugeMetricFamily(_PREFIX + "response_seconds",
                                  f"answer and arrival times by quantile, {window}",
                                  labels=["what", "quantile"])
        for what, row, key in (("answer", total, "answer_ms"),
                               ("arrival", sent, "arrival_ms")):
            for q in ("p50", "p90"):
                if row[f"{key}_{q}"] is not None:
                    times.add_metric([what, q], row[f"{key}_{q}"] / 1000)
        yield times
        outcomes = GaugeMetricFamily(_PREFIX + "response_dispatches",
                                     f"responders sent, by how it went, {window}",
                                     labels=["state"])
        for state in ("dispatched", "arrived", "non_arrivals", "cannot_come"):
            outcomes.add_metric([state], sent[state])
        yield outcomes
        events = CounterMetricFamily(_PREFIX + "response_events",
                                     "responders sent, not arrived, could not come, ack "
                                     "timeouts, refusals (by reason) since start",
                                     labels=["event"])
        for key, n in sorted(alerts.core.counts.items()):
            if key in RESPONSE_EVENTS or key.startswith("refused:"):
                events.add_metric([key], n)
        yield events


RESPONSE_WINDOW_MS = 30 * 86_400_000
RESPONSE_EVENTS = ("dispatched", "responder_not_arrived", "responder_cannot_come",
                   "ack_timeout", "responder_message")


def reachable(host: str, port: int, timeout_s: float = 0.5) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout_s):
            return True
    except OSError:
        return False


def host_port(url: str) -> tuple[str, int]:
    parts = urllib.parse.urlsplit(url)
    return parts.hostname or "127.0.0.1", parts.port or (443 if parts.scheme == "https" else 80)


class CentralMetrics:
    """The registry for one central process, and its readiness checks."""

    def __init__(self, ingest: Ingest, alerts: AlertService | None, clock: Clock,
                 cluster: ClusterNode | None = None) -> None:
        self.ingest = ingest
        self.alerts = alerts
        kannel = alerts.settings.kannel if alerts is not None else None
        self.sms_gateway = host_port(kannel.sendsms_url) if kannel is not None else None
        self.registry = CollectorRegistry()
        ProcessCollector(registry=self.registry)
        self.registry.register(CentralCollector(ingest, alerts, clock, self.sms_gateway,
                                                cluster))
        self.write_seconds = Histogram(
            _PREFIX + "store_write_seconds", "how long one batched store write took",
            registry=self.registry,
            buckets=(0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10))
        self.to_desk_seconds = Histogram(
            _PREFIX + "urgent_to_desk_seconds",
            "a fall or SOS: from the reading's time to the alert on the desk",
            ["condition"], registry=self.registry,
            buckets=(0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 120, 300))
        ingest.observe_write = self.write_seconds.observe
        if alerts is not None:
            alerts.core.listeners.append(self._on_change)

    def _on_change(self, change: AlertChange) -> None:
        alert = change.alert
        if change.change is Change.OPENED and alert.condition in URGENT \
                and change.signal_t_ms is not None:
            seconds = max(0.0, (change.at_ms - change.signal_t_ms) / 1000)
            self.to_desk_seconds.labels(alert.condition.value).observe(seconds)

    def checks(self) -> dict[str, bool]:
        """Ready: subscribed at the broker, the store taking writes, the alert core taking
        readings. The SMS gateway is reported beside them, and does not make the process
        unready: the desk still sees every alert without it."""
        out = {"broker": self.ingest.connected(),
               "store": not self.ingest.store_failing}
        if self.alerts is not None:
            out["alert_state"] = not self.ingest.handoff.degraded()
        return out
