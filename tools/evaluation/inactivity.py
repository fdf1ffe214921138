"""Inactivity, two tiers, on real homes: false checks and alarms on the real days, and the
delay of each tier after a "cut".

Homes: every home log given (Ordóñez home A; van Kasteren houses A and B), each replayed on
its own with the same detector and the same constants. Protocol: the log is replayed in time
order into the alert core's inactivity detector, which checks every minute and learns the
resident's routine online from what it has seen so far (never from what comes later, never
from the labels). The constants of both tiers (margins, floors, ceilings, the rate of
past silences a limit may be exceeded at) and the rules on bed mats and homes without a
bed sensor were set on these three development homes, having seen their results: these
are development figures, and the homes kept back are the independent check. The rules on
coming back home, the night limits (the silences near the hour; the latest start of the
day seen) and the away ceilings were added in the same way, after reading which real
silences raised the false alerts and which night cuts went unnoticed.

False: every check and every alarm on the log as it is (nothing bad happened in it), per
home-day, over the span the activity labels cover (the data's README asks to clip house B
to its labelled window: outside it sensors stick and the home lies silent for days with
nobody labelling). The detector runs from the log's first row, learning from every day.

Detection: at seeded random points the log is cut: the resident stops moving, as if
incapacitated. Nothing starts after the cut; sensors that were on stop at the cut, except
the bed (someone who stops moving in bed stays in it) and, in the "stays seated" variant,
the seat. Delay = first alert of the tier after the cut minus the cut. Daytime cuts fall
between 08:00 and 22:00 at home (not inside a labelled Leaving interval), from the fourth
day on and inside the labelled span; night cuts between 23:00 and 06:00 are reported
apart. A cut not alerted within 12 h counts as missed (delay infinite in the medians).
"Awake" and "asleep" split the same daytime collapse cuts by whether the resident was
labelled Sleeping at the cut.

Operating curve: every limit of both tiers multiplied by one factor (0.5 to 3; 1 is the
shipped detector), the false rate against the median delay of daytime collapses of an
awake resident, on the same cuts.

Asking first (the home unit's "are you all right?", issue 32): a check is held while the
resident is asked and reaches the desk only if nobody answers within 120 s. The model of
who answers, stated before any figure: a resident labelled awake and at home (neither
Sleeping nor Leaving at the check) answers with probability p (0.5, 0.8, 0.95; seeded);
one asleep, out, or collapsed never does. Any sensor coming on within the 120 s closes the
check too (the detector takes it as a sign of life). Checks at the desk per home-day are
reported beside today's (every check reaches the desk); a real collapse is never answered,
so its check reaches the desk 2 min later than without asking.

Restarts (``--restart-every-days N``): every N days of each log (from its first row) the
central process restarts: the detector is stopped and a new one built, either from the
snapshot the old one left (its state through the alert store's codec, as a restarted or
taking-over node does) or, as before snapshots existed, afresh (learning from day 0). The
same false alerts and cuts, beside the figures without restarts; a cut's own 12 hours
run on without a restart.
"""

from __future__ import annotations

import copy
import random
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from alerts.detectors import snapshot
from alerts.detectors.inactivity_model import (
    ALARM,
    CHECK,
    Event,
    InactivityDetector,
    InactivityState,
    Tier,
)
from evaluation import homes
from telemetry.clock import DAY_MS, HOUR_MS, MIN_MS
from telemetry.kinds import Kind

HORIZON_MS = 12 * HOUR_MS
ASK_MS = 120_000  # how long a held check waits for the answer (the shipped default)
ANSWER_P = (0.5, 0.8, 0.95)  # the share of awake residents at home who answer
FACTORS = (0.5, 0.75, 1.0, 1.25, 1.5, 2.0, 3.0)
TIERS = (Tier.CHECK, Tier.ALARM)


class Cut(NamedTuple):
    t_ms: int
    variant: str  # "collapse", "seated" or "night"
    asleep: bool  # labelled Sleeping at the cut


