"""The live stream of alert changes lasts only as long as the session that opened it: after
sign-out (here from another tab) it ends, instead of pushing on to a signed-out page (a
real uvicorn server and a raw HTTP client reading the Server-Sent Events)."""

from __future__ import annotations

import http.client
import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from alerts.model import Condition, Signal
from dashboard.app import create_app
from dashboard.server import DashboardServer
from harness.process import free_port
from tests.dashboard.test_api import PASSWORD, Desk
from tests.support.readings import T0

REAUTH_S = 0.2


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[Desk, int]]:
    desk = Desk(tmp_path)
    desk.ctx.live.reauth_s = REAUTH_S
    port = free_port()
    server = DashboardServer(create_app(desk.ctx), "127.0.0.1", port)
    server.start()
    try:
        yield desk, port
    finally:
        server.close()
        desk.client.close()
        desk.store.close()
        desk.accounts.close()
        desk.db.close()


def _sign_in(port: int) -> tuple[str, str]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    conn.request("POST", "/api/login", json.dumps({"username": "nurse", "password": PASSWORD}),
                 {"Content-Type": "application/json"})
    answer = conn.getresponse()
    assert answer.status == 200
    cookie = answer.getheader("set-cookie", "").split(";")[0]
    csrf = json.loads(answer.read())["csrf"]
    conn.close()
    return cookie, csrf


def _frames(answer: http.client.HTTPResponse) -> Iterator[str]:
    """SSE frames as they arrive; ends when the server ends the stream."""
    frame: list[str] = []
    while True:
        line = answer.readline()
        if not line:
            return
        text = line.decode().rstrip("\n")
        if text:
            frame.append(text)
        elif frame:
            yield "\n".join(frame)
            frame = []


def test_the_live_stream_ends_when_its_session_is_signed_out(
        served: tuple[Desk, int]) -> None:
    desk, port = served
    cookie, csrf = _sign_in(port)
    stream = http.client.HTTPConnection("127.0.0.1", port, timeout=10)  # the deadline
    stream.request("GET", "/api/events", headers={"Cookie": cookie})
    answer = stream.getresponse()
    assert answer.status == 200
    frames = _frames(answer)
    assert next(f for f in frames if f.startswith("event:")) == "event: hello\ndata: {}"
    desk.core.handle([Signal(Condition.FALL, "res-00001", True, T0, "site-000", "gw-00001",
                             "fall reported", "pendant")])
    pushed = next(f for f in frames if f.startswith("data:"))
    assert json.loads(pushed.removeprefix("data: "))["alert"]["condition"] == "fall"
    other_tab = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    other_tab.request("POST", "/api/logout", headers={"Cookie": cookie, "X-CSRF-Token": csrf})
    assert other_tab.getresponse().status == 204
    other_tab.close()
    rest = list(frames)  # the server ends the stream (a timeout here fails the test)
    assert rest[-1] == "event: signed_out\ndata: {}"
    assert not any(f.startswith("data: {\"") for f in rest)
    stream.close()
    again = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    again.request("GET", "/api/events", headers={"Cookie": cookie})
    assert again.getresponse().status == 401  # and cannot be opened again
    again.close()
