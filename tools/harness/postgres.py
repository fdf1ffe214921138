"""A real PostgreSQL cluster in a temporary folder on a free loopback port, stopped by PID.

``initdb`` refuses to run as root, so as root the cluster belongs to the ``postgres`` user
(Debian's package makes it) and both ``initdb`` and the server run as that user.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import tempfile
from pathlib import Path
from types import TracebackType

from harness import process
from harness.process import ServiceError, free_port

_BIN_DIRS = sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True)


class PostgresError(ServiceError):
    """PostgreSQL is missing or would not start."""


def _binary(name: str) -> str:
    for folder in _BIN_DIRS:
        if os.access(folder / name, os.X_OK):
            return str(folder / name)
    found = shutil.which(name)
    if found is None:
        raise PostgresError(f"{name} is not installed (Debian package 'postgresql')")
    return found


class LocalPostgres:
    """``initdb`` (trust on loopback, no password) and ``postgres`` on 127.0.0.1."""

    def __init__(self, port: int | None = None) -> None:
        self.port = port or free_port()
        self.workdir = Path(tempfile.mkdtemp(prefix="eldercare-postgres-"))
        self.data = self.workdir / "data"
        self.log_path = self.workdir / "postgres.log"
        self.user = "postgres" if os.geteuid() == 0 else None
        self.process: subprocess.Popen[bytes] | None = None

    def dsn(self, database: str = "postgres") -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def start(self, timeout_s: float = 30.0) -> LocalPostgres:
        if self.user is not None:
            shutil.chown(self.workdir, self.user, self.user)
        if not self.data.exists():
            done = subprocess.run(
                [_binary("initdb"), "-D", str(self.data), "-A", "trust", "-U", "postgres",
                 "-E", "UTF8", "--no-locale", "--no-sync"],
                capture_output=True, text=True, user=self.user, check=False)
            if done.returncode != 0:
                raise PostgresError(f"initdb failed: {done.stderr[-2000:]}")
        self.process = process.spawn(
            [_binary("postgres"), "-D", str(self.data), "-p", str(self.port),
             "-k", str(self.workdir), "-c", "listen_addresses=127.0.0.1",
             "-c", "fsync=on", "-c", "max_connections=200"],
            self.log_path, user=self.user)
        try:
            process.wait_ready(self._accepting, f"postgres on port {self.port}", timeout_s,
                               self.process, self.log_path)
        except ServiceError as exc:
            self.stop()
            raise PostgresError(str(exc)) from exc
        return self

    def _accepting(self) -> bool:
        if not process.listening(self.port):
            return False
        done = subprocess.run([_binary("pg_isready"), "-h", "127.0.0.1", "-p", str(self.port)],
                              capture_output=True, check=False)
        return done.returncode == 0

    def create_database(self, name: str) -> str:
        """A new empty database; its DSN."""
        import psycopg

        with psycopg.connect(self.dsn(), autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.dsn(name)

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process else None

    def stop(self, timeout_s: float = 10.0) -> None:
        """A fast shutdown (SIGINT: PostgreSQL's SIGTERM would wait for every client)."""
        process.stop(self.process, timeout_s, signal.SIGINT)
        self.process = None

    def kill(self) -> None:
        """SIGKILL, as a crash would."""
        process.kill(self.process)
        self.process = None

    def close(self) -> None:
        self.stop()
        shutil.rmtree(self.workdir, ignore_errors=True)

    def __enter__(self) -> LocalPostgres:
        return self.start() if self.process is None else self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()
