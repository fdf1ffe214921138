"""Live push: alert changes as Server-Sent Events to signed-in pages; the process status."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import StreamingResponse

from dashboard.deps import COOKIE, Ctx, User
from dashboard.errors import SIGNED_IN

router = APIRouter(prefix="/api", tags=["live"], responses=SIGNED_IN)


@router.get("/events")
def events(request: Request, ctx: Ctx, user: User) -> StreamingResponse:
    """Alert changes as they happen, for as long as this session lasts."""
    token = request.cookies.get(COOKIE, "")

    def signed_in() -> bool:
        return ctx.accounts.session(token, ctx.clock.now_ms()) is not None

    return StreamingResponse(ctx.live.stream(signed_in, user.sites), media_type="text/event-stream",
                             headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"})


@router.get("/status")
def process_status(ctx: Ctx, user: User) -> dict[str, object]:
    """Whether the alert core keeps up: ``alert_core_degraded`` is true while readings wait
    for it after a failure (the page then shows a banner); failure counters."""
    if ctx.status is None:
        return {"alert_core_degraded": False}
    return ctx.status()
