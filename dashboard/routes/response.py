"""The response to an alarm: take it, hand it on or back, send responders and record
what they say, the resident's response plan, and the response report (JSON, CSV).

Every action is role-checked here (a viewer reads, a nurse or an admin acts) and audited;
an alarm, a dispatch or a resident of a site the user does not see answers 404, as if
there were none."""

from __future__ import annotations

import csv
import datetime
import io
from collections.abc import Callable
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo

from fastapi import APIRouter, HTTPException, Query, status
from fastapi.responses import Response as HttpResponse
from pydantic import BaseModel, Field

from alerts.model import (
    REQUESTS,
    SYSTEM_OUTCOMES,
    Alert,
    Condition,
    Dispatch,
    DispatchState,
    Outcome,
)
from alerts.notify import texts
from alerts.response import ResponseError
from alerts.rounds import rounds_on_time
from alerts.visits import due_visits, visit_rates
from dashboard.accounts.model import Role
from dashboard.deps import MAX_TIME_MS, AlertId, Ctx, Nurse, User
from dashboard.errors import SIGNED_IN, answers
from dashboard.views import alert_view, masked_phone
from registry.model import Resident
from registry.time import utc_offset_min

router = APIRouter(prefix="/api", tags=["response"], responses=SIGNED_IN)


class TakeIn(BaseModel):
    note: str = Field("", max_length=500)


class AssignIn(BaseModel):
    to: str = Field(min_length=1, max_length=64, description="the user who has it next")


class GiveBackIn(BaseModel):
    reason: str = Field("", max_length=200)


class DispatchIn(BaseModel):
    responder: str = Field(pattern=r"^[cs]\d{1,3}$",
                           description="c<n>: the resident's n-th contact; s<n>: the "
                                       "site's n-th responder (GET .../responders)")
    text: bool = Field(True, description="text them (else the desk phoned them)")


class RequestIn(BaseModel):
    type: Condition = Field(description="a request_* condition the site takes "
                                        "(GET /api/request-types)")
    wanted_ms: int | None = Field(None, ge=0, le=MAX_TIME_MS,
                                  description="when the resident wants it (UTC ms)")
    note: str = Field("", max_length=200)


class MoveIn(BaseModel):
    step: Literal["on_the_way", "arrived", "cannot_come"]
    note: str = Field("", max_length=200)


def _alert(ctx: Ctx, user: User, alert_id: int) -> Alert:
    alert = ctx.queries.alert(alert_id)
    if alert is None or not user.sees(alert.site_id):
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no alert {alert_id}")
    return alert


def _refused(exc: ResponseError) -> HTTPException:
    code = status.HTTP_404_NOT_FOUND if exc.reason in ("no_alert", "no_responder",
                                                        "no_dispatch", "no_resident") \
        else status.HTTP_409_CONFLICT
    return HTTPException(code, f"{exc} ({exc.reason})")


def _dispatch_view(d: Dispatch) -> dict[str, Any]:
    return {"dispatch_id": d.dispatch_id, "alert_id": d.alert_id, "name": d.name,
            "role": d.role, "phone": masked_phone(d.phone), "state": d.state.value,
            "sent_by": d.sent_by, "sent_ms": d.sent_ms, "due_ms": d.due_ms,
            "on_way_ms": d.on_way_ms, "arrived_ms": d.arrived_ms, "ended_ms": d.ended_ms}


def _act(ctx: Ctx, user: Nurse, alert_id: int, action: str, detail: str,
         call: Callable[[], Alert]) -> dict[str, Any]:
    """An action on an alarm of the user's sites: done (or refused, 404 / 409), audited."""
    _alert(ctx, user, alert_id)
    try:
        alert = call()
    except ResponseError as exc:
        raise _refused(exc) from exc
    ctx.accounts.audit(ctx.clock.now_ms(), user.username, action, f"alert {alert_id}", detail)
    return alert_view(ctx.registry, alert)


@router.post("/alerts/{alert_id}/take", responses=answers(404, 409))
def take(alert_id: AlertId, body: TakeIn, ctx: Ctx, user: Nurse) -> dict[str, Any]:
    """I have it: the first take is the alarm's answer; every desk sees who has it."""
    return _act(ctx, user, alert_id, "take", body.note,
                lambda: ctx.core.response.take(alert_id, user.username, body.note))


