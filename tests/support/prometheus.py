"""A real Prometheus server (Debian ``prometheus``) on a free loopback port, scraping the
given targets every second, stopped by its PID; ``query`` asks its HTTP API."""

from __future__ import annotations

import json
import shutil
import subprocess
import tempfile
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

import yaml

from harness.process import free_port
from tests.support.wait import wait_until

BINARY = "prometheus"


class LocalPrometheus:
    def __init__(self, targets: dict[str, list[str]]) -> None:
        self.folder = Path(tempfile.mkdtemp(prefix="eldercare-prometheus-"))
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        (self.folder / "prometheus.yml").write_text(yaml.safe_dump({
            "global": {"scrape_interval": "1s", "scrape_timeout": "900ms"},
            "scrape_configs": [{"job_name": job, "static_configs": [{"targets": hosts}]}
                               for job, hosts in targets.items()]}))
        self.process: subprocess.Popen[bytes] | None = None

    def start(self, timeout_s: float = 30.0) -> LocalPrometheus:
        binary = shutil.which(BINARY) or f"/usr/bin/{BINARY}"
        self.log = open(self.folder / "prometheus.log", "wb")  # noqa: SIM115 (closed in close)
        self.process = subprocess.Popen(
            [binary, f"--config.file={self.folder / 'prometheus.yml'}",
             f"--storage.tsdb.path={self.folder / 'data'}",
             f"--web.listen-address=127.0.0.1:{self.port}"],
            stdout=self.log, stderr=subprocess.STDOUT)
        wait_until(self._ready, timeout_s, "prometheus ready")
        return self

    def _ready(self) -> bool:
        assert self.process is not None
        if self.process.poll() is not None:
            raise RuntimeError("prometheus exited: "
                               + (self.folder / "prometheus.log").read_text()[-2000:])
        try:
            with urllib.request.urlopen(f"{self.url}/-/ready", timeout=1) as response:
                return bool(response.status == 200)
        except (urllib.error.URLError, OSError):
            return False

    def query(self, expr: str) -> list[dict[str, Any]]:
        """The instant vector ``expr`` evaluates to now (each: ``metric`` labels, ``value``)."""
        url = f"{self.url}/api/v1/query?" + urllib.parse.urlencode({"query": expr})
        with urllib.request.urlopen(url, timeout=5) as response:
            body = json.load(response)
        assert body["status"] == "success", body
        return [{"metric": r["metric"], "value": float(r["value"][1])}
                for r in body["data"]["result"]]

    def names(self) -> set[str]:
        """Every metric name it has scraped."""
        with urllib.request.urlopen(f"{self.url}/api/v1/label/__name__/values",
                                    timeout=5) as response:
            body = json.load(response)
        assert body["status"] == "success", body
        return set(body["data"])

    def value(self, expr: str) -> float | None:
        """The single value of ``expr`` now, None while it has none."""
        result = self.query(expr)
        return result[0]["value"] if len(result) == 1 else None

    def close(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if hasattr(self, "log"):
            self.log.close()
        shutil.rmtree(self.folder, ignore_errors=True)
