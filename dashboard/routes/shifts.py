"""A care home's shifts: rounds (巡视) marked room by room from a phone, who is on duty,
and the handover (交接班) the outgoing nurse writes and the incoming one accepts.

Role-checked and audited like every action (a nurse acts, anyone signed in reads); a site
the user does not see answers 404."""

from __future__ import annotations

import csv
import io
from typing import Any, Literal

from fastapi import APIRouter, HTTPException, status
from fastapi.responses import Response as HttpResponse
from pydantic import BaseModel, Field

from alerts.duty import handover_view
from alerts.response import ResponseError
from alerts.rounds import PLAN_KEY, current_round, round_rooms, rounds_between
from dashboard.deps import Ctx, Nurse, User
from dashboard.errors import SIGNED_IN, answers
from dashboard.routes.response import Month, _span
from registry import Site
from registry.time import shift_at
from telemetry.clock import DAY_MS

router = APIRouter(prefix="/api", tags=["shifts"], responses=SIGNED_IN)


class MarkIn(BaseModel):
    how: Literal["tap", "scan"] = Field("tap", description="tapped on the list, or the "
                                                           "room's door code scanned")


class HandoverIn(BaseModel):
    notes: str = Field("", max_length=2000)


class AcceptIn(BaseModel):
    to_queue: bool = Field(False, description="the outgoing nurse's alarms go back to the "
                                              "queue (else to the accepting nurse)")


def _site(ctx: Ctx, user: User, site_id: str) -> Site:
    site = ctx.registry.sites.get(site_id)
    if site is None or not user.sees(site_id):
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no site {site_id}")
    return site


@router.get("/rounds/{site_id}", responses=answers(404))
def rounds(site_id: str, ctx: Ctx, user: User) -> dict[str, Any]:
    """The round to be done now (rooms, who marked each) and the last day's rounds."""
    site = _site(ctx, user, site_id)
    now = ctx.clock.now_ms()
    db = ctx.core.db
    current = current_round(ctx.registry, db, site_id, now)
    past = rounds_between(ctx.registry, db, site_id, now - DAY_MS, now + 1)
    return {"site_id": site_id, "rooms": round_rooms(ctx.registry, site),
            "current": None if current is None else {
                "slot_ms": current.slot_ms,
                "rooms": [{"room": room, "done_by": current.done.get(room)}
                          for room in current.rooms]},
            "last_day": [{"slot_ms": r.slot_ms, "done": len(r.done), "rooms": len(r.rooms)}
                         for r in past]}


@router.post("/rounds/{site_id}/rooms/{room}", status_code=201, responses=answers(404, 409))
def mark_room(site_id: str, room: str, body: MarkIn, ctx: Ctx, user: Nurse) -> dict[str, Any]:
    """A room looked in on, for the round due now."""
    site = _site(ctx, user, site_id)
    if site.rounds is None:
        raise HTTPException(status.HTTP_409_CONFLICT, f"site {site_id} keeps no rounds")
    if room not in round_rooms(ctx.registry, site):
        raise HTTPException(status.HTTP_409_CONFLICT,
                            f"room {room} is not on the rounds of {site_id}")
    now = ctx.clock.now_ms()
    current = current_round(ctx.registry, ctx.core.db, site_id, now)
    if current is None:
        raise HTTPException(status.HTTP_409_CONFLICT, "no round is due now")
    new = ctx.core.db.rounds.mark(site_id, room, current.slot_ms, now, user.username,
                                  body.how)
    if new:
        ctx.accounts.audit(now, user.username, "round", f"{site_id}/{room}", body.how)
    return {"site_id": site_id, "room": room, "slot_ms": current.slot_ms, "marked": new}


@router.get("/rounds/{site_id}/export", response_class=HttpResponse,
            responses={**answers(404), 200: {"content": {"text/csv": {}},
                                             "description": "every room of every round"}})
def export_rounds(site_id: str, ctx: Ctx, user: User, month: Month = None) -> HttpResponse:
    """The month's round record as CSV: each room of each round, done when and by whom."""
    _site(ctx, user, site_id)
    from_ms, to_ms, _, month, _ = _span(ctx, user, month, site_id)
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["slot_ms", "room", "done_ms", "nurse", "how"])
    marks = {(m.slot_ms, m.room): m for m in ctx.core.db.rounds.of(site_id, from_ms, to_ms)}
    now = ctx.clock.now_ms()
    since = ctx.core.db.visits.plans([PLAN_KEY + site_id]).get(PLAN_KEY + site_id, now)
    for r in rounds_between(ctx.registry, ctx.core.db, site_id, max(from_ms, since),
                            min(to_ms, now)):
        for room in r.rooms:
            m = marks.get((r.slot_ms, room))
            writer.writerow([r.slot_ms, room, m.done_ms if m else "", m.nurse if m else "",
                             m.how if m else "missed"])
    return HttpResponse(buffer.getvalue(), media_type="text/csv", headers={
        "Content-Disposition": f'attachment; filename="rounds-{site_id}-{month}.csv"'})


