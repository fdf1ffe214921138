"""Alerts: list and filter, acknowledge / resolve with a note, timeline and notices;
silences; escalation policies; the audit log."""

from __future__ import annotations

from typing import Any

import msgspec
from fastapi import APIRouter, HTTPException, Query, status
from pydantic import BaseModel, Field, field_validator

from alerts.core import AlertError
from alerts.model import NEVER_SILENCED_WIDE, AlertState, Condition, Outcome
from alerts.notify import texts
from alerts.policy import STEP_KEYS, NoticeChannel, PolicyError, SitePolicy, Step, Target
from alerts.policy import save as save_policies
from alerts.response import ResponseError
from dashboard.accounts.model import Role
from dashboard.deps import Admin, AlertId, Ctx, Millis, Nurse, User
from dashboard.errors import SIGNED_IN, answers
from dashboard.views import alert_view, masked_phone

router = APIRouter(prefix="/api", tags=["alerts"], responses=SIGNED_IN)


class NoteIn(BaseModel):
    note: str = Field("", max_length=500)


class ResolveIn(BaseModel):
    outcome: Outcome = Field(description="how it ended (GET /api/outcomes)")
    note: str = Field("", max_length=500, description="what happened; needed for 'other'")


class SilenceIn(BaseModel):
    subject: str = Field(description="a resident, gateway or site id")
    condition: Condition | None = None
    minutes: int = Field(gt=0, le=7 * 24 * 60)
    reason: str = Field(min_length=1, max_length=200)


@router.get("/conditions")
def conditions(user: User) -> dict[str, dict[str, str]]:
    """The name of every condition in each language the page offers."""
    return {c.value: {lang: texts.what(c, lang) for lang in texts.LANGUAGES}
            for c in Condition}


@router.get("/alerts")
def list_alerts(ctx: Ctx, user: User, state: AlertState | None = None,
                severity_min: int = Query(0, ge=0, le=4), site_id: str | None = None,
                since_ms: Millis = 0, open_only: bool = False,
                limit: int = Query(200, ge=1, le=1000)) -> list[dict[str, Any]]:
    """Unresolved first, then the most severe, then the newest; of the user's sites."""
    alerts = ctx.queries.alerts(state=state, site_id=site_id, open_only=open_only,
                                severity_min=severity_min, since_ms=since_ms,
                                sites=user.site_scope(), limit=limit)
    return [alert_view(ctx.registry, a) for a in alerts]


def _alert_or_404(ctx: Ctx, user: User, alert_id: int) -> dict[str, Any]:
    """The alert, if this user sees its site (otherwise as if there were none)."""
    alert = ctx.queries.alert(alert_id)
    if alert is None or not user.sees(alert.site_id):
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no alert {alert_id}")
    return alert_view(ctx.registry, alert)


@router.get("/alerts/{alert_id}", responses=answers(404))
def get_alert(alert_id: AlertId, ctx: Ctx, user: User) -> dict[str, Any]:
    return _alert_or_404(ctx, user, alert_id)


def _change(ctx: Ctx, user: Nurse, alert_id: int, action: str, note: str,
            outcome: Outcome | None = None) -> dict[str, Any]:
    _alert_or_404(ctx, user, alert_id)
    try:
        if outcome is None:
            alert = ctx.core.acknowledge(alert_id, user.username, note)
        else:
            alert = ctx.core.resolve(alert_id, user.username, note, outcome=outcome)
    except (AlertError, ResponseError) as exc:
        raise HTTPException(status.HTTP_409_CONFLICT, str(exc)) from exc
    ctx.accounts.audit(ctx.clock.now_ms(), user.username, action, f"alert {alert_id}",
                       f"{outcome.value}: {note}" if outcome else note)
    return alert_view(ctx.registry, alert)


