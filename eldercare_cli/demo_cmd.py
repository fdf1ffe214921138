"""``eldercare demo``: the whole system in one process on this machine, on embedded defaults.

A local Mosquitto on a free loopback port (the Debian package; ``scripts/setup.sh``
installs it; without it, an embedded amqtt broker on loopback, for the demo only), a
simulated nursing home of 20 residents on two floors plus four elders
living alone, publishing as their gateways' edge agents do (gateway-level simulation:
batched envelopes with per-gateway sequence numbers, urgent events alone), the central
process (ingest, alert core, embedded store, duty-desk dashboard) with SMS and rescue
notices printed to the console, and a freshly generated login. The simulated clock starts
at 02:00 UTC so the first incidents (a night wandering, a fall, a low SpO2) show up within
the first two minutes. The home units are simulated too: half a minute in, two elders at
home have their pendants report a possible fall and are asked "are you all right?"; one
answers (the possible fall closes on the timeline, never on the desk's queue), the other
does not (a minute later it is a fall on the desk). The same two stop moving: once the
silence outlasts what the detector allows, each is asked at home before the check reaches
the desk, and again one answers and one does not. Scheduled care: the care home keeps
shifts, and a minute after the scripted fall its nurse hands her shift over with the fall
still hers (the Shift panel: accept it); an elder at home, high risk, was last visited 12
days ago, so an overdue visit is on the desk (the Visits panel: record it).
"""

from __future__ import annotations

import argparse
import datetime as dt
import logging
import secrets
import socket
import sys
import tempfile
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # the simulator (numpy) loads only when this command runs
    from firmware_stubs import incidents as inc

NURSING_HOME = 20
AT_HOME = 4
AT_HOME_FIRST = NURSING_HOME  # the homes of the elders at home come after the beds
WANDERER = 3  # the resident at risk of wandering, in the nursing home
FALLER = 7  # the scripted fall, in the nursing home: the demo's desk answers it
ANSWERS, SILENT = AT_HOME_FIRST + 2, AT_HOME_FIRST + 3  # asked at home: one answers
OPERATOR = "demo-operator"
# the demo's desk, in simulated seconds after the fall opens: take it, send the nurse on
# duty, who replies "1" (on the way) and "2" (arrived); resolved with an outcome
RESPONSE_SCRIPT = ((10, "take"), (15, "dispatch"), (45, "1"), (60, "handover"), (120, "2"),
                   (300, "resolve"))
HANDOVER_NOTES = "(demo) the fall in room-108: nurse sent, helping her up; watch her tonight"
UNVISITED = AT_HOME_FIRST  # an elder at home, high risk, last visited 12 days ago


def register(sub: Any) -> None:
    p: argparse.ArgumentParser = sub.add_parser(
        "demo", help="run the whole system on simulated homes and open the duty desk",
        description=__doc__)
    p.add_argument("--port", type=int, default=8080,
                   help="dashboard port on 127.0.0.1 (default 8080; a free one if taken)")
    p.add_argument("--speed", type=float, default=1.0,
                   help="simulated seconds per real second (default 1)")
    p.add_argument("--duration", type=float, default=8 * 3600.0,
                   help="real seconds to run (default 8 h; Ctrl-C stops earlier)")
    p.add_argument("--data", type=Path, help="keep the state here (default: a temp dir)")
    p.add_argument("--broker", choices=["auto", "mosquitto", "embedded"], default="auto",
                   help="auto: Mosquitto if installed, else an embedded broker (demo only)")
    p.set_defaults(handler=_handle)


def _scripted(start_ms: int) -> tuple[inc.Incident, ...]:
    """The first incidents, so the desk has something within the first two minutes."""
    from firmware_stubs import incidents as inc
    from telemetry.clock import MIN_MS, SECOND_MS

    second, minute = SECOND_MS, MIN_MS
    return (
        # the door opens 2 min after the incident starts (see the routine model)
        inc.make(inc.IncidentKind.NIGHT_WANDERING, WANDERER, start_ms - 90 * second,
                 25 * minute),
        inc.make(inc.IncidentKind.FALL, FALLER, start_ms + 40 * second, 30 * minute),
        inc.make(inc.IncidentKind.DESATURATION, NURSING_HOME + 1, start_ms - 60 * second,
                 20 * minute),
        # still from a minute in: the check comes after an hour (the routine not yet
        # learned) and is asked at home first
        inc.make(inc.IncidentKind.INACTIVITY, ANSWERS, start_ms + 60 * second, 150 * minute),
        inc.make(inc.IncidentKind.INACTIVITY, SILENT, start_ms + 60 * second, 150 * minute),
    )


