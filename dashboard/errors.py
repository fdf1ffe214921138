"""One shape for every error the desk's API gives itself: ``{"detail": "what went wrong"}``
(FastAPI's own 422 for a request that does not match the schema keeps its documented list
shape), and the answers each route documents, so ``/openapi.json`` says what it does."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from telemetry.errors import EldercareError


class Problem(BaseModel):
    detail: str


_MEANING = {
    401: "not signed in (or the session ran out)",
    403: "signed in, but not allowed: a missing or wrong CSRF token, or the wrong role",
    404: "no such alert, resident, site or subject",
    409: "the change conflicts with the current state (an alert already resolved) or with "
         "the policy rules (a step a recipient cannot receive)",
    429: "too many failed sign-ins from this address; see Retry-After",
}


def answers(*codes: int) -> dict[int | str, dict[str, Any]]:
    """``responses=`` for a route or router: each code with the one error shape."""
    return {code: {"model": Problem, "description": _MEANING[code]} for code in codes}


SIGNED_IN = answers(401, 403)  # every route behind the sign-in


class DeskError(EldercareError):
    """The desk's exception root (the project's root is ``telemetry.errors``)."""
