"""Request dependencies: the context, the signed-in user, the CSRF check, roles."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, HTTPException, Path, Query, Request, status

from dashboard.accounts.model import Role, Session
from dashboard.context import DashboardContext
from registry.db import RegistryStore

COOKIE = "eldercare_session"
# Integers the API takes are stored as SQLite integers: bounded in the schema, so an
# absurd one is a 422 with a reason, never a server error.
MAX_INT = 2**63 - 1
# A time the API takes in a JSON body: no later than the last millisecond of year 9999 (a
# number near 2**63 does not survive JSON's doubles: 2**63 - 1 arrives as 2**63).
MAX_TIME_MS = 253_402_300_799_999
AlertId = Annotated[int, Path(ge=1, le=MAX_INT)]
Millis = Annotated[int, Query(ge=0, le=MAX_INT, description="UTC milliseconds")]
CSRF_HEADER = "X-CSRF-Token"


def context(request: Request) -> DashboardContext:
    ctx: DashboardContext = request.app.state.ctx
    return ctx


Ctx = Annotated[DashboardContext, Depends(context)]


def session(request: Request, ctx: Ctx) -> Session:
    token = request.cookies.get(COOKIE)
    found = ctx.accounts.session(token, ctx.clock.now_ms()) if token else None
    if found is None:
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, "sign in first")
    if request.method not in ("GET", "HEAD", "OPTIONS") \
            and request.headers.get(CSRF_HEADER) != found.csrf:
        raise HTTPException(status.HTTP_403_FORBIDDEN, "missing or wrong CSRF token")
    if found.org:  # a supervisor or an institution's staff: the sites below their node now
        return found.below(ctx.registry.sites_under(found.org))
    return found


User = Annotated[Session, Depends(session)]


def nurse(user: User) -> Session:
    if user.role not in (Role.NURSE, Role.MANAGER, Role.ADMIN):
        raise HTTPException(status.HTTP_403_FORBIDDEN, "a viewer cannot change alerts")
    return user


Nurse = Annotated[Session, Depends(nurse)]


def admin(user: User) -> Session:
    if user.role is not Role.ADMIN:
        raise HTTPException(status.HTTP_403_FORBIDDEN, "admins only")
    return user


Admin = Annotated[Session, Depends(admin)]


def manager(user: User) -> Session:
    if user.role not in (Role.MANAGER, Role.ADMIN):
        raise HTTPException(status.HTTP_403_FORBIDDEN, "site managers and admins only")
    return user


Manager = Annotated[Session, Depends(manager)]


def registry_db(ctx: DashboardContext) -> RegistryStore:
    """Where the registry is read page by page and changed (503 on a desk without one)."""
    if ctx.registry_db is None:
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE,
                            "this desk has no registry database")
    return ctx.registry_db