@router.post("/alerts/{alert_id}/assign", responses=answers(404, 409))
def assign(alert_id: AlertId, body: AssignIn, ctx: Ctx, user: Nurse) -> dict[str, Any]:
    """Hand the alarm to another desk user (a nurse or an admin)."""
    _alert(ctx, user, alert_id)
    if dict(ctx.accounts.users()).get(body.to) not in (Role.NURSE, Role.MANAGER, Role.ADMIN):
        raise HTTPException(status.HTTP_409_CONFLICT,
                            f"{body.to!r} is not a nurse or an admin (no_such_user)")
    return _act(ctx, user, alert_id, "assign", f"to {body.to}",
                lambda: ctx.core.response.assign(alert_id, body.to, user.username))


@router.post("/alerts/{alert_id}/give-back", responses=answers(404, 409))
def give_back(alert_id: AlertId, body: GiveBackIn, ctx: Ctx, user: Nurse) -> dict[str, Any]:
    """Back to the queue: open again, its escalation going on."""
    return _act(ctx, user, alert_id, "give_back", body.reason,
                lambda: ctx.core.response.give_back(alert_id, user.username, body.reason))


@router.get("/alerts/{alert_id}/responders", responses=answers(404))
def responders(alert_id: AlertId, ctx: Ctx, user: User) -> list[dict[str, Any]]:
    """Who may be sent, in the plan's order: the resident's contacts, the site's staff and
    community workers, the rescue service (phones masked). ``sent``: on the way or there
    already; ``proposed``: the next in the plan not sent yet."""
    alert = _alert(ctx, user, alert_id)
    busy = {d.phone for d in ctx.queries.dispatches(alert_id)
            if d.state.going or d.state is DispatchState.ARRIVED}
    tried = {d.phone for d in ctx.queries.dispatches(alert_id)}
    out = [{"ref": r.ref, "name": r.contact.name, "role": r.contact.role,
            "relation": r.contact.relation, "phone": masked_phone(r.contact.phone),
            "has_phone": bool(r.contact.phone.strip()), "sent": r.contact.phone in busy,
            "proposed": False, "_tried": r.contact.phone in tried}
           for r in ctx.core.response.responders(alert)]
    nxt = next((r for r in out if r["has_phone"] and not r["_tried"]), None)
    if nxt is not None:
        nxt["proposed"] = True
    for r in out:
        del r["_tried"]
    return out


@router.post("/alerts/{alert_id}/dispatch", status_code=201, responses=answers(404, 409))
def dispatch(alert_id: AlertId, body: DispatchIn, ctx: Ctx, user: Nurse) -> dict[str, Any]:
    """Send a responder: texted who, where, what, since when and the reply codes."""
    _alert(ctx, user, alert_id)
    try:
        made = ctx.core.response.dispatch(alert_id, body.responder, user.username,
                                          text=body.text)
    except ResponseError as exc:
        raise _refused(exc) from exc
    ctx.accounts.audit(ctx.clock.now_ms(), user.username, "dispatch", f"alert {alert_id}",
                       f"{made.role}: {made.name}" + ("" if body.text else " (phoned)"))
    return _dispatch_view(made)


@router.get("/alerts/{alert_id}/dispatches", responses=answers(404))
def dispatches(alert_id: AlertId, ctx: Ctx, user: User) -> list[dict[str, Any]]:
    _alert(ctx, user, alert_id)
    return [_dispatch_view(d) for d in ctx.queries.dispatches(alert_id)]


@router.post("/dispatches/{dispatch_id}", responses=answers(404, 409))
def move(dispatch_id: AlertId, body: MoveIn, ctx: Ctx, user: Nurse) -> dict[str, Any]:
    """Record what a responder said on the phone: on the way, arrived, cannot come."""
    if not _dispatches_of_user(ctx, user, dispatch_id):
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no dispatch {dispatch_id}")
    try:
        made = ctx.core.response.move(dispatch_id, DispatchState(body.step), user.username,
                                      body.note)
    except ResponseError as exc:
        raise _refused(exc) from exc
    ctx.accounts.audit(ctx.clock.now_ms(), user.username, f"dispatch_{body.step}",
                       f"alert {made.alert_id}", f"dispatch {dispatch_id}: {body.note}")
    return _dispatch_view(made)


def _dispatches_of_user(ctx: Ctx, user: User, dispatch_id: int) -> list[Dispatch]:
    found = ctx.queries.dispatch(dispatch_id)
    if found is None:
        return []
    alert = ctx.queries.alert(found.alert_id)
    return [found] if alert is not None and user.sees(alert.site_id) else []


