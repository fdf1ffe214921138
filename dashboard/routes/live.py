"""Live push: alert changes as Server-Sent Events to signed-in pages."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import StreamingResponse

from dashboard.deps import Ctx, User

router = APIRouter(prefix="/api", tags=["live"])


@router.get("/events")
def events(ctx: Ctx, user: User) -> StreamingResponse:
    return StreamingResponse(ctx.live.stream(), media_type="text/event-stream",
                             headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"})
