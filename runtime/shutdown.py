"""How a long-lived command stops: on SIGINT or SIGTERM, promptly, and within a bound.

A process started from a non-interactive shell in the background, or by a supervisor that
ignores SIGINT, inherits SIGINT as *ignored*; Python then never raises KeyboardInterrupt and
a command that relies on it never stops. So every long-lived command installs its own
handlers for both signals here, and runs its clean shutdown under a watchdog: if closing
takes longer than ``grace_s``, every thread's stack is written to stderr (what hung, for the
operator) and the process exits with status 1 instead of hanging until systemd's SIGKILL.
"""

from __future__ import annotations

import faulthandler
import logging
import signal
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType

log = logging.getLogger(__name__)

GRACE_S = 8.0  # a clean shutdown must finish within this; systemd's default stop timeout is 90


class StopRequest:
    """Set by SIGINT or SIGTERM; the command's main loop waits on it."""

    def __init__(self) -> None:
        self.event = threading.Event()
        self.signal_name: str | None = None

    def install(self) -> StopRequest:
        """Handle SIGINT and SIGTERM (even if inherited as ignored). Main thread only."""
        signal.signal(signal.SIGINT, self._on_signal)
        signal.signal(signal.SIGTERM, self._on_signal)
        return self

    def _on_signal(self, signum: int, _frame: FrameType | None) -> None:
        self.signal_name = signal.Signals(signum).name
        self.event.set()

    def wait(self, timeout_s: float | None = None) -> bool:
        return self.event.wait(timeout_s)

    def is_set(self) -> bool:
        return self.event.is_set()


@contextmanager
def bounded(what: str, grace_s: float = GRACE_S) -> Iterator[None]:
    """Run a clean shutdown; past ``grace_s`` dump every thread's stack and exit 1."""
    log.info("%s: stopping", what)
    faulthandler.dump_traceback_later(grace_s, exit=True, file=sys.stderr)
    try:
        yield
    finally:
        faulthandler.cancel_dump_traceback_later()
    log.info("%s: stopped cleanly", what)