@router.post("/alerts/{alert_id}/acknowledge", responses=answers(404, 409))
def acknowledge(alert_id: AlertId, body: NoteIn, ctx: Ctx, user: Nurse) -> dict[str, Any]:
    """The same as taking an open alarm: the user has it."""
    return _change(ctx, user, alert_id, "acknowledge", body.note)


@router.post("/alerts/{alert_id}/resolve", responses=answers(404, 409))
def resolve(alert_id: AlertId, body: ResolveIn, ctx: Ctx, user: Nurse) -> dict[str, Any]:
    """Closed with how it ended (an outcome of the list; "other" needs a note)."""
    return _change(ctx, user, alert_id, "resolve", body.note, body.outcome)


@router.get("/alerts/{alert_id}/timeline", responses=answers(404))
def timeline(alert_id: AlertId, ctx: Ctx, user: User) -> list[dict[str, Any]]:
    _alert_or_404(ctx, user, alert_id)
    return [{"t_ms": e.t_ms, "what": e.what, "who": e.who, "detail": e.detail,
             "details": {lang: texts.timeline_detail(e.detail, lang)
                         for lang in texts.LANGUAGES}}
            for e in ctx.queries.timeline(alert_id)]


@router.get("/alerts/{alert_id}/notices", responses=answers(404))
def notices(alert_id: AlertId, ctx: Ctx, user: User) -> list[dict[str, Any]]:
    """Who was told, when, by which channel, and whether it was delivered."""
    _alert_or_404(ctx, user, alert_id)
    return [{"notice_id": n.notice_id, "step": n.step, "contact": n.contact,
             "channel": n.channel, "to": masked_phone(n.recipient) if n.channel == "sms"
             else n.recipient.split("?")[0], "state": n.state.value, "attempts": n.attempts,
             "created_ms": n.created_ms, "sent_ms": n.sent_ms, "delivered_ms": n.delivered_ms,
             "error": n.error} for n in ctx.queries.notices(alert_id)]


@router.post("/silences", status_code=201, responses=answers(403, 404, 409))
def add_silence(body: SilenceIn, ctx: Ctx, user: Nurse) -> dict[str, Any]:
    """Silence a resident, a gateway or (admins) a whole site, for one condition or all.
    A fall or an SOS is never silenced on a gateway or a site: a silence of "all" there
    leaves them out, and one naming them is refused."""
    wide = body.subject in ctx.registry.gateways or body.subject in ctx.registry.sites
    site = _site_of(ctx, body.subject)
    if site is None or not user.sees(site):
        raise HTTPException(status.HTTP_404_NOT_FOUND,
                            f"no resident, gateway or site {body.subject!r}")
    if body.subject in ctx.registry.sites and user.role is not Role.ADMIN:
        raise HTTPException(status.HTTP_403_FORBIDDEN, "only an admin silences a whole site")
    if wide and body.condition in NEVER_SILENCED_WIDE:
        raise HTTPException(status.HTTP_409_CONFLICT,
                            f"{body.condition} is never silenced on a gateway or a site")
    now = ctx.clock.now_ms()
    until = now + body.minutes * 60_000
    silence_id = ctx.core.silence(body.subject, until, user.username, body.reason,
                                  body.condition)
    ctx.accounts.audit(now, user.username, "silence", body.subject,
                       f"{body.condition or 'all'} for {body.minutes} min: {body.reason}")
    return {"silence_id": silence_id, "until_ms": until,
            "never_silenced": sorted(NEVER_SILENCED_WIDE) if wide else []}


def _site_of(ctx: Ctx, subject: str) -> str | None:
    """The site of a resident, gateway or site id (None: no such subject)."""
    if subject in ctx.registry.sites:
        return subject
    for found in (ctx.registry.residents.get(subject), ctx.registry.gateways.get(subject)):
        if found is not None:
            return found.site_id
    return None


