"""A PostgreSQL that survives its primary, on loopback ports, stopped by PID: three etcd
3.4 members (the consensus store), and two PostgreSQL servers each run by a Patroni 3.0
agent, one primary and one synchronous standby (Debian ``etcd-server``, ``patroni``).

Patroni holds the primary's leader key in etcd with a ``ttl``; when the primary's machine
dies (its Patroni agent and its PostgreSQL killed -9: ``kill_primary``), the key expires
and the standby, which has every commit the primary acknowledged (``synchronous_mode``),
is promoted. Clients reach whichever is primary through one multi-host address
(``dsn``: ``target_session_attrs=read-write``).

As root, the PostgreSQL side (Patroni runs ``initdb``) runs as the ``postgres`` user.
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
import shutil
import signal
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path
from types import TracebackType

import yaml

from harness import process
from harness.postgres import _binary
from harness.process import ServiceError, free_port

SCOPE = "eldercare"


class HAPostgresError(ServiceError):
    """etcd, Patroni or PostgreSQL is missing or would not start."""


def ha_available() -> bool:
    return all(shutil.which(b) for b in ("etcd", "patroni"))


class Member:
    def __init__(self, index: int, workdir: Path, etcd_hosts: list[str], ttl: int,
                 user: str | None) -> None:
        self.name = f"pg{index}"
        self.port, self.rest_port = free_port(), free_port()
        self.dir = workdir / self.name
        self.dir.mkdir()
        self.data = self.dir / "data"
        self.log = self.dir / "patroni.log"
        self.user = user
        self.process: subprocess.Popen[bytes] | None = None
        loop_wait = 1
        config = {
            "scope": SCOPE, "name": self.name,
            "log": {"level": "WARNING"},
            "restapi": {"listen": f"127.0.0.1:{self.rest_port}",
                        "connect_address": f"127.0.0.1:{self.rest_port}"},
            "etcd3": {"hosts": etcd_hosts},
            "bootstrap": {
                "dcs": {"ttl": ttl, "loop_wait": loop_wait,
                        "retry_timeout": max(1, (ttl - loop_wait) // 2 - 1),
                        "synchronous_mode": True,
                        "postgresql": {"use_pg_rewind": True,
                                       "parameters": {"max_connections": 200,
                                                      "wal_log_hints": "on"}}},
                "initdb": [{"encoding": "UTF8"}, "no-locale"],
                "pg_hba": ["local all all trust",
                           "host replication replicator 127.0.0.1/32 trust",
                           "host all all 127.0.0.1/32 trust"],
            },
            "postgresql": {
                "listen": f"127.0.0.1:{self.port}",
                "connect_address": f"127.0.0.1:{self.port}",
                "data_dir": str(self.data),
                "bin_dir": str(Path(_binary("postgres")).parent),
                "pgpass": str(self.dir / "pgpass"),
                "authentication": {
                    "superuser": {"username": "postgres", "password": "test-only"},
                    "replication": {"username": "replicator", "password": "test-only"},
                },
                "parameters": {"unix_socket_directories": str(self.dir), "fsync": "on"},
            },
            "tags": {"nofailover": False, "noloadbalance": False},
        }
        self.config = self.dir / "patroni.yml"
        self.config.write_text(yaml.safe_dump(config))
        if user is not None:
            for path in (self.dir, self.config):
                shutil.chown(path, user, user)

    def start(self) -> None:
        self.process = process.spawn(["patroni", str(self.config)], self.log, cwd=self.dir,
                                     user=self.user)

    def role(self) -> str:
        """What Patroni's REST API says this member is ("" if it does not answer)."""
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.rest_port}/patroni",
                                        timeout=1) as page:
                state = json.loads(page.read())
        except (urllib.error.URLError, OSError, ValueError):
            return ""
        if state.get("state") != "running":
            return ""
        return str(state.get("role", ""))

    def postmaster_pid(self) -> int | None:
        try:
            return int((self.data / "postmaster.pid").read_text().split()[0])
        except (OSError, ValueError, IndexError):
            return None

    def kill(self) -> None:
        """The machine dies: Patroni, its PostgreSQL and every server process of it
        killed -9 at once (a backend left alive would still take its client's writes)."""
        pid = self.postmaster_pid()
        process.kill(self.process)
        self.process = None
        if pid is not None:
            for victim in [pid, *_children(pid)]:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(victim, signal.SIGKILL)

    def stop(self, timeout_s: float = 20.0) -> None:
        pid = self.postmaster_pid()
        process.stop(self.process, timeout_s)
        self.process = None
        if pid is not None:  # Patroni stops its PostgreSQL; if it could not, we do
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)


def _children(pid: int) -> list[int]:
    """The processes whose parent is ``pid`` (from /proc)."""
    out = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError, ValueError, IndexError):
            # after the command's closing parenthesis: state, then the parent's pid
            if int(stat.read_text().rsplit(")", 1)[1].split()[1]) == pid:
                out.append(int(stat.parent.name))
    return out


def _is(member: Member, role: str) -> bool:
    return member.role() == role


