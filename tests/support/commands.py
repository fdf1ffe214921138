"""Run an ``eldercare`` command as operators do, read its output, and stop it by signal."""

from __future__ import annotations

import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tests.support.wait import wait_until

ROOT = Path(__file__).resolve().parents[2]
STOP_WITHIN_S = 10.0


def _inherit_ignored_sigint() -> None:
    # As under a non-interactive shell's `&` or a supervisor that ignores SIGINT: Python
    # then never raises KeyboardInterrupt, so the command must handle the signal itself.
    signal.signal(signal.SIGINT, signal.SIG_IGN)


@contextmanager
def _nothing() -> Iterator[None]:
    yield None


class Command:
    """``python -m eldercare_cli.main ARGS`` with stdout and stderr collected line by line
    (stderr, the log, into the file ``log`` instead when given)."""

    def __init__(self, *args: str, log: Path | None = None) -> None:
        self.log = log
        with open(log, "wb") if log is not None else _nothing() as err:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "eldercare_cli.main", *args], cwd=ROOT,
                stdout=subprocess.PIPE, stderr=err if log is not None else subprocess.STDOUT,
                text=True, preexec_fn=_inherit_ignored_sigint)
        self.lines: list[str] = []
        assert self.proc.stdout is not None
        stdout = self.proc.stdout
        self._reader = threading.Thread(
            target=lambda: self.lines.extend(iter(stdout.readline, "")), daemon=True)
        self._reader.start()

    def output(self) -> str:
        """What it printed, and its log."""
        logged = self.log.read_text() if self.log is not None else ""
        return "".join(self.lines) + logged

    def wait_for(self, text: str, timeout_s: float) -> None:
        wait_until(lambda: text in self.output() or self.proc.poll() is not None, timeout_s,
                   f"{text!r} in the output")
        assert text in self.output(), f"exited {self.proc.returncode}:\n{self.output()[-3000:]}"

    def stop(self, sig: signal.Signals, within_s: float = STOP_WITHIN_S) -> None:
        """Send ``sig``; the command must exit 0 within ``within_s`` after a clean shutdown."""
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            self.proc.wait(within_s)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            self._reader.join(5)
            raise AssertionError(f"still running {within_s} s after {sig.name}; last output:\n"
                                 f"{self.output()[-3000:]}") from None
        self._reader.join(5)
        assert self.proc.stdout is not None
        self.proc.stdout.close()
        assert self.proc.returncode == 0, f"exit {self.proc.returncode} after {sig.name}:\n" \
                                          f"{self.output()[-3000:]}"
        assert "stopped cleanly" in self.output(), self.output()[-3000:]

    def kill(self) -> None:
        """Last resort in a test's ``finally``: kill -9 if it is still running."""
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        if self.proc.stdout is not None and not self.proc.stdout.closed:
            self._reader.join(5)
            self.proc.stdout.close()
