"""The one start/wait/stop helper every local service runner shares."""

from __future__ import annotations

import random
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Callable
from pathlib import Path

from telemetry.errors import EldercareError

_random = random.SystemRandom()


class ServiceError(EldercareError, RuntimeError):
    """A local service is missing, exited, or did not become ready in time."""


def _ephemeral_range() -> tuple[int, int]:
    """The ports the kernel hands out as source ports of outgoing connections."""
    try:
        low, high = Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()
        return int(low), int(high)
    except (OSError, ValueError):
        return 32768, 60999


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now, below the ephemeral
    range, so that no outgoing connection (a broker client, a database session) can take
    it between now and the moment a service binds it."""
    low, _ = _ephemeral_range()
    for _ in range(200):
        port = _random.randrange(10_000, max(10_001, low))
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:  # the kernel's pick
        sock.bind(("127.0.0.1", 0))
        picked: int = sock.getsockname()[1]
        return picked


def listening(port: int) -> bool:
    """Something accepts TCP connections on 127.0.0.1:``port``."""
    with socket.socket() as sock:
        sock.settimeout(0.2)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def spawn(argv: list[str], log: Path, cwd: Path | None = None,
          user: str | None = None) -> subprocess.Popen[bytes]:
    """Start ``argv`` with its output appended to ``log`` (as ``user``, if given)."""
    with log.open("ab") as out:
        return subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, cwd=cwd,
                                user=user)


def wait_ready(ready: Callable[[], bool], what: str, timeout_s: float,
               process: subprocess.Popen[bytes] | None = None, log: Path | None = None) -> None:
    """Return once ``ready()``; raise ``ServiceError`` if ``process`` exits first or the
    deadline passes (with the tail of ``log``)."""
    deadline = time.monotonic() + timeout_s
    pause = threading.Event()
    while not ready():
        exited = process is not None and process.poll() is not None
        if exited or time.monotonic() > deadline:
            tail = log.read_text(errors="replace")[-2000:] if log and log.exists() else ""
            raise ServiceError(f"{what} {'exited' if exited else 'was not ready'} "
                               f"after {timeout_s} s{': ' + tail if tail else ''}")
        pause.wait(0.02)


def stop(process: subprocess.Popen[bytes] | None, timeout_s: float = 5.0,
         sig: signal.Signals = signal.SIGTERM) -> None:
    """``sig``, then SIGKILL after ``timeout_s``; waits for the exit."""
    if process is None or process.poll() is not None:
        return
    process.send_signal(sig)
    try:
        process.wait(timeout_s)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def kill(process: subprocess.Popen[bytes] | None) -> None:
    """SIGKILL, as a crash would; waits for the exit."""
    if process is not None and process.poll() is None:
        process.kill()
    if process is not None:
        process.wait()
