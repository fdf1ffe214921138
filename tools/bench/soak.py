"""``eldercare bench soak``: the whole central process for many simulated days.

The central process (ingest, alert core with its state, embedded store, retention, the
duty desk's API) runs in this process on a simulated clock; the gateway-level fleet runner
publishes ``homes`` homes with labelled incidents into a real Mosquitto as fast as the
centre takes them (the simulated clock moves one step at a time and waits for the centre to
have handled what was sent, and the alert core's timers run a round each step); SMS go
through a real Kannel to its fake SMSC. A simulated
duty desk signs in, reads ``/api/alerts`` every simulated hour as the page does and
resolves what has been open for two simulated hours.

Per simulated day (an eighth of the run if shorter) it prints the process's RSS and the
store's and alert state's size on
disk. At the end: every labelled incident after the warm-up days (the detectors learn each
resident's usual first, as a centre that has been running has) that reached the desk's API
as an alert of its expected condition, and among those with an SMS step in the policy the
ones that were texted; readings lost (published but neither stored raw nor rolled up) and
readings handed to the alert core twice; SMS at the SMSC beyond the notices sent; the
open-alerts API's p99 at the end; growth of RSS and disk over the second half. Half-way
(``restart_at_day``) the central process stops cleanly and starts again, as an upgrade
does: the routines it takes back, and the inactivity incidents on the desk before and
after it, are reported. The last line is one JSON object.

Store workers are not used here: they run on the real clock, which this simulated month is
not on.
"""

from __future__ import annotations

import collections
import secrets
import shutil
import sqlite3
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx2 as httpx
import yaml

from alerts.detectors.snapshot import Refused
from alerts.model import Condition
from alerts.settings import AlertSettings, KannelSettings
from bench.stats import pct
from central.config import CentralConfig, RetentionConfig
from central.process import CentralProcess
from dashboard.accounts.model import Role
from dashboard.settings import DashboardSettings
from evaluation.alert_runs import EXPECTED, GRACE_MS, NO_ALERT
from firmware_stubs import incidents as inc
from firmware_stubs import site_registry
from firmware_stubs.mqtt_out import Publisher
from firmware_stubs.runner import Level, RunConfig, plan_incidents, run
from harness.kannel import LocalKannel, reply_url
from harness.mosquitto import LocalMosquitto
from harness.process import free_port
from runtime.broker import BrokerConnection
from telemetry.clock import DAY_MS, HOUR_MS, FakeClock, SystemClock
from telemetry.reading import Reading

SEED = 1
WARM_UP_DAYS = 3
RESOLVE_AFTER_MS = 2 * HOUR_MS
TAIL_MINUTES = 10  # simulated minutes the centre runs after the fleet's last message
TEXTED = (Condition.FALL, Condition.SOS)  # the conditions the soak's policy texts
PASSWORD = secrets.token_urlsafe(16)


def _rss_mb() -> float:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def _size_mb(folder: Path, *names: str) -> float:
    total = 0
    for name in names:
        for suffix in ("", "-wal", "-shm"):
            path = folder / f"{name}{suffix}"
            if path.exists():
                total += path.stat().st_size
    return total / 2**20


