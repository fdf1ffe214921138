"""Live push to the open pages (Server-Sent Events).

The alert core calls ``publish`` from its own threads; each open page has a bounded asyncio
queue fed through its event loop. A page too slow to keep up gets a ``resync`` (and
reloads the list) instead of an unbounded queue. Browsers' ``EventSource`` reconnects by
itself after a server restart, and the page reloads its list on every (re)connect.

A stream lasts only as long as its session: every ``reauth_s`` (and before any event after
that long) the session is looked up again, and a signed-out or expired one ends the stream
(on any node: sessions are in the shared store).
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

QUEUE_MAX = 256
REAUTH_S = 5.0  # how long a stream may outlive its session, at most


def _always() -> bool:
    return True


class Broadcaster:
    def __init__(self, reauth_s: float = REAUTH_S) -> None:
        self.reauth_s = reauth_s
        self._lock = threading.Lock()
        self._subscribers: list[tuple[asyncio.AbstractEventLoop, asyncio.Queue[str]]] = []
        self.published = 0

    def publish(self, event: dict[str, Any]) -> None:
        data = json.dumps(event, ensure_ascii=False)
        with self._lock:
            subscribers = list(self._subscribers)
            self.published += 1
        for loop, queue in subscribers:
            try:
                loop.call_soon_threadsafe(_offer, queue, data)
            except RuntimeError:  # that page's loop is gone
                self._drop(queue)

    def _drop(self, queue: asyncio.Queue[str]) -> None:
        with self._lock:
            self._subscribers = [(lp, q) for lp, q in self._subscribers if q is not queue]

    async def stream(self, signed_in: Callable[[], bool] = _always) -> AsyncIterator[str]:
        """SSE frames for one page, until it goes away or ``signed_in()`` says its session
        has ended (signed out, expired)."""
        queue: asyncio.Queue[str] = asyncio.Queue(QUEUE_MAX)
        with self._lock:
            self._subscribers.append((asyncio.get_running_loop(), queue))
        try:
            yield "retry: 1000\n\n"  # reconnect within a second after a restart
            yield "event: hello\ndata: {}\n\n"
            checked = time.monotonic()
            while True:
                try:
                    data: str | None = await asyncio.wait_for(queue.get(), self.reauth_s)
                except TimeoutError:
                    data = None
                if time.monotonic() - checked >= self.reauth_s:
                    if not await asyncio.to_thread(signed_in):
                        yield "event: signed_out\ndata: {}\n\n"
                        return
                    checked = time.monotonic()
                yield ": keepalive\n\n" if data is None else f"data: {data}\n\n"
        finally:
            self._drop(queue)


def _offer(queue: asyncio.Queue[str], data: str) -> None:
    try:
        queue.put_nowait(data)
    except asyncio.QueueFull:
        while not queue.empty():
            queue.get_nowait()
        queue.put_nowait(json.dumps({"type": "resync"}))