class HAPostgres:
    """``members`` PostgreSQL servers under Patroni (one primary, the rest synchronous or
    asynchronous standbys) and a 3-member etcd, all on free loopback ports."""

    def __init__(self, members: int = 2, ttl: int = 8) -> None:
        if members < 2:
            raise ValueError("a primary and at least one standby")
        self.workdir = Path(tempfile.mkdtemp(prefix="eldercare-ha-postgres-"))
        self.user = "postgres" if os.geteuid() == 0 else None
        if self.user is not None:
            shutil.chown(self.workdir, self.user, self.user)
        self.ttl = ttl
        peers = [(free_port(), free_port()) for _ in range(3)]
        self._etcd_ports = [client for client, _ in peers]
        cluster = ",".join(f"e{i}=http://127.0.0.1:{peer}" for i, (_, peer) in enumerate(peers))
        self._etcd_argv = [
            ["etcd", "--name", f"e{i}", "--data-dir", str(self.workdir / f"etcd{i}"),
             "--listen-client-urls", f"http://127.0.0.1:{client}",
             "--advertise-client-urls", f"http://127.0.0.1:{client}",
             "--listen-peer-urls", f"http://127.0.0.1:{peer}",
             "--initial-advertise-peer-urls", f"http://127.0.0.1:{peer}",
             "--initial-cluster", cluster, "--initial-cluster-state", "new",
             "--initial-cluster-token", SCOPE, "--log-level", "warn"]
            for i, (client, peer) in enumerate(peers)]
        self._etcd: list[subprocess.Popen[bytes] | None] = [None] * 3
        hosts = [f"127.0.0.1:{port}" for port in self._etcd_ports]
        self.members = [Member(i, self.workdir, hosts, ttl, self.user) for i in range(members)]

    # --- running it --------------------------------------------------------------------

    def start(self, timeout_s: float = 120.0) -> HAPostgres:
        if not ha_available():
            raise HAPostgresError("etcd and Patroni are not installed: run scripts/setup.sh "
                                  "dev (Debian etcd-server, patroni)")
        deadline = time.monotonic() + timeout_s
        try:
            for i, argv in enumerate(self._etcd_argv):
                self._etcd[i] = process.spawn(argv, self.workdir / f"etcd{i}.log")
            for i, port in enumerate(self._etcd_ports):
                process.wait_ready(functools.partial(process.listening, port), f"etcd e{i}",
                                   deadline - time.monotonic(), self._etcd[i],
                                   self.workdir / f"etcd{i}.log")
            first = self.members[0]
            first.start()  # the first bootstraps the cluster, the others copy it
            process.wait_ready(lambda: first.role() in ("master", "primary"),
                               "the first PostgreSQL under Patroni",
                               deadline - time.monotonic(), first.process, first.log)
            for member in self.members[1:]:
                member.start()
            for member in self.members[1:]:
                process.wait_ready(functools.partial(_is, member, "replica"),
                                   f"standby {member.name}", deadline - time.monotonic(),
                                   member.process, member.log)
            process.wait_ready(self.synchronous, "a synchronous standby",
                               deadline - time.monotonic())
        except ServiceError as exc:
            self.close()
            raise HAPostgresError(str(exc)) from exc
        return self

    def synchronous(self) -> bool:
        """Whether the primary has a synchronous standby (commits wait for it)."""
        import psycopg

        try:
            with psycopg.connect(self.dsn(), connect_timeout=2, autocommit=True) as conn:
                row = conn.execute("SELECT count(*) FROM pg_stat_replication WHERE "
                                   "sync_state = 'sync'").fetchone()
        except psycopg.Error:
            return False
        return row is not None and int(row[0]) >= 1

    def dsn(self, database: str = "postgres") -> str:
        """The address of whichever member is primary (libpq tries each in turn)."""
        hosts = ",".join(f"127.0.0.1:{m.port}" for m in self.members)
        return (f"postgresql://postgres@{hosts}/{database}"
                "?target_session_attrs=read-write&connect_timeout=2")

    def create_database(self, name: str) -> str:
        import psycopg

        with psycopg.connect(self.dsn(), autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.dsn(name)

    def primary(self) -> Member | None:
        for member in self.members:
            if member.role() in ("master", "primary"):
                return member
        return None

    def kill_primary(self) -> Member:
        """The primary's machine dies (-9); which it was."""
        primary = self.primary()
        if primary is None:
            raise HAPostgresError("no primary to kill")
        primary.kill()
        return primary

    def wait_new_primary(self, old: Member, timeout_s: float = 60.0) -> float:
        """Seconds until another member is primary and takes a write."""
        import psycopg

        started = time.monotonic()

        def writable() -> bool:
            new = self.primary()
            if new is None or new is old:
                return False
            try:
                with psycopg.connect(self.dsn(), connect_timeout=1, autocommit=True) as conn:
                    conn.execute("CREATE TEMP TABLE probe (x int)")
                return True
            except psycopg.Error:
                return False

        process.wait_ready(writable, "a new primary", timeout_s)
        return time.monotonic() - started

    def close(self) -> None:
        for member in self.members:
            member.stop()
        for proc in self._etcd:
            process.stop(proc)
        self._etcd = [None] * 3
        shutil.rmtree(self.workdir, ignore_errors=True)

    def __enter__(self) -> HAPostgres:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()