class _Desk:
    """A duty desk on the API: reads the alerts every simulated hour, resolves the old."""

    def __init__(self, url: str, clock: FakeClock) -> None:
        self.clock = clock
        self.client = httpx.Client(base_url=url, timeout=30)
        self.seen: dict[int, dict[str, Any]] = {}
        # every notice as the desk's API listed it (with its alert_id), read before the
        # alert is resolved: retention removes resolved alerts and their notices later
        self.notices: dict[int, dict[str, Any]] = {}
        self.since_ms = 0
        self.resolved = 0
        self.sign_ins = 0
        self._sign_in()

    def _sign_in(self) -> None:  # again whenever the session ran out (simulated days pass)
        signed = self.client.post("/api/login", json={"username": "soak-nurse",
                                                       "password": PASSWORD})
        signed.raise_for_status()
        self.client.headers["X-CSRF-Token"] = signed.json()["csrf"]
        self.sign_ins += 1

    def _call(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        response = self.client.request(method, path, **kwargs)
        if response.status_code == 401:
            self._sign_in()
            response = self.client.request(method, path, **kwargs)
        return response

    def _alerts(self, **params: Any) -> list[dict[str, Any]]:
        response = self._call("GET", "/api/alerts", params={"limit": 1000, **params})
        response.raise_for_status()
        listed: list[dict[str, Any]] = response.json()
        return listed

    def sweep(self) -> None:
        now = self.clock.now_ms()
        for alert in self._alerts(since_ms=self.since_ms):
            self.seen.setdefault(alert["alert_id"], alert)
        self.since_ms = now
        for alert in self._alerts(open_only="true"):
            self.seen.setdefault(alert["alert_id"], alert)
            if now - alert["opened_ms"] >= RESOLVE_AFTER_MS:
                self.read_notices(alert["alert_id"])
                done = self._call("POST", f"/api/alerts/{alert['alert_id']}/resolve",
                                  json={"note": "soak: seen to", "outcome": "test"})
                self.resolved += done.status_code == 200

    def read_notices(self, alert_id: int) -> None:
        response = self._call("GET", f"/api/alerts/{alert_id}/notices")
        if response.status_code == 404:  # resolved and removed by retention: read before
            return
        response.raise_for_status()
        for notice in response.json():
            self.notices[notice["notice_id"]] = {**notice, "alert_id": alert_id}

    def sms_sent(self) -> list[dict[str, Any]]:
        return [n for n in self.notices.values()
                if n["channel"] == "sms" and n["state"] in ("sent", "delivered")]

    def open_alerts_ms(self, times: int) -> list[float]:
        out = []
        for _ in range(times):
            began = time.perf_counter()
            self._alerts(open_only="true")
            out.append((time.perf_counter() - began) * 1000)
        return out

    def close(self) -> None:
        self.client.close()


def run_soak(homes: int = 1000, days: float = 30.0, step_s: float = 60.0,
             incident_rate: float = 0.1, out: Any = sys.stderr,
             restart_at_day: float | None = None,
             warm_up_days: float = WARM_UP_DAYS) -> dict[str, Any]:
    """``restart_at_day``: the central process stopped cleanly and started again at that
    simulated day (None: half-way; 0: never). ``warm_up_days``: incidents before this
    are not scored (the detectors learn each resident's usual first)."""
    if restart_at_day is None:
        restart_at_day = float(round(days / 2))
    work = Path(tempfile.mkdtemp(prefix="eldercare-soak-"))
    data = work / "central"
    (work / "registry.yaml").write_text(yaml.safe_dump(site_registry.registry_data(homes,
                                                                                   SEED)))
    policy = work / "policy.yaml"
    policy.write_text(yaml.safe_dump({"default": {"steps": {
        "fall": [{"after_s": 60, "channel": "sms", "to": "family"}],
        "sos": [{"after_s": 0, "channel": "sms", "to": "family"}]}}}))
    token = secrets.token_urlsafe(24)
    callback_port = free_port()
    broker = LocalMosquitto().start()
    kannel = LocalKannel(reply_url(callback_port, token))
    kannel.start()
    (work / "kannel.password").write_text(kannel.password)
    (work / "callback.token").write_text(token)
    now = SystemClock().now_ms()
    start_ms = now - now % DAY_MS - int(days + 1) * DAY_MS
    clock = FakeClock(start_ms)
    port = free_port()
    cfg = CentralConfig(
        data_dir=str(data), registry=str(work / "registry.yaml"),
        broker=BrokerConnection(port=broker.port),
        alerts=AlertSettings(policy=str(policy), callback_port=callback_port,
                             reply_token_file=str(work / "callback.token"),
                             kannel=KannelSettings(kannel.sendsms_url, kannel.username,
                                                   str(work / "kannel.password"))),
        dashboard=DashboardSettings(port=port),
        # raw for a week, aggregates past the run (so every reading is still counted),
        # resolved alerts for a week; a round every 2 s of real time
        retention=RetentionConfig(raw_days=7, rollup_days=days + 30,
                                  resolved_alert_days=7, every_s=2.0))
    central = CentralProcess(cfg, clock)
    assert central.accounts is not None and central.alerts is not None
    central.accounts.create_user("soak-nurse", PASSWORD, Role.NURSE, clock.now_ms())
    handed = [0]

    def count(readings: list[Reading]) -> None:
        handed[0] += len(readings)

    central.ingest.consumers.append(count)
    handled_before = [0]  # messages the processes before a restart handled
    restarted: dict[str, Any] = {}
    sim = RunConfig(level=Level.GATEWAY, homes=homes, speed=1.0, duration_s=days * 86_400,
                    seed=SEED, start_ms=start_ms, step_s=step_s, incident_rate=incident_rate)
    incidents = plan_incidents(sim)
    publisher: Publisher | None = None
    desk: _Desk | None = None
    daily: list[dict[str, float]] = []
    try:
        central.start()
        if not central.ingest.ready.wait(30):
            raise RuntimeError("ingest did not subscribe")
        desk = _Desk(f"http://127.0.0.1:{port}", clock)
        publisher = Publisher(broker.url, "soak-gateways")
        pub = publisher
        next_sweep = [start_ms + HOUR_MS]
        # a row of memory and disk a simulated day (at least eight in a short run, so the
        # second half's growth is measured on more than its two ends)
        row_ms = int(min(DAY_MS, days * DAY_MS / 8))
        next_day = [start_ms + row_ms]
        began = time.monotonic()

        alerts = central.alerts

        def caught_up(slack: int) -> None:
            while handled_before[0] + central.ingest.count("handled") < pub.messages - slack:
                time.sleep(0.002)

        def stored_all() -> None:
            waited = time.monotonic()  # and every accepted reading written to the store
            while central.ingest.count("stored") < central.ingest.count("accepted") \
                    and time.monotonic() - waited < 600:
                time.sleep(0.1)

        def restart() -> None:
            """A clean stop and a start, as an upgrade does: what the detectors learned
            goes to the store and comes back."""
            nonlocal central, alerts
            caught_up(0)
            stored_all()
            handled_before[0] += central.ingest.count("handled")
            stopped = time.monotonic()
            central.close()
            central = CentralProcess(cfg, clock)
            central.ingest.consumers.append(count)
            central.start()
            if not central.ingest.ready.wait(30):
                raise RuntimeError("ingest did not subscribe after the restart")
            assert central.alerts is not None
            alerts = central.alerts
            restarted.update(at_ms=clock.now_ms(), real_s=time.monotonic() - stopped,
                             routines=alerts.learned("restored", "inactivity"),
                             refused=sum(alerts.learned(r.value)
                                         for r in Refused))
            print(f"restarted at day {(clock.now_ms() - start_ms) / DAY_MS:.1f} in "
                  f"{restarted['real_s']:.1f} s: {restarted['routines']} routines taken "
                  f"back", file=out, flush=True)

        before_step = [0]  # messages published before the step now being handled
        restart_ms = start_ms + int(restart_at_day * DAY_MS) if restart_at_day > 0 else None

        def pace(seconds: float) -> None:
            # The clock moves on once the previous step is handled: one step in flight
            # keeps the pipeline busy, and no reading is handled more than a step late.
            caught_up(pub.messages - before_step[0])
            before_step[0] = pub.messages
            clock.advance(seconds)
            # The alert core's timers run every 0.2 s of real time: on a clock racing
            # through hours a second, a confirmation or escalation would come hours late.
            # So each step waits for a round of its timer thread.
            if not alerts.tick_now():
                raise RuntimeError("the alert core's timer round did not finish in 60 s")
            t = clock.now_ms()
            if restart_ms is not None and t >= restart_ms and not restarted:
                restart()
            if t >= next_sweep[0]:
                next_sweep[0] += HOUR_MS
                caught_up(0)
                assert desk is not None
                desk.sweep()
            if t >= next_day[0]:
                next_day[0] += row_ms
                row = {"day": round((t - start_ms) / DAY_MS, 2), "rss_mb": round(_rss_mb(), 1),
                       "store_mb": round(_size_mb(data, "store.db"), 1),
                       "alert_state_mb": round(_size_mb(data, "alerts.db"), 1),
                       "real_s": round(time.monotonic() - began, 1)}
                daily.append(row)
                print(f"day {row['day']:6.2f}  rss {row['rss_mb']:7.1f} MB  store "
                      f"{row['store_mb']:7.1f} MB  alert state {row['alert_state_mb']:6.1f} "
                      f"MB  after {row['real_s']:7.1f} s", file=out, flush=True)

        stats = run(sim, publisher.publish, clock=clock, sleep=pace)
        if not publisher.flush(120):
            raise RuntimeError("the broker did not take every message")
        caught_up(0)
        waited = time.monotonic()
        stored_all()
        print(f"store caught up {time.monotonic() - waited:.1f} s after the last message",
              file=out, flush=True)
        # The centre runs on after the last reading: a fall handled in the last step still
        # has its SMS step (a minute later) ahead of it. Ten more simulated minutes.
        for _ in range(TAIL_MINUTES):
            clock.advance(60)
            if not alerts.tick_now():
                raise RuntimeError("the alert core's timer round did not finish in 60 s")
        desk.sweep()
        api_ms = desk.open_alerts_ms(200)
        real_s = time.monotonic() - began
        for alert_id in list(desk.seen):
            desk.read_notices(alert_id)
        texts = len(desk.sms_sent())
        deadline = time.monotonic() + 30  # the SMSC is told a moment after the notice
        while len(kannel.messages()) < texts and time.monotonic() < deadline:
            time.sleep(0.1)
        return _result(homes, days, step_s, start_ms, stats.readings, incidents, desk,
                       central, kannel, handed[0], daily, api_ms, real_s, restarted,
                       warm_up_days)
    finally:
        if desk is not None:
            desk.close()
        if publisher is not None:
            publisher.close()
        central.close()
        kannel.close()
        broker.close()
        shutil.rmtree(work, ignore_errors=True)  # a month's store: up to gigabytes


def _stored(data: Path) -> int:
    with sqlite3.connect(data / "store.db") as db:
        raw = db.execute("SELECT COUNT(*) FROM raw").fetchone()[0]
        rolled = db.execute("SELECT COALESCE(SUM(n), 0) FROM hourly").fetchone()[0]
    return int(raw) + int(rolled)


def _result(homes: int, days: float, step_s: float, start_ms: int, published: int,
            incidents: list[inc.Incident], desk: _Desk, central: CentralProcess,
            kannel: LocalKannel, handed: int, daily: list[dict[str, float]],
            api_ms: list[float], real_s: float, restarted: dict[str, Any],
            warm_up_days: float) -> dict[str, Any]:
    assert central.alerts is not None
    step_ms = int(step_s * 1000)
    scored = [i for i in incidents if i.incident not in NO_ALERT
              and i.start_ms >= start_ms + warm_up_days * DAY_MS]
    # inactivity incidents on the desk, before and after the restart: (on desk, scored)
    inactivity = {"before": [0, 0], "after": [0, 0]}
    seen = list(desk.seen.values())
    on_desk, texted, missed = 0, 0, collections.Counter[str]()
    missed_detail: list[dict[str, Any]] = []
    urgent = {inc.IncidentKind.FALL, inc.IncidentKind.SOS}
    urgent_on_desk = urgent_texted = 0
    sms = desk.sms_sent()
    sent = {n["alert_id"] for n in sms}
    texted_expected = 0
    for incident in scored:
        expected = {c.value for c in EXPECTED[incident.incident]}
        subjects = {incident.resident_id, f"{incident.gateway_id}/{incident.device_id}"}
        # The simulated clock moves a step at a time and a step's readings are handled
        # while it still shows the step's start: an alert can be stamped up to a step
        # before the reading that raised it.
        match = [a for a in seen if a["condition"] in expected and a["subject"] in subjects
                 and incident.start_ms - step_ms <= a["opened_ms"]
                 <= incident.end_ms + GRACE_MS]
        if match:
            on_desk += 1
        else:
            missed[incident.incident.value] += 1
            near = sorted((a["condition"], a["subject"], a["opened_ms"] - incident.start_ms)
                          for a in seen if a["subject"] in subjects)
            missed_detail.append({
                "incident": incident.incident.value, "subject": sorted(subjects),
                "start_min": round((incident.start_ms - start_ms) / 60_000),
                "minutes": round((incident.end_ms - incident.start_ms) / 60_000),
                "expected": sorted(expected),
                # the subject's alerts, with minutes from the incident's start
                "alerts": [(c, round(dt / 60_000)) for c, _, dt in near][:20]})
        if incident.incident is inc.IncidentKind.INACTIVITY:
            side = "after" if restarted and incident.start_ms >= restarted["at_ms"] \
                else "before"
            inactivity[side][0] += bool(match)
            inactivity[side][1] += 1
        was_texted = any(a["alert_id"] in sent for a in match)
        if any(Condition(c) in TEXTED for c in expected):
            texted_expected += 1
            texted += was_texted
        if incident.incident in urgent:
            urgent_on_desk += bool(match)
            urgent_texted += was_texted
    half = daily[len(daily) // 2] if daily else {}
    end = daily[-1] if daily else {}

    def growth(key: str) -> float:
        return round((end[key] - half[key]) / half[key], 3) if half and half[key] else 0.0

    disk_half = half.get("store_mb", 0) + half.get("alert_state_mb", 0)
    disk_end = end.get("store_mb", 0) + end.get("alert_state_mb", 0)
    at_smsc = kannel.messages()
    sms_at_smsc = len(at_smsc)
    # the same words to the same phone twice: a duplicate whatever the notices say
    repeated = sms_at_smsc - len({(m.to, m.text) for m in at_smsc})
    stored = _stored(Path(central.cfg.data_dir))
    return {
        "homes": homes, "sim_days": days, "step_s": step_s, "real_s": round(real_s, 1),
        "sim_speed": round(days * 86_400 / max(real_s, 1e-9), 1),
        "readings": published, "incidents": len(scored),
        "incidents_on_desk": on_desk, "incidents_texted_expected": texted_expected,
        "incidents_notified": texted, "missed": dict(missed), "missed_detail": missed_detail,
        "falls_and_sos": sum(1 for i in scored if i.incident in urgent),
        "falls_and_sos_on_desk": urgent_on_desk, "falls_and_sos_texted": urgent_texted,
        "lost": published - stored, "duplicated": max(0, handed - published),
        "sms_sent": len(sms), "sms_at_smsc": sms_at_smsc,
        "duplicate_sms": max(0, sms_at_smsc - len(sms), repeated),
        "sms_repeated_at_smsc": repeated,
        "refused": {k: v for k, v in central.ingest.counts.items() if k.startswith("refused")},
        "stored_count": central.ingest.count("stored"),
        "desk_resolved": desk.resolved,
        "rss_growth_second_half": growth("rss_mb"),
        "disk_growth_second_half": round((disk_end - disk_half) / disk_half, 3)
        if disk_half else 0.0,
        "open_alerts_api_ms_p50": pct(api_ms, 0.5),
        "open_alerts_api_ms_p99": pct(api_ms, 0.99),
        "rss_mb_end": end.get("rss_mb"), "disk_mb_end": round(disk_end, 1),
        "restarted_at_day": round((restarted["at_ms"] - start_ms) / DAY_MS, 2)
        if restarted else None,
        "restart_real_s": round(restarted["real_s"], 1) if restarted else None,
        "routines_restored": restarted.get("routines"),
        "snapshots_refused": restarted.get("refused"),
        "inactivity_on_desk_before_restart": inactivity["before"],
        "inactivity_on_desk_after_restart": inactivity["after"],
    }
