"""Scheduled care: the visit register (探访). A visitor records a visit from a phone (how,
what was found, a note); the desk lists the visits due and overdue, per visitor and per
community. A visit that did not find the resident at home is an alarm with the normal
escalation; one that saw them ends an overdue warning at once.

Role-checked and audited like every action: a nurse (a site's staff, a community worker)
records, anyone signed in reads; a resident of a site the user does not see answers 404."""

from __future__ import annotations

import datetime
from typing import Any, Literal

from fastapi import APIRouter, HTTPException, status
from pydantic import BaseModel, Field

from alerts.model import Condition, Signal
from alerts.store.visits import SOON_MS, Found, Method
from alerts.visits import CONDITIONS, due_visits, visited
from dashboard.deps import Ctx, Nurse, User, registry_db
from dashboard.errors import SIGNED_IN, answers
from registry.time import at_local, local_day
from telemetry.clock import DAY_MS

router = APIRouter(prefix="/api", tags=["care"], responses=SIGNED_IN)


class VisitIn(BaseModel):
    method: Method = Field(description="home, phone or video")
    found: Found = Field(description="well; concerns (say which in the note); not_found: "
                                     "an alarm")
    note: str = Field("", max_length=500)


@router.post("/residents/{resident_id}/visits", status_code=201, responses=answers(404, 409))
def record_visit(resident_id: str, body: VisitIn, ctx: Ctx, user: Nurse) -> dict[str, Any]:
    """A visit made now, by the signed-in user."""
    r = ctx.registry.residents.get(resident_id)
    if r is None or not user.sees(r.site_id):
        gone = registry_db(ctx).discharged(user.site_scope(), resident_id) \
            if ctx.registry_db is not None else []
        if gone:
            raise HTTPException(status.HTTP_409_CONFLICT,
                                f"resident {resident_id} was discharged: no visits")
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no resident {resident_id}")
    if not visited(ctx.registry, [resident_id]):
        raise HTTPException(status.HTTP_409_CONFLICT,
                            f"resident {resident_id} lives in a care home: rounds, not visits")
    now = ctx.clock.now_ms()
    db = ctx.core.db
    visit_id = db.visits.add(resident_id, r.site_id, now, user.username, body.method,
                             body.found, body.note)
    ctx.accounts.audit(now, user.username, "visit", resident_id,
                       f"{body.method.value}, {body.found.value}: {body.note}")
    gateways = sorted(d.gateway_id for d in ctx.registry.devices_of(resident_id))
    gateway = gateways[0] if gateways else ""
    if body.found is Found.NOT_FOUND:
        ctx.core.handle([Signal(Condition.VISIT_NOT_FOUND, resident_id, True, now, r.site_id,
                                gateway, f"not found at home by {user.username}", "visit")])
    else:  # seen: the reminder and the warning end at once
        ctx.core.handle([Signal(c, resident_id, False, now, r.site_id, gateway, "visited")
                         for c in CONDITIONS if db.alerts.unresolved(c, resident_id)])
    return {"visit_id": visit_id, "resident_id": resident_id, "t_ms": now,
            "visitor": user.username, "method": body.method.value,
            "found": body.found.value}


class VisitRequestIn(BaseModel):
    reason: Literal["hospital_discharge", "other"] = Field(
        description="a major change: a visit within 24 h")
    note: str = Field("", max_length=200)


@router.post("/residents/{resident_id}/visits/request", status_code=201,
             responses=answers(404, 409))
def request_visit(resident_id: str, body: VisitRequestIn, ctx: Ctx,
                  user: Nurse) -> dict[str, Any]:
    """A major change entered on the desk (back home from hospital): a visit due within
    24 h, and a desk warning if it is not made by then."""
    r = ctx.registry.residents.get(resident_id)
    if r is None or not user.sees(r.site_id):
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no resident {resident_id}")
    if not visited(ctx.registry, [resident_id]):
        raise HTTPException(status.HTTP_409_CONFLICT,
                            f"resident {resident_id} lives in a care home: rounds, not visits")
    now = ctx.clock.now_ms()
    why = body.reason + (f": {body.note}" if body.note else "")
    ctx.core.db.visits.request(resident_id, now, why)
    ctx.accounts.audit(now, user.username, "visit_request", resident_id, why)
    return {"resident_id": resident_id, "due_ms": now + SOON_MS, "why": why}


@router.get("/calls/today")
def calls_today(ctx: Ctx, user: User) -> list[dict[str, Any]]:
    """Wellness calls for the desk: the residents visited by phone whose visit falls due
    by the end of today on their site's clock, soonest first (recorded as a visit)."""
    now = ctx.clock.now_ms()
    out = []
    for row in visits_due(ctx, user):
        r = ctx.registry.residents[row["resident_id"]]
        site = ctx.registry.sites[r.site_id]
        tomorrow = local_day(site.timezone, now) + datetime.timedelta(days=1)
        if "phone" in r.visit_methods and row["due_ms"] < at_local(site.timezone, tomorrow, 0):
            out.append(row)
    return out


@router.get("/visits/due")
def visits_due(ctx: Ctx, user: User) -> list[dict[str, Any]]:
    """Every resident at home the user sees, with their next visit's due time, soonest
    first: ``overdue`` past it, ``warned`` past the grace period too (on the desk)."""
    now = ctx.clock.now_ms()
    mine = [rid for rid, r in ctx.registry.residents.items() if user.sees(r.site_id)]
    out = []
    for due in due_visits(ctx.registry, ctx.core.db, mine, now):
        r = ctx.registry.residents[due.resident_id]
        org = ctx.registry.orgs.get(due.community)
        out.append({**due._asdict(), "display_name": r.display_name, "room": r.room,
                    "community_name": org.name if org else "",
                    "risk_tier": r.risk_tier, "overdue": now >= due.due_ms,
                    "overdue_days": max(0, (now - due.due_ms) // DAY_MS),
                    "visit_methods": list(r.visit_methods)})
    return out


@router.get("/residents/{resident_id}/visits", responses=answers(404))
def visits_of(resident_id: str, ctx: Ctx, user: User) -> list[dict[str, Any]]:
    """A resident's last visits, newest first."""
    r = ctx.registry.residents.get(resident_id)
    if r is None or not user.sees(r.site_id):
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no resident {resident_id}")
    return [v._asdict() for v in ctx.core.db.visits.of(resident_id)]
