"""Sign-in throttling: slows a guessing client down without locking the desk out."""

from __future__ import annotations

from dashboard.accounts.model import Failures, MemoryFailures


class LoginThrottle:
    """Slows a guessing client down without locking the duty desk out.

    Failures are counted per client address and per (user name, address). Past ``free``
    failures within ``window_s``, that key must wait before its next try: 1 s, then 2, 4, …
    up to ``max_delay_s``. A user name alone never blocks, so a guesser elsewhere cannot lock
    a named nurse out of the desk PC. At most ``max_keys`` keys are remembered (the oldest
    go first), so a flood of made-up names cannot grow the store. The counts are kept in
    ``store``: in memory by default; the desk keeps them in the accounts' store, one count
    for every node.
    """

    def __init__(self, free: int = 5, window_s: float = 900.0, max_delay_s: float = 300.0,
                 max_keys: int = 10_000, store: Failures | None = None) -> None:
        self.free = free
        self.window_ms = int(window_s * 1000)
        self.max_delay_ms = int(max_delay_s * 1000)
        self.max_keys = max_keys
        self.store: Failures = store if store is not None else MemoryFailures()

    def _current(self, keys: list[str], now_ms: int) -> dict[str, tuple[int, int]]:
        return {k: v for k, v in self.store.failures(keys).items()
                if now_ms - v[1] <= self.window_ms}

    def retry_after_s(self, keys: list[str], now_ms: int) -> float:
        """0 when a sign-in may be tried now; otherwise the seconds to wait."""
        wait_ms = 0
        for count, last_ms in self._current(keys, now_ms).values():
            if count >= self.free:
                delay = min(self.max_delay_ms, 1000 * 2 ** min(count - self.free, 30))
                wait_ms = max(wait_ms, last_ms + delay - now_ms)
        return max(0, wait_ms) / 1000

    def failed(self, keys: list[str], now_ms: int) -> None:
        current = self._current(keys, now_ms)
        for key in keys:
            self.store.record_failure(key, current.get(key, (0, 0))[0] + 1, now_ms,
                                      max_keys=self.max_keys)

    def succeeded(self, keys: list[str]) -> None:
        self.store.forget_failures(keys)
