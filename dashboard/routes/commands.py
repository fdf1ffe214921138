"""Commands to gateways from the desk (``telemetry.commands``, ``registry.commands``): a
gateway whose devices changed is sent its list at once; a manager may test a gateway's
link with a ping; the desk sees each gateway's commands, and those refused or expired
across the user's sites. Every command is kept to the user's sites and audited."""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, HTTPException, status
from pydantic import BaseModel

from dashboard.context import DashboardContext
from dashboard.deps import Ctx, Manager, User
from dashboard.errors import SIGNED_IN, answers
from registry import Registry
from registry.commands import EXPIRED, FAILED, CommandStore
from registry.model import Change
from telemetry import commands as wire

router = APIRouter(prefix="/api/registry", tags=["registry"], responses=SIGNED_IN)


class CommandIn(BaseModel):
    name: Literal["ping", "devices"]


def device_list(registry: Registry, gateway_id: str) -> list[dict[str, Any]]:
    """What a ``devices`` command tells a gateway of its devices."""
    return [{"device_id": d.device_id, "kinds": [k.value for k in d.kinds], "room": d.room,
             "resident_id": d.resident_id}
            for d in registry.devices.values() if d.gateway_id == gateway_id]


def _queue(ctx: DashboardContext, gateway_id: str, name: str) -> wire.Command | None:
    if ctx.commands is None:
        return None
    args = {"devices": device_list(ctx.registry, gateway_id)} if name == wire.DEVICES else {}
    command = ctx.commands.queue(gateway_id, name, args, ctx.clock.now_ms())  # a fresh id
    if ctx.commands_queued is not None:
        ctx.commands_queued()
    return command


def send_device_lists(ctx: DashboardContext, changes: list[Change]) -> None:
    """After a registry change: each gateway whose devices changed is sent its list."""
    for gateway_id in sorted({c.key.split("|", 1)[0] for c in changes if c.kind == "device"}):
        if gateway_id in ctx.registry.gateways:
            _queue(ctx, gateway_id, wire.DEVICES)


def _store(ctx: DashboardContext) -> CommandStore:
    if ctx.commands is None:
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE,
                            "this desk sends no commands to gateways")
    return ctx.commands


def _seen_gateway(ctx: DashboardContext, user: User, gateway_id: str) -> None:
    g = ctx.registry.gateways.get(gateway_id)
    if g is None or not user.sees(g.site_id):
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no gateway {gateway_id}")


@router.get("/gateways/{gateway_id}/commands", responses=answers(404))
def of_gateway(gateway_id: str, ctx: Ctx, user: User) -> list[dict[str, Any]]:
    """A gateway's latest commands and what became of them."""
    _seen_gateway(ctx, user, gateway_id)
    return [c._asdict() for c in _store(ctx).of((gateway_id,))]


@router.post("/gateways/{gateway_id}/commands", status_code=201, responses=answers(404))
def send(gateway_id: str, body: CommandIn, ctx: Ctx, user: Manager) -> dict[str, Any]:
    """Send a gateway a command: ``ping`` (is the path to it working?) or ``devices``
    (its device list again)."""
    _seen_gateway(ctx, user, gateway_id)
    _store(ctx)
    command = _queue(ctx, gateway_id, body.name)
    assert command is not None
    ctx.accounts.audit(ctx.clock.now_ms(), user.username, "gateway_command",
                       f"gateway {gateway_id}", f"{body.name} {command.id}")
    return {"command_id": command.id, "expires_ms": command.expires_ms}


@router.get("/commands/not-done")
def not_done(ctx: Ctx, user: User) -> list[dict[str, Any]]:
    """Commands refused by their gateway or expired unanswered, at the user's sites."""
    scope = user.site_scope()
    gateways = tuple(g.gateway_id for g in ctx.registry.gateways.values()
                     if user.sees(g.site_id)) if scope else ()
    if scope and not gateways:
        return []
    return [{**c._asdict(), "site_id": ctx.registry.gateways[c.gateway_id].site_id
             if c.gateway_id in ctx.registry.gateways else ""}
            for c in _store(ctx).of(gateways, (FAILED, EXPIRED))]
