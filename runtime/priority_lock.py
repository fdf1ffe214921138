"""A lock an urgent holder gets first: while one waits, no routine holder takes it again.

Python's lock is not fair: a thread that releases it and asks again at once (a stream of
routine batches) usually gets it back before a waiting thread wakes, so a fall's reading
could wait behind several routine batches in a row. Here it waits for the one holding the
lock, at most."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator


class PriorityLock:
    def __init__(self) -> None:
        self._cond = threading.Condition(threading.Lock())
        self._held = False
        self._urgent_waiting = 0

    @contextlib.contextmanager
    def hold(self, urgent: bool = False) -> Iterator[None]:
        with self._cond:
            if urgent:
                self._urgent_waiting += 1
                try:
                    while self._held:
                        self._cond.wait()
                finally:
                    self._urgent_waiting -= 1
            else:
                while self._held or self._urgent_waiting:
                    self._cond.wait()
            self._held = True
        try:
            yield
        finally:
            with self._cond:
                self._held = False
                self._cond.notify_all()
