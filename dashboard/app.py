"""The FastAPI app: REST API (OpenAPI at /docs), live push, and the duty-desk page."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from fastapi import FastAPI, HTTPException
from fastapi.responses import FileResponse
from fastapi.staticfiles import StaticFiles

from alerts.model import AlertChange
from dashboard.context import DashboardContext
from dashboard.routes import (
    alerts,
    auth,
    care,
    commands,
    live,
    registry,
    residents,
    response,
    shifts,
    supervision,
)
from dashboard.views import alert_view

STATIC = Path(__file__).with_name("static")
# Chart.js from Debian (libjs-chart.js), served with the page: no CDN, no copy of our own
CHART_JS = Path("/usr/share/javascript/chart.js/chart.min.js")


def create_app(ctx: DashboardContext) -> FastAPI:
    app = FastAPI(title="Eldercare duty desk", version="1")
    app.state.ctx = ctx
    for module in (auth, alerts, response, residents, registry, commands, supervision, care,
                   shifts, live):
        app.include_router(module.router)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")

    @app.get("/vendor/chart.min.js", include_in_schema=False)
    def chart_js() -> FileResponse:
        if not CHART_JS.exists():  # the report shows its tables without the plots
            raise HTTPException(404, "install libjs-chart.js for the report's plots")
        return FileResponse(CHART_JS, media_type="text/javascript",
                            headers={"Cache-Control": "max-age=86400"})

    @app.get("/", include_in_schema=False)
    def page() -> FileResponse:
        return FileResponse(STATIC / "index.html", headers={"Cache-Control": "no-store"})

    return app


def resync_listener(ctx: DashboardContext) -> Callable[[], None]:
    """Tells every open page to fetch the alert list anew (changes may have gone by)."""
    def resync() -> None:
        ctx.live.publish({"type": "resync"})
    return resync


def alert_listener(ctx: DashboardContext) -> Callable[[AlertChange], None]:
    """An alert-core listener that pushes every change to the open pages."""
    def on_change(change: AlertChange) -> None:
        ctx.live.publish({"type": "alert", "change": change.change.value,
                          "alert": alert_view(ctx.registry, change.alert)})
    return on_change