def _registry(path: Path, seed: int) -> None:
    import yaml

    from firmware_stubs.site_registry import registry_data

    data = registry_data(NURSING_HOME + AT_HOME, seed)
    data["sites"][0].update(name="Sunny Garden Care Home (demo)", address="1 Example Road",
                            kind="institution", shifts=["08:00", "16:00", "00:00"],
                            rounds={"start": "22:00", "end": "06:00", "every_min": 120},
                            responders=[
                                {"name": "Nurse On Duty (demo)", "phone": "+86000000000900",
                                 "role": "staff"}])
    data["sites"][1].update(name="Elders at home (demo)", address="Example District",
                            responders=[{"name": "Community Worker (demo)",
                                         "phone": "+86000000000901",
                                         "role": "community_worker"}])
    for h, resident in enumerate(data["residents"]):
        resident["wandering_risk"] = h == WANDERER
        resident["medical_notes"] = f"(demo) hypertension, allergic to penicillin; #{h}"
        if h == UNVISITED:
            resident.update(risk_tier="high", visitor="Community Worker (demo)")
        if h < NURSING_HOME:
            resident["floor"] = str(1 + h // 10)
            resident["room"] = f"room-{1 + h // 10}{h % 10 + 1:02d}"
    path.write_text(yaml.safe_dump(data, sort_keys=False, allow_unicode=True))


def _answer(central: Any, clock: Any, pace: Any, stop: threading.Event) -> None:
    """The demo's desk answers the scripted fall as a duty desk would (``RESPONSE_SCRIPT``),
    so the timeline, the dispatch and the month's report have something to show."""
    from alerts.duty import handover_view
    from alerts.model import Condition, Outcome
    from firmware_stubs import layout

    log = logging.getLogger("eldercare.demo")
    core = central.alerts.core
    resident = layout.resident_id(FALLER)
    try:
        core.db.duty.on(layout.site_id(FALLER), OPERATOR, clock.now_ms())
        alert = None
        while alert is None:
            pace(1.0)
            alert = core.db.alerts.unresolved(Condition.FALL, resident)
        phone = ""
        for after_s, step in RESPONSE_SCRIPT:
            while clock.now_ms() < alert.opened_ms + after_s * 1000:
                pace(0.2)
            if step == "take":
                core.response.take(alert.alert_id, OPERATOR)
            elif step == "dispatch":
                phone = core.response.dispatch(alert.alert_id, "s0", OPERATOR).phone
            elif step == "handover":  # the shift ends with the fall still hers
                site = layout.site_id(FALLER)
                view = handover_view(central.registry, core.db, site, clock.now_ms())
                core.db.duty.hand_over(site, view["shift_start_ms"], OPERATOR, HANDOVER_NOTES,
                                       clock.now_ms())
            elif step == "resolve":
                core.resolve(alert.alert_id, OPERATOR, "demo",
                             outcome=Outcome.HELPED_UP)
            else:  # the responder's SMS reply
                core.sms_reply(phone, step)
            log.info("demo desk: %s on alert %d", step, alert.alert_id)
    except Exception as exc:  # the demo goes on without its scripted desk
        if not stop.is_set():
            log.warning("demo desk stopped: %s", type(exc).__name__)


def _ask(home_units: Any, wait: Any) -> None:
    """Half a minute in: the two scripted pendants report a possible fall."""
    from firmware_stubs import layout

    if not wait(30.0):
        return  # stopped before
    for home in (ANSWERS, SILENT):
        home_units.possible_fall(layout.resident_id(home))


def _free(port: int) -> int:
    with socket.socket() as s:
        if s.connect_ex(("127.0.0.1", port)) != 0:
            return port
    from harness.process import free_port

    return free_port()


def _handle(args: argparse.Namespace) -> int:
    import yaml

    from alerts.settings import AlertSettings
    from central.config import CentralConfig
    from central.process import CentralProcess
    from dashboard.accounts.model import Role
    from dashboard.settings import DashboardSettings
    from firmware_stubs import layout
    from firmware_stubs.home_unit import HomeUnits
    from firmware_stubs.mqtt_out import Publisher
    from firmware_stubs.runner import Level, RunConfig, run
    from harness.amqtt_broker import EmbeddedBroker
    from harness.mosquitto import BrokerError, LocalMosquitto, mosquitto_binary
    from harness.process import free_port
    from runtime import logs
    from runtime.broker import BrokerConnection
    from runtime.metrics_config import MetricsConfig
    from runtime.shutdown import StopRequest, bounded
    from telemetry.clock import ScaledClock

    logs.setup("demo")
    log = logging.getLogger("eldercare.demo")
    requested = StopRequest().install()  # before anything starts: Ctrl-C or SIGTERM stops it
    seed = 1
    data = args.data or Path(tempfile.mkdtemp(prefix="eldercare-demo-"))
    data.mkdir(parents=True, exist_ok=True)
    today = dt.datetime.now(dt.UTC).replace(hour=2, minute=0, second=0, microsecond=0)
    start_ms = int(today.timestamp() * 1000)
    clock = ScaledClock(start_ms, args.speed)
    broker: LocalMosquitto | EmbeddedBroker
    try:
        if args.broker == "embedded" or (args.broker == "auto" and mosquitto_binary() is None):
            log.warning("no Mosquitto here: using an embedded broker (demo only)")
            broker = EmbeddedBroker().start()
        else:
            broker = LocalMosquitto().start()
    except BrokerError as exc:
        print(f"error: no broker: {exc}", file=sys.stderr)
        return 1
    _registry(data / "registry.yaml", seed)
    (data / "policy.yaml").write_text(yaml.safe_dump({"default": {
        "rescue": {"language": "zh"},
        "steps": {"fall": [{"after_s": 60, "channel": "sms", "to": "family",
                            "next_contact_after_s": 120},
                           {"after_s": 300, "channel": "console", "to": "rescue"}],
                  "sos": [{"after_s": 0, "channel": "sms", "to": "family"},
                          {"after_s": 60, "channel": "console", "to": "rescue"}],
                  "alarm": [{"after_s": 300, "channel": "sms", "to": "family"}]}}}))
    port = _free(args.port)
    cfg = CentralConfig(data_dir=str(data / "central"), registry=str(data / "registry.yaml"),
                        broker=BrokerConnection(port=broker.port),
                        alerts=AlertSettings(policy=str(data / "policy.yaml"),
                                             callback_port=free_port(), sms="console"),
                        dashboard=DashboardSettings(port=port),
                        metrics=MetricsConfig(port=0))
    central = CentralProcess(cfg, clock)
    assert central.accounts is not None
    username, password = f"demo-{secrets.token_hex(2)}", secrets.token_urlsafe(12)
    central.accounts.create_user(username, password, Role.ADMIN, clock.now_ms())
    # the register was kept on paper before: one elder's last visit was 12 days ago
    assert central.alerts is not None  # (one process: its own alert core)
    central.alerts.db.visits.plan_from(layout.resident_id(UNVISITED),
                                       clock.now_ms() - 12 * 86_400_000)
    central.start()
    for _ in range(100):  # up to 10 s for the subscription, unless asked to stop
        if central.ingest.ready.wait(0.1) or requested.is_set():
            break
    assert central.ops is not None
    print(f"\n  duty desk:  http://127.0.0.1:{port}/\n  sign in:    {username} / "
          f"{password}\n  metrics:    {central.ops.url}/metrics\n  broker:     {broker.url}"
          f"\n  state:      {data}\n", flush=True)
    print("SMS and rescue notices are printed below (no SMS gateway configured). "
          "Ctrl-C stops.", flush=True)
    sim = RunConfig(level=Level.GATEWAY, homes=NURSING_HOME + AT_HOME, speed=args.speed,
                    duration_s=args.duration, seed=seed, start_ms=start_ms,
                    incident_rate=0.5, extra_incidents=_scripted(start_ms))
    publisher = Publisher(broker.url, "eldercare-demo-gateways")
    stop = requested.event  # a signal, or the end of the simulated run

    class StoppedError(Exception):
        pass

    def pace(seconds: float) -> None:
        if stop.wait(seconds):
            raise StoppedError

    def simulate() -> None:
        try:
            run(sim, publisher.publish, clock=clock, sleep=pace)
        except StoppedError:
            pass
        finally:
            stop.set()

    runner = threading.Thread(target=simulate, name="simulated-homes", daemon=True)
    runner.start()
    homes = {layout.resident_id(h): (layout.site_id(h), layout.gateway_id(h))
             for h in range(NURSING_HOME + AT_HOME)}
    def sim_wait(sim_s: float) -> bool:  # simulated seconds; False: stopped meanwhile
        return not stop.wait(sim_s / args.speed)

    home_units = HomeUnits(broker.url, clock, homes,
                           answers=lambda r: r == layout.resident_id(ANSWERS), wait=sim_wait)
    asker = threading.Thread(target=_ask, args=(home_units, sim_wait), daemon=True,
                             name="demo-home-units")
    asker.start()
    desk = threading.Thread(target=_answer, args=(central, clock, pace, stop), daemon=True,
                            name="demo-desk")
    desk.start()
    while not stop.wait(0.5):
        pass
    with bounded("eldercare demo"):
        runner.join(5)
        home_units.close()
        publisher.close()
        central.close()
        broker.close()
    return 0