@router.get("/outcomes")
def outcomes(user: User) -> list[dict[str, Any]]:
    """The outcomes an alarm is resolved with, in each language the page offers."""
    return [{"outcome": o.value, **{lang: texts.outcome(o.value, lang)
                                    for lang in texts.LANGUAGES}}
            for o in Outcome if o not in SYSTEM_OUTCOMES]


def _resident(ctx: Ctx, user: User, resident_id: str) -> Resident:
    resident = ctx.registry.residents.get(resident_id)
    if resident is None or not user.sees(resident.site_id):
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no resident {resident_id}")
    return resident


@router.get("/residents/{resident_id}/plan", responses=answers(404))
def plan(resident_id: str, ctx: Ctx, user: User) -> dict[str, Any]:
    """The resident's response plan (the key-safe code itself: ``.../key-safe``)."""
    resident = _resident(ctx, user, resident_id)
    site = ctx.registry.sites.get(resident.site_id)
    return {"resident_id": resident_id, "name": resident.display_name,
            "address": site.address if site else "", "room": resident.room,
            "access_notes": resident.access_notes, "medical_notes": resident.medical_notes,
            "fall_risk": resident.fall_risk, "preferred_hospital": resident.preferred_hospital,
            "key_safe_set": bool(resident.key_safe),
            "key_holders": [{"name": c.name, "phone": masked_phone(c.phone)}
                            for c in resident.contacts if c.role == "keyholder"]}


@router.post("/residents/{resident_id}/requests", status_code=201,
             responses=answers(404, 409))
def new_request(resident_id: str, body: RequestIn, ctx: Ctx, user: Nurse) -> dict[str, Any]:
    """A request taken by phone (a meal, cleaning, a health visit, ...): on the desk like
    an alarm, through take, dispatch, arrive and close; it never pages family or rescue."""
    _resident(ctx, user, resident_id)
    try:
        alert = ctx.core.response.request(resident_id, body.type, user.username,
                                          wanted_ms=body.wanted_ms, note=body.note)
    except ResponseError as exc:
        raise _refused(exc) from exc
    ctx.accounts.audit(ctx.clock.now_ms(), user.username, "request", resident_id,
                       f"{body.type.value}: {body.note}")
    return alert_view(ctx.registry, alert)


@router.get("/request-types")
def request_types(ctx: Ctx, user: User) -> dict[str, list[dict[str, str]]]:
    """The requests each of the user's sites takes, in each language the page offers."""
    return {site_id: [{"type": t, **{lang: texts.what(Condition(t), lang)
                                     for lang in texts.LANGUAGES}}
                      for t in ctx.policies.for_site(site_id).response.request_types
                      if Condition(t) in REQUESTS]
            for site_id in ctx.registry.sites if user.sees(site_id)}


@router.get("/residents/{resident_id}/key-safe", responses=answers(403, 404))
def key_safe(resident_id: str, ctx: Ctx, user: Nurse) -> dict[str, str]:
    """The key-safe or door code, for nurses and admins; every view is audited."""
    resident = _resident(ctx, user, resident_id)
    ctx.accounts.audit(ctx.clock.now_ms(), user.username, "view_key_safe", resident_id, "")
    return {"resident_id": resident_id, "key_safe": resident.key_safe}


Month = Annotated[str | None, Query(pattern=r"^(19[7-9]\d|2\d{3})-(0[1-9]|1[0-2])$",
                                    description="YYYY-MM (default: this month)")]


