"""What every table family of the alert store shares: the one connection and its lock."""

from __future__ import annotations

import threading
from typing import Any

from runtime.sql import Backend, Result


class Table:
    """A family of tables over the store's one connection (every call takes its lock, so
    a transaction opened on the store covers the calls made inside it)."""

    def __init__(self, backend: Backend, lock: threading.RLock) -> None:
        self.backend = backend
        self._lock = lock

    def _run(self, sql: str, args: tuple[Any, ...] = ()) -> Result:
        with self._lock:
            return self.backend.execute(sql, args)
