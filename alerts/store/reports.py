"""The response report's figures, computed by SQL over the stored times (the same
statements on SQLite and PostgreSQL): per operator and in all, over alarms opened in a
span of time on some sites.

An *alarm* here is an alert of severity alarm or critical (the desk-only warnings are
not answered by the clock). Its answer time is ``answered_ms - opened_ms`` (the first
take); one never answered counts against the shares answered within 60 s and 180 s.
Percentiles are nearest-rank: the k-th smallest with k = ceil(n p).
"""

from __future__ import annotations

from typing import Any

from alerts.model import CONFIRMED, REQUESTS, Condition, Outcome, Severity
from alerts.store.table import Table

ALARM_MIN = int(Severity.ALARM)
LABEL_BEFORE_MS = 10 * 60_000  # a label covers the readings from 10 min before the alarm
LABEL_AFTER_MS = 60_000  # ... to a minute after it opened


def _rank(n: str, percent: int) -> str:
    """SQL for ceil(n * percent / 100) in integers (both dialects divide integers so)."""
    return f"(({n}) * {percent} + 99) / 100"


_REQUESTS = ", ".join(f"'{c.value}'" for c in sorted(REQUESTS))


class Reports(Table):
    def _scope(self, from_ms: int, to_ms: int, sites: tuple[str, ...],
               alias: str = "", requests: bool = False) -> tuple[str, list[Any]]:
        """Alarms (or with ``requests``, the requests) opened in the span on ``sites``."""
        a = f"{alias}." if alias else ""
        what = f"{a}condition IN ({_REQUESTS})" if requests \
            else f"{a}severity >= {ALARM_MIN}"
        where = f"{a}opened_ms >= ? AND {a}opened_ms < ? AND {what}"
        args: list[Any] = [from_ms, to_ms]
        if sites:
            where += f" AND {a}site_id IN ({', '.join('?' * len(sites))})"
            args += list(sites)
        return where, args

    def link_faults(self, from_ms: int, to_ms: int, sites: tuple[str, ...] = ()) -> list[str]:
        """The gateways with a daily test alarm missed (a link fault opened) in the span."""
        where = "opened_ms >= ? AND opened_ms < ? AND condition = ?"
        args: list[Any] = [from_ms, to_ms, Condition.LINK_TEST_MISSED.value]
        if sites:
            where += f" AND site_id IN ({', '.join('?' * len(sites))})"
            args += list(sites)
        rows = self._run(f"SELECT DISTINCT subject FROM alerts WHERE {where}",
                         tuple(args)).fetchall()
        return sorted(str(r[0]) for r in rows)

    def answers(self, from_ms: int, to_ms: int, sites: tuple[str, ...] = (),
                by_operator: bool = False, requests: bool = False) -> list[dict[str, Any]]:
        """Alarms (or requests), answered, answered within 60 s and 180 s, answer time p50
        and p90 (ms); in all (``operator`` "") or per operator (of what they answered)."""
        where, args = self._scope(from_ms, to_ms, sites, requests=requests)
        # an SOS the resident cancelled before anyone took it was not the desk's to answer
        where += f" AND (outcome IS NULL OR outcome <> '{Outcome.CANCELLED_BY_RESIDENT.value}')"
        group = "COALESCE(answered_by, '')" if by_operator else "''"
        rows = self._run(
            f"WITH a AS (SELECT {group} AS who, answered_ms - opened_ms AS ms FROM alerts "
            f"WHERE {where}{' AND answered_ms IS NOT NULL' if by_operator else ''}), "
            "r AS (SELECT who, ms, ROW_NUMBER() OVER (PARTITION BY who ORDER BY ms) AS rn, "
            "COUNT(ms) OVER (PARTITION BY who) AS n FROM a WHERE ms IS NOT NULL) "
            "SELECT a.who, COUNT(*), COUNT(a.ms), "
            "SUM(CASE WHEN a.ms <= 60000 THEN 1 ELSE 0 END), "
            "SUM(CASE WHEN a.ms <= 180000 THEN 1 ELSE 0 END), "
            f"(SELECT MAX(ms) FROM r WHERE r.who = a.who AND rn = {_rank('r.n', 50)}), "
            f"(SELECT MAX(ms) FROM r WHERE r.who = a.who AND rn = {_rank('r.n', 90)}) "
            "FROM a GROUP BY a.who ORDER BY a.who", tuple(args)).fetchall()
        out = []
        for who, alarms, answered, in60, in180, p50, p90 in rows:
            alarms = int(alarms)
            out.append({"operator": who, "alarms": alarms, "answered": int(answered),
                        "answered_60s": int(in60 or 0), "answered_180s": int(in180 or 0),
                        "answered_60s_share": round(int(in60 or 0) / alarms, 4),
                        "answered_180s_share": round(int(in180 or 0) / alarms, 4),
                        "answer_ms_p50": None if p50 is None else int(p50),
                        "answer_ms_p90": None if p90 is None else int(p90)})
        if not by_operator and not out:
            out.append({"operator": "", "alarms": 0, "answered": 0, "answered_60s": 0,
                        "answered_180s": 0, "answered_60s_share": None,
                        "answered_180s_share": None, "answer_ms_p50": None,
                        "answer_ms_p90": None})
        return out

    def answered_60s_by_site(self, from_ms: int, to_ms: int,
                             sites: tuple[str, ...] = ()) -> dict[str, float]:
        """Per site with alarms in the span, the share of them answered within 60 s (one
        statement for every site: a supervisor's page over thousands)."""
        where, args = self._scope(from_ms, to_ms, sites)
        rows = self._run(
            "SELECT site_id, COUNT(*), SUM(CASE WHEN answered_ms - opened_ms <= 60000 "
            f"THEN 1 ELSE 0 END) FROM alerts WHERE {where} GROUP BY site_id",
            tuple(args)).fetchall()
        return {site: round(int(in60 or 0) / int(n), 4) for site, n, in60 in rows}

    def outcomes(self, from_ms: int, to_ms: int, sites: tuple[str, ...] = (),
                 requests: bool = False) -> list[dict[str, Any]]:
        """Alarms (or requests) by condition and outcome ("" while not resolved,
        "cleared" when it ended by itself)."""
        where, args = self._scope(from_ms, to_ms, sites, requests=requests)
        rows = self._run(
            "SELECT condition, CASE WHEN outcome IS NOT NULL THEN outcome WHEN state = "
            "'resolved' THEN 'cleared' ELSE '' END AS how, COUNT(*) FROM alerts "
            f"WHERE {where} GROUP BY condition, how ORDER BY condition, how",
            tuple(args)).fetchall()
        return [{"condition": c, "outcome": o, "alarms": int(n)} for c, o, n in rows]

    def false_alarms(self, from_ms: int, to_ms: int,
                     sites: tuple[str, ...] = ()) -> list[dict[str, Any]]:
        """Per condition (the detector that raised it): alarms closed with an outcome,
        and the share of them that were a false alarm."""
        where, args = self._scope(from_ms, to_ms, sites)
        rows = self._run(
            "SELECT condition, COUNT(*), SUM(CASE WHEN outcome = ? THEN 1 ELSE 0 END) "
            f"FROM alerts WHERE {where} AND outcome IS NOT NULL AND outcome NOT IN (?, ?) "
            "GROUP BY condition ORDER BY condition",
            (Outcome.FALSE_ALARM.value, *args, Outcome.TEST.value,
             Outcome.DEVICE_FAULT.value)).fetchall()
        return [{"condition": c, "closed": int(n), "false_alarms": int(f or 0),
                 "false_alarm_share": round(int(f or 0) / int(n), 4)} for c, n, f in rows]

    def dispatches(self, from_ms: int, to_ms: int,
                   sites: tuple[str, ...] = ()) -> dict[str, Any]:
        """Responders sent for those alarms: how many, arrived, not arrived, cannot come,
        and dispatch-to-arrival p50 and p90 (ms)."""
        where, args = self._scope(from_ms, to_ms, sites, "a")
        row = self._run(
            "WITH d AS (SELECT d.state, d.arrived_ms - d.sent_ms AS ms FROM dispatches d "
            f"JOIN alerts a USING (alert_id) WHERE {where}), "
            "r AS (SELECT ms, ROW_NUMBER() OVER (ORDER BY ms) AS rn, COUNT(*) OVER () AS n "
            "FROM d WHERE ms IS NOT NULL) "
            "SELECT COUNT(*), SUM(CASE WHEN state = 'arrived' THEN 1 ELSE 0 END), "
            "SUM(CASE WHEN state = 'not_arrived' THEN 1 ELSE 0 END), "
            "SUM(CASE WHEN state = 'cannot_come' THEN 1 ELSE 0 END), "
            f"(SELECT MAX(ms) FROM r WHERE rn = {_rank('r.n', 50)}), "
            f"(SELECT MAX(ms) FROM r WHERE rn = {_rank('r.n', 90)}) FROM d",
            tuple(args)).fetchone()
        sent, arrived, missed, cannot, p50, p90 = row
        return {"dispatched": int(sent), "arrived": int(arrived or 0),
                "non_arrivals": int(missed or 0), "cannot_come": int(cannot or 0),
                "arrival_ms_p50": None if p50 is None else int(p50),
                "arrival_ms_p90": None if p90 is None else int(p90)}

    def timeline_counts(self, what: str, from_ms: int, to_ms: int,
                        sites: tuple[str, ...] = ()) -> int:
        """How many timeline lines ``what`` (e.g. ack timeouts) those alarms have."""
        where, args = self._scope(from_ms, to_ms, sites, "a")
        row = self._run(f"SELECT COUNT(*) FROM timeline t JOIN alerts a USING (alert_id) "
                        f"WHERE t.what = ? AND {where}", (what, *args)).fetchone()
        return int(row[0])

    def per_day(self, from_ms: int, to_ms: int, offset_min: int,
                sites: tuple[str, ...] = ()) -> list[dict[str, Any]]:
        """Alarms per local day (``offset_min`` from UTC): the day's start (UTC ms)."""
        where, args = self._scope(from_ms, to_ms, sites)
        day = 86_400_000
        shift = offset_min * 60_000
        rows = self._run(
            f"SELECT ((opened_ms + {shift}) / {day}) * {day} - {shift} AS d, COUNT(*) "
            f"FROM alerts WHERE {where} GROUP BY d ORDER BY d", tuple(args)).fetchall()
        return [{"day_ms": int(d), "alarms": int(n)} for d, n in rows]

    def answer_times(self, from_ms: int, to_ms: int,
                     sites: tuple[str, ...] = ()) -> list[int]:
        """Every answer time (ms) of those alarms, for the distribution's plot."""
        where, args = self._scope(from_ms, to_ms, sites)
        rows = self._run(f"SELECT answered_ms - opened_ms FROM alerts WHERE {where} AND "
                         "answered_ms IS NOT NULL ORDER BY 1 LIMIT 100000",
                         tuple(args)).fetchall()
        return [int(r[0]) for r in rows]

    def labels(self, from_ms: int, to_ms: int,
               sites: tuple[str, ...] = ()) -> list[dict[str, Any]]:
        """Each alarm closed with an outcome, as a label the detectors' evaluation can
        read: ``confirmed`` (injured or helped up), ``false_alarm``, or ``excluded``
        (device fault, test, other), with the span of readings it covers."""
        where, args = self._scope(from_ms, to_ms, sites)
        rows = self._run(
            "SELECT alert_id, condition, subject, site_id, gateway_id, device_id, opened_ms, "
            f"outcome FROM alerts WHERE {where} AND outcome IS NOT NULL ORDER BY opened_ms",
            tuple(args)).fetchall()
        confirmed = {o.value for o in CONFIRMED}
        return [{"alert_id": int(a), "condition": c, "subject": subj, "site_id": site,
                 "gateway_id": gw, "device_id": dev, "opened_ms": int(t), "outcome": o,
                 "label": "confirmed" if o in confirmed else "false_alarm"
                 if o == Outcome.FALSE_ALARM.value else "excluded",
                 "readings_from_ms": int(t) - LABEL_BEFORE_MS,
                 "readings_to_ms": int(t) + LABEL_AFTER_MS}
                for a, c, subj, site, gw, dev, t, o in rows]