@router.get("/duty/{site_id}", responses=answers(404))
def duty(site_id: str, ctx: Ctx, user: User) -> dict[str, Any]:
    """Who is on duty now, when this shift began and the next begins, and the handover
    written and not yet accepted (if one is)."""
    site = _site(ctx, user, site_id)
    now = ctx.clock.now_ms()
    start, upcoming = shift_at(site.timezone, site.shifts, now) or (now, None)
    pending = [h._asdict() for h in ctx.core.db.duty.handovers((site_id,), start - DAY_MS,
                                                               now + 1)
               if h.accepted_by is None]
    return {"on_duty": ctx.core.db.duty.on_duty(site_id), "shift_start_ms": start,
            "next_shift_ms": upcoming, "pending": pending[:1]}


@router.post("/duty/{site_id}/{change}", responses=answers(404))
def sign_on_or_off(site_id: str, change: Literal["on", "off"], ctx: Ctx,
                   user: Nurse) -> dict[str, Any]:
    """The signed-in nurse comes on duty at the site, or goes off."""
    _site(ctx, user, site_id)
    now = ctx.clock.now_ms()
    (ctx.core.db.duty.on if change == "on" else ctx.core.db.duty.off)(site_id, user.username,
                                                                      now)
    ctx.accounts.audit(now, user.username, f"duty_{change}", site_id, "")
    return {"on_duty": ctx.core.db.duty.on_duty(site_id)}


@router.get("/handover/{site_id}", responses=answers(404))
def handover(site_id: str, ctx: Ctx, user: User) -> dict[str, Any]:
    """What this shift hands over, as of now."""
    _site(ctx, user, site_id)
    return handover_view(ctx.registry, ctx.core.db, site_id, ctx.clock.now_ms())


@router.post("/handover/{site_id}", status_code=201, responses=answers(404))
def hand_over(site_id: str, body: HandoverIn, ctx: Ctx, user: Nurse) -> dict[str, Any]:
    """The outgoing nurse hands the shift over, with notes; the incoming one accepts."""
    _site(ctx, user, site_id)
    now = ctx.clock.now_ms()
    view = handover_view(ctx.registry, ctx.core.db, site_id, now)
    handover_id = ctx.core.db.duty.hand_over(site_id, view["shift_start_ms"], user.username,
                                             body.notes, now)
    ctx.accounts.audit(now, user.username, "handover", site_id, body.notes[:200])
    return {"handover_id": handover_id, **view}


@router.post("/handover/{site_id}/{handover_id}/accept", responses=answers(404, 409))
def accept(site_id: str, handover_id: int, body: AcceptIn, ctx: Ctx,
           user: Nurse) -> dict[str, Any]:
    """The incoming nurse accepts the handover: they are on duty, the outgoing one off;
    each alarm the outgoing nurse still has is handed to them (or back to the queue)."""
    _site(ctx, user, site_id)
    db = ctx.core.db
    h = db.duty.handover(handover_id)
    if h is None or h.site_id != site_id:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no handover {handover_id}")
    if h.outgoing == user.username:
        raise HTTPException(status.HTTP_409_CONFLICT, "a handover is accepted by the next "
                                                      "nurse, not the one who wrote it")
    now = ctx.clock.now_ms()
    if not db.duty.accept(handover_id, user.username, now):
        raise HTTPException(status.HTTP_409_CONFLICT, f"handover {handover_id} is accepted "
                                                      "already")
    moved = []
    for a in db.alerts.find(sites=(site_id,), open_only=True, limit=10_000):
        if a.owner != h.outgoing:
            continue
        try:
            if body.to_queue:
                ctx.core.response.give_back(a.alert_id, user.username,
                                            f"handover from {h.outgoing}: back to the queue")
            else:
                ctx.core.response.assign(a.alert_id, user.username, user.username)
        except ResponseError:
            continue  # resolved meanwhile
        moved.append(a.alert_id)
    db.duty.off(site_id, h.outgoing, now)
    db.duty.on(site_id, user.username, now)
    ctx.accounts.audit(now, user.username, "handover_accept", site_id,
                       f"from {h.outgoing}; alarms {'to the queue' if body.to_queue else 'taken'}"
                       f": {moved}")
    return {"handover_id": handover_id, "accepted_by": user.username, "alarms_moved": moved,
            "on_duty": db.duty.on_duty(site_id)}