def _month_span(month: str, timezone: str) -> tuple[int, int]:
    year, mon = int(month[:4]), int(month[5:])
    zone = ZoneInfo(timezone)
    start = datetime.datetime(year, mon, 1, tzinfo=zone)
    end = datetime.datetime(year + mon // 12, mon % 12 + 1, 1, tzinfo=zone)
    return int(start.timestamp() * 1000), int(end.timestamp() * 1000)


def _span(ctx: Ctx, user: User, month: str | None,
          site_id: str | None) -> tuple[int, int, tuple[str, ...], str, str]:
    """(from, to, sites, month, time zone) of a month on one site or the user's sites."""
    if site_id is not None and (site_id not in ctx.registry.sites or not user.sees(site_id)):
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no site {site_id}")
    sites = (site_id,) if site_id else user.site_scope()
    zones = {ctx.registry.sites[s].timezone for s in (sites or ctx.registry.sites)
             if s in ctx.registry.sites}
    timezone = zones.pop() if len(zones) == 1 else "UTC"  # months of mixed zones: UTC
    now = ctx.clock.now_ms()
    if month is None:
        here = datetime.datetime.fromtimestamp(now / 1000, tz=ZoneInfo(timezone))
        month = f"{here.year:04d}-{here.month:02d}"
    from_ms, to_ms = _month_span(month, timezone)
    return from_ms, to_ms, sites, month, timezone


def _report(ctx: Ctx, user: User, month: str | None, site_id: str | None) -> dict[str, Any]:
    from_ms, to_ms, sites, month, timezone = _span(ctx, user, month, site_id)
    out = ctx.queries.report(from_ms, to_ms, sites, utc_offset_min(timezone, from_ms))
    # the link proof: of the gateways of these sites, those whose daily test alarm arrived
    # every day of the month (none missed)
    gateways = {g.gateway_id for g in ctx.registry.gateways.values()
                if (g.site_id in sites if sites else user.sees(g.site_id))}
    faulty = gateways & set(out.pop("link_faults"))
    out["link_tests"] = {"gateways": len(gateways), "every_day": len(gateways - faulty),
                         "share": round(len(gateways - faulty) / len(gateways), 4)
                         if gateways else None}
    # the visit rate (the 100 % KPI): residents at home seen on a visit this month
    mine = [rid for rid, r in ctx.registry.residents.items()
            if (r.site_id in sites if sites else user.sees(r.site_id))]
    rates = visit_rates(ctx.registry, ctx.core.db.visits.between(from_ms, to_ms, sites), mine)
    out["visits"] = {**rates[0]._asdict(), "communities": [r._asdict() for r in rates[1:]],
                     "overdue": sum(d.warned for d in due_visits(
                         ctx.registry, ctx.core.db, mine, ctx.clock.now_ms()))}
    # care homes: rounds done on time, handovers accepted
    seen = list(sites) if sites else [s for s in ctx.registry.sites if user.sees(s)]
    due, on_time = rounds_on_time(ctx.registry, ctx.core.db, seen, from_ms,
                                  min(to_ms, ctx.clock.now_ms()))
    out["rounds"] = {"due": due, "on_time": on_time,
                     "share": round(on_time / due, 4) if due else None}
    handovers = ctx.core.db.duty.handovers(tuple(seen), from_ms, to_ms)
    accepted = sum(1 for h in handovers if h.accepted_by is not None)
    out["handovers"] = {"written": len(handovers), "accepted": accepted,
                        "share": round(accepted / len(handovers), 4) if handovers else None}
    out.update({"month": month, "timezone": timezone, "site_id": site_id})
    return out


@router.get("/reports/labels", responses=answers(404))
def labels(ctx: Ctx, user: User, month: Month = None,
           site_id: str | None = None) -> list[dict[str, Any]]:
    """The month's alarms closed with an outcome, as labels the detectors' evaluation
    reads (confirmed, false alarm, excluded) with the span of readings each covers."""
    from_ms, to_ms, sites, _, _ = _span(ctx, user, month, site_id)
    return ctx.queries.labels(from_ms, to_ms, sites)


@router.get("/reports/response", responses=answers(404))
def report(ctx: Ctx, user: User, month: Month = None,
           site_id: str | None = None) -> dict[str, Any]:
    """The month's response figures on one site or every site the user sees: answer
    times per operator and in all, alarms by outcome, responders' arrival times,
    non-arrivals, ack timeouts, the false-alarm share per detector."""
    return _report(ctx, user, month, site_id)


@router.get("/reports/response.csv", response_class=HttpResponse,
            responses={**answers(404), 200: {"content": {"text/csv": {}},
                                             "description": "the report's rows as CSV"}})
def report_csv(ctx: Ctx, user: User, month: Month = None,
               site_id: str | None = None) -> HttpResponse:
    """The answer-time rows of the report (in all, then per operator) as CSV."""
    data = _report(ctx, user, month, site_id)
    buffer = io.StringIO()
    columns = ["operator", "alarms", "answered", "answered_60s", "answered_180s",
               "answered_60s_share", "answered_180s_share", "answer_ms_p50", "answer_ms_p90"]
    writer = csv.DictWriter(buffer, fieldnames=["month", "site_id", *columns])
    writer.writeheader()
    for row in [{**data["total"], "operator": "(all)"}, *data["operators"]]:
        writer.writerow({"month": data["month"], "site_id": data["site_id"] or "(all)",
                         **{c: row[c] for c in columns}})
    return HttpResponse(buffer.getvalue(), media_type="text/csv",
                        headers={"Content-Disposition":
                                 f'attachment; filename="response-{data["month"]}.csv"'})
