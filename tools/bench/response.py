"""``eldercare bench response``: a simulated month of a care home and homes in the
community, answered by a scripted desk, checked against the script.

The alert core runs on the embedded store (or a PostgreSQL DSN) on a fake clock set to
the first day of last month (Asia/Shanghai). Falls and SOS presses arrive at random
(seeded); a scripted staff model answers each after a drawn delay, by one of the
operators on duty, and then either sends a responder (who arrives, never arrives, or
cannot come) or takes it and leaves it (the ack timeout must re-open it). After a
non-arrival, a cannot-come or an ack timeout, the script takes the alarm again and sends
the next responder, who arrives; every alarm is resolved with an outcome.

Checked against the script: the report's answer-time shares and p90 (exact: the clock is
the script's), every non-arrival escalated (the alarm open again when its time passed),
every ack timeout re-opened, no responder texted twice. The report is read through the
desk's API (``report_api_ms_*``). The last line printed is JSON.
"""

from __future__ import annotations

import datetime
import heapq
import random
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import msgspec
from fastapi.testclient import TestClient

from alerts.core import AlertCore
from alerts.model import AlertState, Condition, DispatchState, Notice, Outcome, Signal
from alerts.notify.dispatch import Dispatcher
from alerts.policy import Policies, PolicyFile
from alerts.response import DISPATCH_STEP
from alerts.store import AlertStore
from alerts.store.queries import StoreQueries
from bench.stats import pct
from dashboard.accounts.model import Role
from dashboard.accounts.store import Accounts
from dashboard.app import create_app
from dashboard.context import DashboardContext
from registry import Registry
from registry.model import Contact, Gateway, RegistryFile, Resident, Site
from telemetry.clock import FakeClock

ZONE = ZoneInfo("Asia/Shanghai")
OPERATORS = ("op-1", "op-2", "op-3", "op-4", "op-5", "op-6")
PASSWORD = "bench-only-password"
POLICY = {"default": {"rescue": {"webhook": "http://127.0.0.1:9/rescue"},
                      "steps": {"critical": [
                          {"after_s": 60, "channel": "sms", "to": "family",
                           "next_contact_after_s": 120}]}}}