@router.get("/silences")
def list_silences(ctx: Ctx, user: User) -> list[dict[str, Any]]:
    """The running silences on the user's sites."""
    return [msgspec.structs.asdict(s) for s in ctx.queries.silences(ctx.clock.now_ms())
            if user.sees(_site_of(ctx, s.subject) or "")]


@router.get("/policies")
def policies(ctx: Ctx, user: User) -> dict[str, Any]:
    """The escalation policy of each site (rescue addresses shown to admins only)."""
    out: dict[str, Any] = {}
    for site_id in ctx.registry.sites:
        if not user.sees(site_id):
            continue
        policy = ctx.policies.for_site(site_id)
        out[site_id] = {"steps": {k: [{"after_s": s.after_s, "channel": s.channel.value,
                                        "to": s.to.value,
                                        "next_contact_after_s": s.next_contact_after_s}
                                       for s in steps] for k, steps in policy.steps.items()}}
        if user.role.value == "admin":
            out[site_id]["rescue"] = {"webhook": policy.rescue.webhook,
                                      "phone": policy.rescue.phone}
    return out


class StepIn(BaseModel):
    after_s: float = Field(ge=0, le=86_400)
    channel: NoticeChannel
    to: Target
    next_contact_after_s: float = Field(120.0, ge=10, le=86_400)


class PolicyIn(BaseModel):
    steps: dict[str, list[StepIn]] = Field(
        description="keyed by a condition, or a severity for the conditions without steps "
                    "of their own", json_schema_extra={"propertyNames": {"enum": list(STEP_KEYS)}})

    @field_validator("steps")
    @classmethod
    def _known_keys(cls, steps: dict[str, list[StepIn]]) -> dict[str, list[StepIn]]:
        unknown = sorted(set(steps) - set(STEP_KEYS))
        if unknown:
            raise ValueError(f"no condition or severity called {', '.join(unknown)}")
        return steps


@router.put("/policies/{site_id}", responses=answers(404, 409))
def change_policy(site_id: str, body: PolicyIn, ctx: Ctx, user: Admin) -> dict[str, Any]:
    """Replace a site's escalation steps (admins; audited; saved to the policy file).
    Alerts already open keep the steps they were given."""
    if site_id not in ctx.registry.sites or not user.sees(site_id):
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no site {site_id}")
    current = ctx.policies.for_site(site_id)
    steps = {key: [Step(s.after_s, s.channel, s.to, s.next_contact_after_s) for s in value]
             for key, value in body.steps.items()}
    try:
        updated = ctx.policies.with_site(site_id, SitePolicy(
            rescue=current.rescue, steps=steps, response=current.response))
    except PolicyError as exc:  # e.g. a family step on a channel contacts cannot receive
        raise HTTPException(status.HTTP_409_CONFLICT, str(exc)) from exc
    if ctx.policy_path is not None:
        save_policies(updated, ctx.policy_path)
    ctx.policies = ctx.core.policies = updated
    ctx.accounts.audit(ctx.clock.now_ms(), user.username, "policy_change", site_id,
                       body.model_dump_json()[:500])
    shown: dict[str, Any] = policies(ctx, user)[site_id]
    return shown


@router.get("/audit")
def audit(ctx: Ctx, user: Admin, limit: int = Query(200, ge=1, le=1000)) -> list[dict[str, Any]]:
    """What was done, the newest first. An admin of some sites sees what the users of
    those sites did (a user who sees any site beyond them is not theirs to watch)."""
    entries = ctx.accounts.audit_log(limit)
    if user.site_scope():
        mine = set(user.sites)
        scopes = ctx.accounts.scopes()

        def within(username: str) -> bool:
            sites, org = scopes.get(username, (frozenset(), ""))
            seen = ctx.registry.sites_under(org) if org else sites
            return bool(seen) and seen <= mine
        entries = [e for e in entries if within(e.username)]
    return [{"t_ms": e.t_ms, "username": e.username, "action": e.action, "target": e.target,
             "detail": e.detail} for e in entries]
