"""A local InfluxDB 1.x (Debian ``influxd``) for tests and benchmarks: a temporary data
dir, free loopback ports, stopped by PID. (A deployment runs InfluxDB as a service.)"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

from harness import process
from harness.process import ServiceError, free_port


class InfluxUnavailableError(ServiceError):
    """influxd is missing or did not start."""


def influxd_binary() -> str | None:
    return shutil.which("influxd")


class LocalInfluxd:
    def __init__(self) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="influxd-"))
        self.port, self.rpc_port = free_port(), free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.conf = self.dir / "influxd.conf"
        self.conf.write_text(f"""
reporting-disabled = true
bind-address = "127.0.0.1:{self.rpc_port}"
[meta]
  dir = "{self.dir}/meta"
[data]
  dir = "{self.dir}/data"
  wal-dir = "{self.dir}/wal"
  query-log-enabled = false
[coordinator]
  log-queries-after = "0s"
[http]
  bind-address = "127.0.0.1:{self.port}"
  auth-enabled = false
  log-enabled = false
  max-body-size = 0
[monitor]
  store-enabled = false
[continuous_queries]
  enabled = false
""")
        self._proc: subprocess.Popen[bytes] | None = None

    def start(self, database: str = "eldercare", timeout_s: float = 30.0) -> LocalInfluxd:
        binary = influxd_binary()
        if binary is None:
            raise InfluxUnavailableError("influxd is not installed: run scripts/setup.sh dev "
                                         "(Debian influxdb)")
        log = self.dir / "influxd.log"
        self._proc = process.spawn([binary, "-config", str(self.conf)], log)
        try:
            process.wait_ready(self._ping, "influxd", timeout_s, self._proc, log)
        except ServiceError as exc:
            raise InfluxUnavailableError(str(exc)) from exc
        self.query(f'CREATE DATABASE "{database}"')
        return self

    def _ping(self) -> bool:
        try:
            with urllib.request.urlopen(f"{self.url}/ping", timeout=1) as response:
                return bool(response.status == 204)
        except (urllib.error.URLError, OSError):
            return False

    def query(self, q: str) -> bytes:
        data = urllib.parse.urlencode({"q": q}).encode()
        with urllib.request.urlopen(f"{self.url}/query", data=data, timeout=30) as response:
            body: bytes = response.read()
            return body

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc else None

    def stop(self) -> None:
        process.stop(self._proc, 15.0)
        self._proc = None

    def close(self) -> None:
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)
