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
        # each open page: its loop, its queue, the sites its user sees (empty: every site)
        self._subscribers: list[tuple[asyncio.AbstractEventLoop, asyncio.Queue[str],
                                      frozenset[str]]] = []
        self.published = 0

    def publish(self, event: dict[str, Any]) -> None:
        """To every open page whose user sees the event's site (an alert's), or to all."""
        data = json.dumps(event, ensure_ascii=False)
        site = event.get("alert", {}).get("site_id")
        with self._lock:
            subscribers = list(self._subscribers)
            self.published += 1
        for loop, queue, sites in subscribers:
            if sites and site is not None and site not in sites:
                continue
            try:
                loop.call_soon_threadsafe(_offer, queue, data)
            except RuntimeError:  # that page's loop is gone
                self._drop(queue)

    def _drop(self, queue: asyncio.Queue[str]) -> None:
        with self._lock:
            self._subscribers = [sub for sub in self._subscribers if sub[1] is not queue]

    async def stream(self, signed_in: Callable[[], bool] = _always,
                     sites: frozenset[str] = frozenset()) -> AsyncIterator[str]:
        """SSE frames for one page, until it goes away or ``signed_in()`` says its session
        has ended (signed out, expired); only alerts of ``sites`` (empty: every site)."""
        queue: asyncio.Queue[str] = asyncio.Queue(QUEUE_MAX)
        with self._lock:
            self._subscribers.append((asyncio.get_running_loop(), queue, sites))
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
