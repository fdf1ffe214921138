"""Start and stop a real Mosquitto on a free loopback port (tests, demo, benchmarks)."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from types import TracebackType


class BrokerError(Exception):
    """Mosquitto is missing or would not start."""


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def mosquitto_binary() -> str | None:
    for candidate in (shutil.which("mosquitto"), "/usr/sbin/mosquitto"):
        if candidate and os.access(candidate, os.X_OK):
            return candidate
    return None


class LocalMosquitto:
    """A Mosquitto process with a generated config, listening on loopback only.

    ``extra_config`` lines are appended (ACLs, limits, more listeners). Stop it with
    ``stop()`` (by PID: SIGTERM, then SIGKILL), or use it as a context manager.
    """

    def __init__(self, port: int | None = None, extra_config: str = "",
                 workdir: Path | None = None, allow_anonymous: bool = True,
                 persistence: bool = False, config_file: Path | None = None) -> None:
        binary = mosquitto_binary()
        if binary is None:
            raise BrokerError("mosquitto is not installed (Debian package 'mosquitto')")
        self.binary = binary
        self.port = port or free_port()
        self._own_dir = workdir is None
        self.workdir = workdir or Path(tempfile.mkdtemp(prefix="eldercare-mosquitto-"))
        self.log_path = self.workdir / "mosquitto.log"
        self.process: subprocess.Popen[bytes] | None = None
        if config_file is not None:  # a generated config: run it as it is
            self.config_path = config_file
            return
        self.config_path = self.workdir / "mosquitto.conf"
        self.config_path.write_text(
            f"listener {self.port} 127.0.0.1\n"
            f"allow_anonymous {'true' if allow_anonymous else 'false'}\n"
            + (f"persistence true\npersistence_location {self.workdir}/\n"
               if persistence else "persistence false\n")
            + "autosave_interval 1\n"
            "max_queued_messages 1000000\n"
            f"{extra_config}\n"
        )

    @property
    def url(self) -> str:
        return f"mqtt://127.0.0.1:{self.port}"

    def start(self, timeout_s: float = 10.0) -> LocalMosquitto:
        self._hand_to_broker_user()
        log = self.log_path.open("ab")
        self.process = subprocess.Popen(
            [self.binary, "-c", str(self.config_path)], stdout=log, stderr=log
        )
        log.close()
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise BrokerError(f"mosquitto exited: {self.log_path.read_text()[-2000:]}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    return self
            except OSError:
                time.sleep(0.02)  # polling a port that is about to open
        self.stop()
        raise BrokerError(f"mosquitto did not listen on {self.port} in {timeout_s} s")

    def _hand_to_broker_user(self) -> None:
        """Started as root, Mosquitto drops to user ``mosquitto``: let it read its files."""
        if os.geteuid() != 0:
            return
        try:
            import pwd

            user = pwd.getpwnam("mosquitto")
        except KeyError:
            return
        for path in [self.workdir, *self.workdir.rglob("*")]:
            os.chown(path, user.pw_uid, user.pw_gid)

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process else None

    def stop(self, timeout_s: float = 5.0) -> None:
        if self.process is None:
            return
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout_s)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None

    def kill(self) -> None:
        """SIGKILL, as a crash would."""
        if self.process is not None:
            self.process.kill()
            self.process.wait()
            self.process = None

    def close(self) -> None:
        """Stop the broker and remove its working folder (if it made it)."""
        self.stop()
        if self._own_dir:
            shutil.rmtree(self.workdir, ignore_errors=True)

    def __enter__(self) -> LocalMosquitto:
        return self.start() if self.process is None else self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()
