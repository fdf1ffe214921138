"""What the detectors learned survives a restart: written at a clean stop and every
``learned_every_s``, taken back at start; a snapshot that cannot be taken back is refused
with a count and the resident learns afresh."""

from __future__ import annotations

from pathlib import Path

import msgspec
import pytest

import registry
from alerts.detectors.activity import InactivityRule, InactivityRuleState
from alerts.detectors.snapshot import Learner, SnapshotError
from alerts.model import AlertState, Condition, Snapshot
from alerts.service import AlertService
from alerts.settings import AlertSettings
from alerts.store import AlertStore
from telemetry.clock import DAY_MS, HOUR_MS, MIN_MS, FakeClock
from telemetry.kinds import Kind
from tests.support.readings import T0, reading

POLICY = Path(__file__).resolve().parents[2] / "alerts" / "policy.sample.yaml"
RESIDENT = "res-00000"


def _service(data: Path, clock: FakeClock, every_s: float = 600.0) -> AlertService:
    return AlertService(AlertSettings(policy=str(POLICY), sms="console", callback_port=0,
                                      learned_every_s=every_s),
                        registry.load(registry.SAMPLE), clock, data)


def _stop_without_saving(service: AlertService) -> None:
    """As if killed: nothing more is written."""
    service.callbacks.close()
    service.db.close()


def _live(service: AlertService, clock: FakeClock, days: int) -> None:
    """The resident moves about the living room every 10 minutes, day and night."""
    for _ in range(days * 24 * 6):
        clock.advance(600)
        service.consume([reading(Kind.MOTION, 1.0, clock.now_ms(), device_id="living-pir")])
        service.consume([reading(Kind.MOTION, 0.0, clock.now_ms() + 1000,
                                 device_id="living-pir")])
        service.timers_round()


def _minutes_to_alarm(service: AlertService, clock: FakeClock) -> float:
    """Silence from now on: minutes until the inactivity alarm is open (inf: not in 9 h)."""
    start = clock.now_ms()
    while clock.now_ms() - start < 9 * HOUR_MS:
        clock.advance(60)
        service.timers_round()
        if any(a.condition is Condition.INACTIVITY and a.state is AlertState.OPEN
               for a in service.db.alerts.find(open_only=True)):
            return (clock.now_ms() - start) / MIN_MS
    return float("inf")


def _rule(service: AlertService, resident: str = RESIDENT) -> InactivityRule:
    return next(d for d in service.bank.detectors_of(resident) if isinstance(d, InactivityRule))


def test_a_routine_learned_before_a_clean_stop_alarms_as_soon_after_it(tmp_path: Path) -> None:
    clock = FakeClock(T0)
    before = _service(tmp_path, clock)
    _live(before, clock, days=4)  # learned: a silence of 10 minutes is usual
    learned = _rule(before).snapshot()
    before.start()
    before.close()  # a clean stop writes what was learned
    after = _service(tmp_path, clock)
    try:
        assert after.learned("restored", "inactivity") == 2  # both residents' routines
        assert _rule(after).snapshot() == learned
        # Without it the rule would wait its 8-hour default for three days.
        assert _minutes_to_alarm(after, clock) <= 100
    finally:
        _stop_without_saving(after)


def test_a_killed_process_takes_back_the_last_periodic_snapshot(tmp_path: Path) -> None:
    clock = FakeClock(T0)
    before = _service(tmp_path, clock, every_s=600)
    _live(before, clock, days=4)
    _stop_without_saving(before)  # kill -9: only the periodic snapshots were written
    after = _service(tmp_path, clock)
    try:
        assert after.learned("restored", "inactivity") == 2
        assert _minutes_to_alarm(after, clock) <= 100
    finally:
        _stop_without_saving(after)


def test_the_periodic_snapshot_writes_a_bounded_chunk_per_round(tmp_path: Path) -> None:
    clock = FakeClock(T0)
    service = _service(tmp_path, clock, every_s=600)
    try:
        service.timers_round()
        assert service.learned("written") == 0  # not due yet
        clock.advance(600)
        service.timers_round()  # due: the first chunk (both residents' routines)
        first = service.learned("written")
        assert 2 <= first <= 50 + 2
        with AlertStore(tmp_path / "alerts.db") as store:
            assert {r.subject for r in store.learned.of() if r.detector == "inactivity"} \
                == {"res-00000", "res-00001"}
    finally:
        _stop_without_saving(service)