class Replay(NamedTuple):
    false: dict[Tier, list[int]]  # alert times on the real log
    delays: dict[Tier, list[float]]  # minutes, per cut (inf if missed), in ``cuts`` order
    days: float


def _hour(t_ms: int) -> float:
    return (t_ms % DAY_MS) / HOUR_MS


def draw_cuts(home: homes.Home, n: int, seed: int = 7) -> list[Cut]:
    """``n`` daytime collapses, ``n`` daytime "stays seated", ``max(20, n // 4)`` nights."""
    start = min(i.start_ms for i in home.intervals)
    scored, end = home.scored()
    first = max(start - start % DAY_MS + 3 * DAY_MS, scored)  # three days to learn
    leaving = [(lb.start_ms, lb.end_ms) for lb in home.labels if lb.activity == "Leaving"]
    sleeping = [(lb.start_ms, lb.end_ms) for lb in home.labels if lb.activity == "Sleeping"]
    cuts: list[Cut] = []
    for variant, count in (("collapse", n), ("seated", n), ("night", max(20, n // 4))):
        rng = random.Random(seed)
        got = tries = 0
        while got < count and tries < 100 * count and end - HORIZON_MS > first:
            tries += 1
            cut = rng.randrange(first, end - HORIZON_MS)
            hour = _hour(cut)
            night = hour >= 23 or hour < 6
            if (variant == "night") != night or (not night and not 8 <= hour < 22):
                continue
            if any(s <= cut < e for s, e in leaving):
                continue
            cuts.append(Cut(cut, variant, any(s <= cut < e for s, e in sleeping)))
            got += 1
    return cuts


def _after_cut(items: homes.Arrays, cut: Cut, tick: int) -> list[Event]:
    """The events after ``tick`` of the log cut at ``cut``: what started before the cut,
    sensors that were on stopping at it (bed, and seat when seated, staying on)."""
    starts, ends, rows = items
    out: list[Event] = []
    for k in np.flatnonzero((starts < cut.t_ms) & (ends > tick)):
        item = rows[k]
        if item.start_ms > tick:
            out.append(Event(item.start_ms, item.sensor, item.kind, 1.0))
        stays = item.kind is Kind.BED_OCCUPANCY or (
            cut.variant == "seated" and item.kind is Kind.SEAT_OCCUPANCY)
        if item.end_ms <= cut.t_ms:
            out.append(Event(item.end_ms, item.sensor, item.kind, 0.0))
        elif not stays:
            out.append(Event(cut.t_ms, item.sensor, item.kind, 0.0))
    out.sort(key=lambda e: (e.t_ms, e.value))
    return out


def _first(detector: InactivityDetector, evs: list[Event], tick: int,
           cut: int) -> dict[Tier, float]:
    """Run ``detector`` (as of ``tick``) over ``evs`` for the horizon: per tier, minutes
    from ``cut`` to its first alert after the cut."""
    found: dict[Tier, float] = {}
    i = 0
    for now in range(tick + MIN_MS, cut + HORIZON_MS, MIN_MS):
        while i < len(evs) and evs[i].t_ms <= now:
            detector.observe(evs[i])
            i += 1
        for alert in detector.check(now):
            if now > cut and alert.tier not in found:
                found[alert.tier] = (now - cut) / MIN_MS
        if len(found) == len(detector.tiers):
            break
    return {tier: found.get(tier, float("inf")) for tier, _ in detector.tiers}


class Restarts(NamedTuple):
    every_days: int
    from_snapshot: bool  # False: a new detector learns afresh


def replay(home: homes.Home, cuts: list[Cut], factor: float = 1.0,
           restarts: Restarts | None = None) -> Replay:
    """One pass over the real log (false alerts), branching off a copy of the detector at
    each cut (delays); with ``restarts``, the detector rebuilt every so many days."""
    evs = homes.events(home.intervals)
    start = evs[0].t_ms  # the process starts with the log
    end = max(i.end_ms for i in home.intervals)
    span = home.scored()
    tiers = ((Tier.CHECK, CHECK.scaled(factor)), (Tier.ALARM, ALARM.scaled(factor)))

    def new_detector(at_ms: int) -> InactivityDetector:
        return InactivityDetector("res-a", at_ms, main_door=home.main_door or "",
                                  tiers=tiers)

    detector = new_detector(start)
    every_ms = restarts.every_days * DAY_MS if restarts else 0
    next_restart = start + every_ms if restarts else end
    array = homes.as_arrays(home.intervals)
    order = sorted(range(len(cuts)), key=lambda k: cuts[k].t_ms)
    delays: dict[Tier, list[float]] = {t: [float("inf")] * len(cuts) for t in TIERS}
    false: dict[Tier, list[int]] = {t: [] for t in TIERS}
    i = j = 0
    for now in range(start, end, MIN_MS):
        if restarts is not None and now >= next_restart:
            next_restart += every_ms
            old, detector = detector, new_detector(now)
            if restarts.from_snapshot:
                detector.load(snapshot.decode(snapshot.encode(old.state()), InactivityState))
        while j < len(order) and cuts[order[j]].t_ms < now:
            cut = cuts[order[j]]
            tick = now - MIN_MS
            first = _first(copy.deepcopy(detector), _after_cut(array, cut, tick), tick,
                           cut.t_ms)
            for tier, minutes in first.items():
                delays[tier][order[j]] = minutes
            j += 1
        while i < len(evs) and evs[i].t_ms <= now:
            detector.observe(evs[i])
            i += 1
        for alert in detector.check(now):
            if span[0] <= now < span[1]:
                false[alert.tier].append(now)
    return Replay(false, delays, (span[1] - span[0]) / DAY_MS)


def _p50(delays: Iterable[float]) -> float:
    d = np.asarray(list(delays), dtype=float)
    return float(np.median(d)) if len(d) else float("nan")


def _within(delays: Iterable[float], minutes: float) -> float:
    d = np.asarray(list(delays), dtype=float)
    return round(float((d <= minutes).mean()), 3) if len(d) else float("nan")


def _rows(cuts: list[Cut], result: Replay) -> dict[str, dict[str, Any]]:
    groups: dict[str, Callable[[Cut], bool]] = {
        "daytime, collapse": lambda c: c.variant == "collapse",
        "daytime, collapse: awake": lambda c: c.variant == "collapse" and not c.asleep,
        "daytime, collapse: asleep (labelled Sleeping)":
            lambda c: c.variant == "collapse" and c.asleep,
        "daytime, stays seated": lambda c: c.variant == "seated",
        "night, in bed": lambda c: c.variant == "night",
    }
    out: dict[str, dict[str, Any]] = {}
    for name, keep in groups.items():
        idx = [k for k, c in enumerate(cuts) if keep(c)]
        check = [result.delays[Tier.CHECK][k] for k in idx]
        alarm = [result.delays[Tier.ALARM][k] for k in idx]
        out[name] = {"cuts": len(idx), "check_p50": _p50(check),
                     "check_within_1h": _within(check, 60), "alarm_p50": _p50(alarm),
                     "alarm_within_4h": _within(alarm, 240),
                     "missed_12h": int(np.isinf(alarm).sum()) if alarm else 0}
    return out


def at_desk(home: homes.Home, checks: list[int], p: float, seed: int = 7) -> int:
    """Of the checks raised at ``checks``, those that reach the desk when the resident is
    asked first (the model in the method): not closed by a sensor coming on within
    ``ASK_MS``, and not answered (awake at home, with probability ``p``)."""
    rng = random.Random(seed)
    starts = np.sort(np.asarray([i.start_ms for i in home.intervals], dtype=np.int64))
    out_or_asleep = [(lb.start_ms, lb.end_ms) for lb in home.labels
                     if lb.activity in ("Sleeping", "Leaving")]
    reached = 0
    for t in checks:
        k = int(np.searchsorted(starts, t, side="right"))
        moved = k < len(starts) and starts[k] <= t + ASK_MS
        awake_home = not any(s <= t < e for s, e in out_or_asleep)
        answered = awake_home and rng.random() < p
        reached += not (moved or answered)
    return reached


def _home(home: homes.Home, cuts: list[Cut], result: Replay) -> dict[str, Any]:
    checks = result.false[Tier.CHECK]
    return {"days": round(result.days, 1), "main_door": home.main_door,
            "bed_sensor": any(i.kind is Kind.BED_OCCUPANCY for i in home.intervals),
            "check_per_day": round(len(checks) / result.days, 3),
            "check_per_day_at_desk": {p: round(at_desk(home, checks, p) / result.days, 3)
                                      for p in ANSWER_P},
            "alarm_per_day": round(len(result.false[Tier.ALARM]) / result.days, 3),
            "rows": _rows(cuts, result)}


def run(root: Path, cuts: int = 200, seed: int = 7) -> dict[str, Any]:
    """Every home under ``root`` (see ``homes.find``)."""
    per_home: dict[str, Any] = {}
    pooled: list[tuple[Cut, Replay, int]] = []
    curves: dict[str, list[dict[str, float]]] = {}
    every_home: dict[float, list[tuple[Replay, list[Cut]]]] = {}
    for path in homes.find(root):
        home = homes.load(path)
        home_cuts = draw_cuts(home, cuts, seed)
        result = replay(home, home_cuts)
        per_home[home.name] = _home(home, home_cuts, result)
        pooled += [(c, result, k) for k, c in enumerate(home_cuts)]
        collapses = [c for c in home_cuts if c.variant == "collapse"]
        points = []
        for f in FACTORS:
            at = replay(home, collapses, f)
            points.append(_point(f, [(at, collapses)]))
            every_home.setdefault(f, []).append((at, collapses))
        curves[home.name] = points
    if len(curves) > 1:
        curves[f"all {len(curves)} homes"] = [_point(f, runs) for f, runs in every_home.items()]
    return _report(per_home, pooled, curves)


def _point(factor: float, runs: list[tuple[Replay, list[Cut]]]) -> dict[str, float]:
    """One point of the operating curve over ``runs`` (one per home, pooled): false per
    home-day; the delays of daytime collapses (medians: an awake resident; the alarm's
    mean and share within 4 h: every daytime collapse, a miss counted as 12 h)."""
    days = sum(r.days for r, _ in runs)

    def delays(tier: Tier, awake_only: bool) -> list[float]:
        return [r.delays[tier][k] for r, cuts in runs for k, c in enumerate(cuts)
                if not (awake_only and c.asleep)]

    alarm_all = np.minimum(delays(Tier.ALARM, False), HORIZON_MS / MIN_MS)
    return {"factor": factor,
            "check_per_day": round(sum(len(r.false[Tier.CHECK]) for r, _ in runs) / days, 3),
            "check_p50": _p50(delays(Tier.CHECK, True)),
            "alarm_per_day": round(sum(len(r.false[Tier.ALARM]) for r, _ in runs) / days, 3),
            "alarm_p50": _p50(delays(Tier.ALARM, True)),
            "alarm_mean": round(float(alarm_all.mean()), 1) if len(alarm_all) else float("nan"),
            "alarm_within_4h": _within(alarm_all, 240)}


def _fmt(value: float) -> str:
    return "never" if value == float("inf") else f"{value:.0f}"


def _report(per_home: dict[str, Any], pooled: list[tuple[Cut, Replay, int]],
            curves: dict[str, list[dict[str, float]]]) -> dict[str, Any]:
    days = sum(h["days"] for h in per_home.values())
    checks = sum(h["check_per_day"] * h["days"] for h in per_home.values())
    alarms = sum(h["alarm_per_day"] * h["days"] for h in per_home.values())
    collapse = [(c, r, k) for c, r, k in pooled if c.variant == "collapse"]
    awake = [(c, r, k) for c, r, k in collapse if not c.asleep]
    summary = {
        "homes": len(per_home),
        "check_per_day": round(checks / days, 3) if days else float("nan"),
        "check_delay_min_p50": _p50(r.delays[Tier.CHECK][k] for _, r, k in awake),
        "alarm_per_day": round(alarms / days, 3) if days else float("nan"),
        "alarm_delay_min_p50": _p50(r.delays[Tier.ALARM][k] for _, r, k in collapse),
        "alarm_within_4h": _within((r.delays[Tier.ALARM][k] for _, r, k in collapse), 240),
    }
    for share in ANSWER_P:  # asking first: the checks that still reach the desk
        at = sum(h["check_per_day_at_desk"][share] * h["days"] for h in per_home.values())
        summary[f"check_per_day_at_desk_p{round(share * 100)}"] = round(at / days, 3) \
            if days else float("nan")
    lines = ["| home | days | bed sensor | checks/day | alarms/day | cuts | check p50 (min) | "
             "check within 1 h | alarm p50 (min) | alarm within 4 h | missed (12 h) |",
             "|---|---|---|---|---|---|---|---|---|---|---|"]
    for name, h in per_home.items():
        first = True
        for row, s in h["rows"].items():
            lead = (f"| {name} | {h['days']} | {'yes' if h['bed_sensor'] else 'no'} | "
                    f"{h['check_per_day']} | {h['alarm_per_day']} |" if first
                    else "| | | | | |")
            first = False
            lines.append(f"{lead} {row}: {s['cuts']} | {_fmt(s['check_p50'])} | "
                         f"{s['check_within_1h']} | {_fmt(s['alarm_p50'])} | "
                         f"{s['alarm_within_4h']} | {s['missed_12h']} |")
    lines += [f"| **all {len(per_home)} homes** | {days:.1f} | | "
              f"{summary['check_per_day']} | {summary['alarm_per_day']} | daytime collapse "
              f"(check: awake only) | {_fmt(summary['check_delay_min_p50'])} | | "
              f"{_fmt(summary['alarm_delay_min_p50'])} | {summary['alarm_within_4h']} | |",
              "", "Targets, every home: check <= 0.3 per home-day with a median delay <= 60 "
              "min for daytime collapses of an awake resident; alarm <= 0.1 per home-day, "
              "median <= 2 h and >= 95 % within 4 h for daytime collapses.", "",
              "Operating curve (every limit of both tiers times the factor; delays of daytime "
              "collapses: the medians of an awake resident; the alarm's mean and share "
              "within 4 h of every daytime collapse, a miss counted as 12 h; the last rows "
              "pool the homes):", "",
              "| home | factor | checks/day | check p50 (min) | alarms/day | alarm p50 (min) | "
              "alarm mean (min) | alarm within 4 h |",
              "|---|---|---|---|---|---|---|---|"]
    for name, points in curves.items():
        for p in points:
            mark = " (shipped)" if p["factor"] == 1.0 else ""
            lines.append(f"| {name} | {p['factor']}{mark} | {p['check_per_day']} | "
                         f"{_fmt(p['check_p50'])} | {p['alarm_per_day']} | "
                         f"{_fmt(p['alarm_p50'])} | {_fmt(p['alarm_mean'])} | "
                         f"{p['alarm_within_4h']} |")
    lines += ["", "Asking first (the check held 2 min while the home unit asks; who answers: "
              "the model in the method): checks reaching the desk per home-day, by the share "
              "p of awake residents at home who answer:", "",
              "| home | today (every check) | " + " | ".join(f"p = {a}" for a in ANSWER_P)
              + " |", "|---|---|" + "---|" * len(ANSWER_P)]
    for name, h in per_home.items():
        lines.append(f"| {name} | {h['check_per_day']} | " + " | ".join(
            str(h["check_per_day_at_desk"][a]) for a in ANSWER_P) + " |")
    lines.append(f"| **all {len(per_home)} homes** | {summary['check_per_day']} | " + " | ".join(
        str(summary[f"check_per_day_at_desk_p{round(a * 100)}"]) for a in ANSWER_P) + " |")
    lines += ["", "Published, for the alarm tier: 0.09 false alarms a day at a mean delay of "
              "5 h 23 min (323 min; Wilhelm & Wahl 2024, seven public homes)."]
    legacy = {"false_alarms_per_day": summary["alarm_per_day"],
              "delay_min_p50": summary["check_delay_min_p50"],
              "detected_within_3h": _within(
                  (min(r.delays[Tier.CHECK][k], r.delays[Tier.ALARM][k])
                   for _, r, k in collapse), 180)}
    return {"method": (__doc__ or "").strip(), "table": "\n".join(lines),
            "summary": {**legacy, **summary}, "homes": per_home, "curves": curves}


def run_restarts(root: Path, every_days: int, cuts: int = 200,
                 seed: int = 7) -> dict[str, Any]:
    """Every home under ``root`` replayed three ways: without restarts, restarted every
    ``every_days`` from snapshots, restarted as many times afresh. The summary (the same
    keys as ``run``'s) is of the restarts from snapshots."""
    ways = {"none": None, "snapshots": Restarts(every_days, True),
            "afresh": Restarts(every_days, False)}
    per_home: dict[str, dict[str, Any]] = {w: {} for w in ways}
    pooled: dict[str, list[tuple[Cut, Replay, int]]] = {w: [] for w in ways}
    for path in homes.find(root):
        home = homes.load(path)
        home_cuts = draw_cuts(home, cuts, seed)
        for way, restarts in ways.items():
            result = replay(home, home_cuts, restarts=restarts)
            per_home[way][home.name] = _home(home, home_cuts, result)
            pooled[way] += [(c, result, k) for k, c in enumerate(home_cuts)]
    reports = {w: _report(per_home[w], pooled[w], {}) for w in ways}
    figures = ("check_per_day", "alarm_per_day", "check_delay_min_p50",
               "alarm_delay_min_p50", "alarm_within_4h")
    lines = [f"Restarted every {every_days} days: per home, without restarts / restarted "
             "from snapshots / restarted afresh (as before snapshots).", "",
             "| home | " + " | ".join(figures) + " | largest change from snapshots |",
             "|---|" + "---|" * (len(figures) + 1)]
    rows = {name: {w: _figures(per_home[w][name]) for w in ways} for name in per_home["none"]}
    rows["all homes"] = {w: {f: reports[w]["summary"][f] for f in figures} for w in ways}
    worst: dict[str, float] = {}
    for name, by_way in rows.items():
        worst[name] = max(_rel(by_way["snapshots"][f], by_way["none"][f]) for f in figures)
        cells = [" / ".join(_fig(by_way[w][f]) for w in ways) for f in figures]
        lines.append(f"| {name} | " + " | ".join(cells) + f" | {worst[name]:.1%} |")
    summary = {**reports["snapshots"]["summary"], "restart_every_days": every_days,
               "largest_change_from_snapshots": round(max(worst.values()), 4),
               "without_restarts": {f: reports["none"]["summary"][f] for f in figures},
               "restarted_afresh": {f: reports["afresh"]["summary"][f] for f in figures}}
    method = (__doc__ or "").strip().split("\n\n")[-1]  # the paragraph on restarts
    return {"method": method, "table": "\n".join(lines), "summary": summary, "homes": rows}


def _figures(home: dict[str, Any]) -> dict[str, float]:
    collapse = home["rows"]["daytime, collapse"]
    awake = home["rows"]["daytime, collapse: awake"]
    return {"check_per_day": home["check_per_day"], "alarm_per_day": home["alarm_per_day"],
            "check_delay_min_p50": awake["check_p50"],
            "alarm_delay_min_p50": collapse["alarm_p50"],
            "alarm_within_4h": collapse["alarm_within_4h"]}


def _rel(value: float, base: float) -> float:
    """How far ``value`` is from ``base``, as a share of it (0 when both are equal)."""
    if value == base or (np.isnan(value) and np.isnan(base)):
        return 0.0
    return abs(value - base) / abs(base) if base else float("inf")


def _fig(value: float) -> str:
    return "never" if value == float("inf") else f"{value:.3g}"
