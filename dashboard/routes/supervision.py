"""The supervising level's view across institutions (a district's civil-affairs office, a
street's centre): per site below the user's node, its open alarms and the oldest one's
age, alarms in the last 7 days, the share answered within 60 s over the last 30 days,
devices offline or with a low battery, and residents without the minimum kit. Kept to the
user's sites in the queries themselves, not only on the page."""

from __future__ import annotations

from collections import Counter
from typing import Any

from fastapi import APIRouter

from alerts.detectors.health import HEALTH_CONDITIONS
from alerts.model import REQUESTS, Condition
from dashboard.deps import Ctx, User
from dashboard.errors import SIGNED_IN
from registry.coverage import per_site

router = APIRouter(prefix="/api", tags=["supervision"], responses=SIGNED_IN)

DAY_MS = 86_400_000
OFFLINE = (Condition.GATEWAY_OFFLINE, Condition.DEVICE_SILENT, Condition.RADIO_OFFLINE)
NOT_ALARMS = frozenset(HEALTH_CONDITIONS) | frozenset(REQUESTS)


@router.get("/supervision")
def supervision(ctx: Ctx, user: User) -> dict[str, Any]:
    now = ctx.clock.now_ms()
    scope = user.site_scope()
    sites = [s for s in ctx.registry.sites.values() if user.sees(s.site_id)]
    open_alerts = ctx.queries.alerts(open_only=True, sites=scope, limit=1_000_000)
    recent = ctx.queries.alerts(since_ms=now - 7 * DAY_MS, sites=scope, limit=1_000_000)
    alarms_open: Counter[str] = Counter()
    oldest: dict[str, int] = {}
    offline: Counter[str] = Counter()
    battery: Counter[str] = Counter()
    for a in open_alerts:
        if a.condition not in NOT_ALARMS:
            alarms_open[a.site_id] += 1
            oldest[a.site_id] = min(oldest.get(a.site_id, a.opened_ms), a.opened_ms)
        elif a.condition in OFFLINE and a.active:
            offline[a.site_id] += 1
        elif a.condition is Condition.LOW_BATTERY and a.active:
            battery[a.site_id] += 1
    week = Counter(a.site_id for a in recent
                   if a.condition not in NOT_ALARMS and a.opened_ms >= now - 7 * DAY_MS)
    kit = per_site(ctx.registry)
    answered = ctx.queries.answered_60s_by_site(now - 30 * DAY_MS, now + 1, scope)
    out = []
    for s in sorted(sites, key=lambda s: (s.org, s.site_id)):
        org = ctx.registry.orgs.get(s.org)
        out.append({"site_id": s.site_id, "name": s.name, "kind": s.kind,
                    "org": s.org, "org_name": org.name if org else "",
                    "residents": kit.get(s.site_id, (0, 0))[0],
                    "open_alarms": alarms_open[s.site_id],
                    "oldest_open_ms": oldest.get(s.site_id),
                    "alarms_7d": week[s.site_id],
                    "answered_60s_share_30d": answered.get(s.site_id),
                    "devices_offline": offline[s.site_id],
                    "battery_low": battery[s.site_id],
                    "reduced_coverage": kit.get(s.site_id, (0, 0))[1]})
    return {"now_ms": now, "org": user.org, "sites": out}