def test_snapshots_that_cannot_be_taken_back_are_refused_and_counted(tmp_path: Path) -> None:
    clock = FakeClock(T0)
    first = _service(tmp_path, clock)
    _live(first, clock, days=1)
    good = _rule(first).snapshot()
    _stop_without_saving(first)
    (tmp_path / "fresh").mkdir()
    unlearned = _service(tmp_path / "fresh", clock)  # what a resident's rule starts from
    fresh = _rule(unlearned).snapshot()
    _stop_without_saving(unlearned)
    with AlertStore(tmp_path / "alerts.db") as store:
        store.learned.put([
            Snapshot(RESIDENT, "inactivity", 1, clock.now_ms(), good[: len(good) // 2]),
            Snapshot("res-00001", "inactivity", 2, clock.now_ms(), good),  # a newer version
            Snapshot("res-09999", "inactivity", 1, clock.now_ms(), good),  # discharged
            Snapshot(RESIDENT, "a-detector-gone", 1, clock.now_ms(), b"\x00"),
        ])
    after = _service(tmp_path, clock)
    try:
        refused = {k: n for k, n in after.learned_counts.items() if k[0] != "restored"}
        assert refused == {("corrupt", "inactivity"): 1,
                           ("version", "inactivity"): 1,
                           ("unknown", "inactivity"): 1, ("unknown", "other"): 1}
        assert _rule(after).snapshot() == fresh  # learning afresh, not half a routine
        assert _rule(after, "res-00001").snapshot() == fresh
    finally:
        _stop_without_saving(after)


def test_impossible_values_are_refused_and_leave_the_routine_as_it_was() -> None:
    rule = InactivityRule(RESIDENT, "site-000", "gw-00000", T0, main_door="front-door",
                          utc_offset_ms=0)
    assert isinstance(rule, Learner)
    as_was = rule.snapshot()
    other = InactivityRule(RESIDENT, "site-000", "gw-00000", T0, main_door="front-door",
                           utc_offset_ms=0)
    for t in range(T0, T0 + DAY_MS, 10 * MIN_MS):
        other.observe(reading(Kind.MOTION, 1.0, t, device_id="living-pir"))
    state = other.snapshot()
    # the same state with one past silence made negative
    decoded = msgspec.msgpack.decode(state, type=InactivityRuleState)
    hour = next(g for g in decoded.routine.gaps if g.longest)
    hour.longest[0] = -5.0
    bad = msgspec.msgpack.encode(decoded)
    with pytest.raises(SnapshotError, match="corrupt"):
        rule.restore(bad)
    assert rule.snapshot() == as_was
    rule.restore(state)
    assert rule.snapshot() == state


@pytest.fixture(params=["sqlite", "postgresql"])
def store_location(request: pytest.FixtureRequest, tmp_path: Path) -> str | Path:
    if request.param == "postgresql":
        location: str = request.getfixturevalue("fresh_database")
        return location
    return tmp_path / "alerts.db"


def test_an_older_snapshot_never_overwrites_a_newer_one(store_location: str | Path) -> None:
    """A node's periodic chunk, taken before it let the partition go, arrives after the
    snapshot it wrote then: the newer one stays."""
    with AlertStore(store_location) as store:
        assert store.learned.put([Snapshot(RESIDENT, "inactivity", 1, 2_000, b"newer")]) == 1
        assert store.learned.put([Snapshot(RESIDENT, "inactivity", 1, 1_000, b"older")]) == 0
        assert store.learned.put([Snapshot(RESIDENT, "inactivity", 1, 3_000, b"newest")]) == 1
        assert [r.body for r in store.learned.of([RESIDENT, "res-00001"])] == [b"newest"]


def test_a_partition_taken_over_keeps_its_residents_routines(
        tmp_path: Path, fresh_database: str) -> None:
    """Node A learns a routine and lets the partition go; node B takes it over from the
    shared store before its first reading, and alarms after the learned silence."""
    from alerts.settings import ClusterSettings
    from telemetry.topics import partition_of

    clock = FakeClock(T0)
    part = partition_of("gw-00000", 2)

    def node(name: str) -> AlertService:
        return AlertService(AlertSettings(policy=str(POLICY), sms="console",
                                          callback_port=0),
                            registry.load(registry.SAMPLE), clock, tmp_path / name,
                            cluster=ClusterSettings(node_id=name, state=fresh_database,
                                                    partitions=2))

    a, b = node("node-a"), node("node-b")
    try:
        a.take(part)
        _live(a, clock, days=4)
        learned = _rule(a).snapshot()
        a.give_up(part)  # handed over: its last snapshot is written now
        b.take(part)
        assert b.learned("restored", "inactivity") >= 1
        assert _rule(b).snapshot() == learned
        assert _minutes_to_alarm(b, clock) <= 100
    finally:
        _stop_without_saving(a)
        _stop_without_saving(b)


def test_snapshots_are_read_back_a_page_at_a_time(store_location: str | Path) -> None:
    with AlertStore(store_location) as store:
        rows = [Snapshot(f"res-{k:05d}", d, 1, 1_000, b"x") for k in range(7)
                for d in ("inactivity", "usual-heart_rate")] + \
            [Snapshot("", "vitals-anomaly", 1, 1_000, b"fleet")]
        with store.transaction():
            store.learned.put(rows)
        pages = list(store.learned.pages(page=4))
        assert [len(p) for p in pages] == [4, 4, 4, 3]
        assert sorted(r for p in pages for r in p) == sorted(rows)
        wanted = list(store.learned.pages(["res-00003", ""], page=8))
        assert sorted(r.subject for p in wanted for r in p) == ["", "res-00003", "res-00003"]
