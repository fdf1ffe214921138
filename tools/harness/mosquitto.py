"""A real Mosquitto on a free loopback port (tests, demo, benchmarks), stopped by PID."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path
from types import TracebackType

from harness import process
from harness.process import ServiceError, free_port


class BrokerError(ServiceError):
    """Mosquitto (or the embedded broker) is missing or would not start."""


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
        self.process = process.spawn([self.binary, "-c", str(self.config_path)],
                                     self.log_path)
        try:
            process.wait_ready(lambda: process.listening(self.port),
                               f"mosquitto on port {self.port}", timeout_s, self.process,
                               self.log_path)
        except ServiceError as exc:
            self.stop()
            raise BrokerError(str(exc)) from exc
        return self

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
        process.stop(self.process, timeout_s)
        self.process = None

    def kill(self) -> None:
        """SIGKILL, as a crash would."""
        process.kill(self.process)
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
