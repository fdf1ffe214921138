"""Sign-in, sign-out, who am I."""

from __future__ import annotations

import math

from fastapi import APIRouter, HTTPException, Request, Response, status
from pydantic import BaseModel

from dashboard.accounts.model import SESSION_MS
from dashboard.deps import COOKIE, Ctx, User
from dashboard.errors import SIGNED_IN, answers

router = APIRouter(prefix="/api", tags=["auth"])


class Credentials(BaseModel):
    username: str
    password: str


class Me(BaseModel):
    username: str
    role: str
    csrf: str
    server_time_ms: int  # the page's timers run on the server's (possibly simulated) clock
    org: str = ""  # the supervising node the user belongs to ("" none)
    every_site: bool = False  # sees every site (not kept to some, nor to an org's)


@router.post("/login", response_model=Me, responses=answers(401, 429))
def login(body: Credentials, request: Request, response: Response, ctx: Ctx) -> Me:
    now = ctx.clock.now_ms()
    client = request.client.host if request.client else "?"
    # by address, and by name from that address: a guesser elsewhere never locks a nurse out
    keys = [f"addr:{client}", f"user:{body.username[:64]}@{client}"]
    wait_s = ctx.throttle.retry_after_s(keys, now)
    if wait_s > 0:
        raise HTTPException(status.HTTP_429_TOO_MANY_REQUESTS,
                            f"too many failed sign-ins; try again in {math.ceil(wait_s)} s",
                            headers={"Retry-After": str(math.ceil(wait_s))})
    found = ctx.accounts.login(body.username, body.password, now)
    if found is None:
        ctx.throttle.failed(keys, now)
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, "wrong user name or password")
    ctx.throttle.succeeded(keys)
    token, session = found
    response.set_cookie(COOKIE, token, max_age=SESSION_MS // 1000, httponly=True,
                        samesite="strict", secure=ctx.secure_cookies, path="/")
    ctx.accounts.audit(now, session.username, "login", "", "")
    return Me(username=session.username, role=session.role.value, csrf=session.csrf,
              server_time_ms=now, org=session.org,
              every_site=not session.sites and not session.org)


@router.post("/logout", status_code=204, responses=SIGNED_IN)
def logout(request: Request, response: Response, user: User, ctx: Ctx) -> None:
    """Sign out: every alarm this user had goes back to the queue, visibly."""
    ctx.accounts.logout(request.cookies.get(COOKIE, ""))
    response.delete_cookie(COOKIE, path="/")
    for alert in ctx.core.response.signed_out(user.username):
        ctx.accounts.audit(ctx.clock.now_ms(), user.username, "give_back",
                           f"alert {alert.alert_id}", "signed out")


@router.get("/me", response_model=Me, responses=SIGNED_IN)
def me(user: User, ctx: Ctx) -> Me:
    return Me(username=user.username, role=user.role.value, csrf=user.csrf,
              server_time_ms=ctx.clock.now_ms(), org=user.org,
              every_site=not user.site_scope() and not user.org)