def build_registry(beds: int, homes: int) -> Registry:
    """One care home of ``beds`` residents, and ``homes`` elders at home in communities of
    100; each resident has a family contact, each site a responder. Fake names."""
    sites = [Site("home-site", "Care home (bench)", "1 Bench Road", kind="institution",
                  responders=[Contact("Staff On Duty", "+86100000000000", role="staff")])]
    gateways = [Gateway("gw-care", "home-site")]
    residents = [Resident(f"bed-{i:04d}", "home-site", f"room-{i:04d}", f"Bed {i}",
                          contacts=[Contact(f"Family {i}", f"+8611{i:09d}")])
                 for i in range(beds)]
    for c in range((homes + 99) // 100):
        sites.append(Site(f"community-{c:03d}", f"Community {c} (bench)", f"{c} Bench Street",
                          responders=[Contact(f"Worker {c}", f"+8612{c:09d}",
                                              role="community_worker")]))
        gateways.append(Gateway(f"gw-c{c:03d}", f"community-{c:03d}"))
    for i in range(homes):
        c = i // 100
        residents.append(Resident(f"home-{i:05d}", f"community-{c:03d}", f"flat {i}",
                                  f"Elder {i}",
                                  contacts=[Contact(f"Daughter {i}", f"+8613{i:09d}"),
                                            Contact(f"Son {i}", f"+8614{i:09d}")]))
    return Registry(RegistryFile(sites=sites, gateways=gateways, residents=residents,
                                 devices=[]))


class Recording:
    """The SMS channel: records each notice handed over (a responder texted twice shows)."""

    def __init__(self) -> None:
        self.sent: list[Notice] = []

    def send(self, notice: Notice) -> str:
        self.sent.append(notice)
        return f"ref-{notice.notice_id}"


@dataclass
class Truth:
    answers_s: list[float] = field(default_factory=list)  # per alarm, inf if never
    non_arrivals: int = 0
    non_arrivals_escalated: int = 0
    cannot_come: int = 0
    ack_timeouts: int = 0
    ack_timeouts_reopened: int = 0


@dataclass(order=True)
class Event:
    t_ms: int
    seq: int
    act: Callable[[], None] = field(compare=False)


class Month:
    def __init__(self, db: AlertStore, registry: Registry, start_ms: int, seed: int) -> None:
        self.db = db
        self.registry = registry
        self.clock = FakeClock(start_ms)
        self.core = AlertCore(db, registry, Policies(msgspec.convert(POLICY, PolicyFile)),
                              self.clock)
        self.sms = Recording()
        self.dispatcher = Dispatcher(db, self.core, {"sms": self.sms}, self.clock)
        self.rng = random.Random(seed)
        self.events: list[Event] = []
        self.seq = 0
        self.truth = Truth()

    def at(self, t_ms: int, act: Callable[[], None]) -> None:
        self.seq += 1
        heapq.heappush(self.events, Event(t_ms, self.seq, act))

    def run(self, end_ms: int) -> None:
        """Every scripted event and every timer of the core, in time order, to ``end_ms``."""
        while True:
            due = self.core.next_due_ms()
            nxt = self.events[0].t_ms if self.events else None
            t = min(x for x in (due, nxt, end_ms) if x is not None)
            if t >= end_ms and (nxt is None or nxt >= end_ms) and (due is None or due >= end_ms):
                break
            if t > self.clock.now_ms():
                self.clock.advance((t - self.clock.now_ms()) / 1000)
            if due is not None and due <= t:
                self.core.tick()
                self.dispatcher.run_once()
            while self.events and self.events[0].t_ms <= self.clock.now_ms():
                heapq.heappop(self.events).act()
                self.dispatcher.run_once()

    # --- the staff model ------------------------------------------------------------------

    def answer_delay_s(self) -> float:
        """Most alarms within a minute; some within three; a few later."""
        r = self.rng.random()
        if r < 0.9:
            return round(self.rng.uniform(5, 60), 3)
        if r < 0.985:
            return round(self.rng.uniform(60.5, 180), 3)
        return round(self.rng.uniform(181, 900), 3)

    def alarm(self, t_ms: int, resident: Resident) -> None:
        condition = Condition.FALL if self.rng.random() < 0.7 else Condition.SOS
        delay_ms = int(self.answer_delay_s() * 1000)
        self.truth.answers_s.append(delay_ms / 1000)
        who = self.rng.choice(OPERATORS)
        plan = self.rng.random()
        holder: dict[str, int] = {}

        def raise_it() -> None:
            self.core.handle([Signal(condition, resident.resident_id, True,
                                     self.clock.now_ms(), resident.site_id, "gw-bench",
                                     "bench", "pendant")])
            found = self.db.alerts.unresolved(condition, resident.resident_id)
            assert found is not None
            holder["id"] = found.alert_id
            self.at(self.clock.now_ms() + delay_ms, take)

        def take() -> None:
            self.core.response.take(holder["id"], who)
            if plan < 0.08:  # taken and left: the ack timeout must bring it back
                self.truth.ack_timeouts += 1
                timeout_ms = self.clock.now_ms() + 900_000
                self.at(timeout_ms + 1, lambda: check_reopened("ack"))
            else:
                self.at(self.clock.now_ms() + 60_000, lambda: send(first=True))

        def send(first: bool) -> None:
            ref = "s0" if first else "c0"  # the site's responder, then the family
            made = self.core.response.dispatch(holder["id"], ref, who)
            if first and 0.08 <= plan < 0.16:  # never arrives
                self.truth.non_arrivals += 1
                self.at(made.due_ms + 1, lambda: check_reopened("arrival"))
            elif first and 0.16 <= plan < 0.22:  # cannot come
                self.truth.cannot_come += 1
                self.at(self.clock.now_ms() + 90_000, lambda: reply(made.phone, "9", again))
            else:
                on_way = self.rng.uniform(30, 120) * 1000
                arrive = on_way + self.rng.uniform(60, (made.due_ms - made.sent_ms) / 1000
                                                   - 150) * 1000
                self.at(self.clock.now_ms() + int(on_way),
                        lambda: reply(made.phone, "1", None))
                self.at(self.clock.now_ms() + int(arrive),
                        lambda: reply(made.phone, "2", close_later))

        def reply(phone: str, code: str, then: Callable[[], None] | None) -> None:
            self.core.sms_reply(phone, f"{code} A{holder['id']}")
            if then is not None:
                then()

        def check_reopened(why: str) -> None:
            alert = self.db.alerts.get(holder["id"])
            reopened = alert is not None and alert.state is AlertState.OPEN
            if why == "ack":
                self.truth.ack_timeouts_reopened += reopened
            else:
                self.truth.non_arrivals_escalated += reopened
            again()

        def again() -> None:
            self.at(self.clock.now_ms() + 20_000, retake)

        def retake() -> None:
            self.core.response.take(holder["id"], who)
            self.at(self.clock.now_ms() + 30_000, lambda: send(first=False))

        def close_later() -> None:
            self.at(self.clock.now_ms() + 600_000, close)

        def close() -> None:
            r = self.rng.random()
            outcome = Outcome.HELPED_UP if r < 0.6 else Outcome.FALSE_ALARM if r < 0.9 \
                else Outcome.INJURED_HOSPITAL
            self.core.resolve(holder["id"], who, outcome=outcome)

        self.at(t_ms, raise_it)


def _month_start(now_ms: int) -> tuple[int, int, str]:
    """Last month's first and the next month's first instant (Asia/Shanghai), and YYYY-MM."""
    now = datetime.datetime.fromtimestamp(now_ms / 1000, tz=ZONE)
    first = datetime.datetime(now.year, now.month, 1, tzinfo=ZONE)
    last = (first - datetime.timedelta(days=1)).replace(day=1)
    return int(last.timestamp() * 1000), int(first.timestamp() * 1000), \
        f"{last.year:04d}-{last.month:02d}"


def run(beds: int = 200, homes: int = 2000, alarms_per_resident: float = 1.0,
        state: str | None = None, seed: int = 7, report_reads: int = 50,
        out: Any = None) -> dict[str, Any]:
    registry = build_registry(beds, homes)
    start_ms, end_ms, month = _month_start(int(time.time() * 1000))
    work = Path(tempfile.mkdtemp(prefix="eldercare-bench-response-"))
    db = AlertStore(state or work / "alerts.db")
    month_run = Month(db, registry, start_ms, seed)
    residents = list(registry.residents.values())
    span = end_ms - start_ms - 6 * 3600_000  # each alarm closed inside the month
    n_alarms = int(len(residents) * alarms_per_resident)
    # one alarm at a time per resident: spaced at least six hours apart
    times = sorted(month_run.rng.randrange(span // 3600_000) * 3600_000 + start_ms
                   + month_run.rng.randrange(3600_000) for _ in range(n_alarms))
    busy: dict[str, int] = {}
    placed = 0
    for t in times:
        resident = month_run.rng.choice(residents)
        if busy.get(resident.resident_id, 0) > t:
            continue
        busy[resident.resident_id] = t + 6 * 3600_000
        month_run.alarm(t, resident)
        placed += 1
    started = time.monotonic()
    month_run.run(end_ms)
    simulated_s = time.monotonic() - started
    truth = month_run.truth
    accounts = Accounts(work / "accounts.db")
    accounts.create_user("bench-admin", PASSWORD, Role.ADMIN, end_ms)
    ctx = DashboardContext(accounts, registry, month_run.core, StoreQueries(db),
                           month_run.core.policies, month_run.clock)
    reads: list[float] = []
    with TestClient(create_app(ctx)) as client:
        client.post("/api/login", json={"username": "bench-admin", "password": PASSWORD})
        report: dict[str, Any] = {}
        for _ in range(report_reads):
            began = time.perf_counter()
            response = client.get(f"/api/reports/response?month={month}")
            reads.append((time.perf_counter() - began) * 1000)
            response.raise_for_status()
            report = response.json()
    answers = sorted(truth.answers_s)
    within_60 = sum(a <= 60 for a in answers) / len(answers) if answers else None
    p90_truth = pct(answers, 0.9, digits=3)
    dispatch_sms = [n for n in month_run.sms.sent if n.step == DISPATCH_STEP]
    per_dispatch: dict[int, int] = {}
    for n in dispatch_sms:
        per_dispatch[n.contact] = per_dispatch.get(n.contact, 0) + 1
    total = report["total"]
    states = [d.state for a in db.alerts.find(limit=10**6) for d in db.dispatches.of(a.alert_id)]
    result = {
        "month": month, "beds": beds, "homes": homes, "alarms": total["alarms"],
        "alarms_scripted": placed, "simulated_s": round(simulated_s, 1),
        "answered_60s_share": total["answered_60s_share"],
        "answered_60s_share_truth": None if within_60 is None else round(within_60, 4),
        "answered_180s_share": total["answered_180s_share"],
        "answer_s_p90": None if total["answer_ms_p90"] is None
        else total["answer_ms_p90"] / 1000,
        "answer_s_p90_truth": p90_truth,
        "non_arrivals": report["dispatches"]["non_arrivals"],
        "non_arrivals_truth": truth.non_arrivals,
        "non_arrivals_escalated": truth.non_arrivals_escalated,
        "cannot_come": report["dispatches"]["cannot_come"],
        "cannot_come_truth": truth.cannot_come,
        "ack_timeouts": report["ack_timeouts"], "ack_timeouts_truth": truth.ack_timeouts,
        "ack_timeouts_reopened": truth.ack_timeouts_reopened,
        "dispatched": len(states), "arrived": sum(s is DispatchState.ARRIVED for s in states),
        "arrival_s_p50": None if report["dispatches"]["arrival_ms_p50"] is None
        else report["dispatches"]["arrival_ms_p50"] / 1000,
        "responder_sms": len(dispatch_sms),
        "duplicate_responder_sms": sum(n - 1 for n in per_dispatch.values()),
        "report_api_ms_p50": pct(reads, 0.5), "report_api_ms_p99": pct(reads, 0.99),
    }
    accounts.close()
    db.close()
    if out is not None:
        for key, value in result.items():
            print(f"  {key}: {value}", file=out)
    return result


def checks(result: dict[str, Any]) -> list[str]:
    """What the run got wrong against its script (empty: nothing)."""
    wrong = []
    for key in ("answered_60s_share", "answer_s_p90", "non_arrivals", "ack_timeouts",
                "cannot_come"):
        if result[key] != result[f"{key}_truth"]:
            wrong.append(f"{key} {result[key]} != {result[f'{key}_truth']}")
    if result["alarms"] != result["alarms_scripted"]:
        wrong.append(f"alarms {result['alarms']} != scripted {result['alarms_scripted']}")
    if result["non_arrivals_escalated"] != result["non_arrivals"]:
        wrong.append("a non-arrival was not escalated")
    if result["ack_timeouts_reopened"] != result["ack_timeouts"]:
        wrong.append("an ack timeout did not re-open its alarm")
    if result["duplicate_responder_sms"]:
        wrong.append("a responder was texted twice")
    return wrong
