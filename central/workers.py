"""Store workers: ``eldercare ingest`` processes (role ``store``) that write the routine
readings while the central process (role ``alerts``) only detects on them.

Each worker runs from a config derived from the central one and shares one subscription
with the others; the central process starts them, restarts one that dies (its unacknowledged
messages come back to the group, so nothing is lost), and stops them by PID.
"""

from __future__ import annotations

import logging
import subprocess
import sys
import threading
from pathlib import Path

import msgspec

from central import config
from ingest.roles import ProcessRole

log = logging.getLogger(__name__)

READY_TIMEOUT_S = 60.0
CHECK_EVERY_S = 1.0


def worker_config(cfg: config.CentralConfig, index: int) -> config.CentralConfig:
    return msgspec.structs.replace(
        cfg, role=ProcessRole.STORE, store_workers=0, alerts=None, dashboard=None,
        client_id=f"{cfg.client_id}-store-{index}", share_group=f"{cfg.client_id}-store")


class StoreWorkers:
    def __init__(self, cfg: config.CentralConfig, config_dir: Path) -> None:
        config_dir.mkdir(parents=True, exist_ok=True)
        self.paths: list[Path] = []
        for i in range(cfg.store_workers):
            path = config_dir / f"store-worker-{i}.toml"
            path.write_bytes(config.dump(worker_config(cfg, i)))
            self.paths.append(path)
        self.processes: list[subprocess.Popen[str] | None] = [None] * len(self.paths)
        self.restarts = 0
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._watch = threading.Thread(target=self._run, name="store-workers", daemon=True)

    def _spawn(self, i: int) -> subprocess.Popen[str]:
        proc = subprocess.Popen([sys.executable, "-m", "eldercare_cli.main", "ingest",
                                 "--config", str(self.paths[i])],
                                stdout=subprocess.PIPE, text=True)
        ready = threading.Event()

        def first_line() -> None:  # "ingest running ..." once subscribed (or EOF)
            assert proc.stdout is not None
            proc.stdout.readline()
            ready.set()
            for _ in proc.stdout:  # keep the pipe drained until the worker ends
                pass
            proc.stdout.close()

        threading.Thread(target=first_line, daemon=True).start()
        if not ready.wait(READY_TIMEOUT_S) or proc.poll() is not None:
            log.error("store worker %d did not start (exit code %s)", i, proc.poll())
        return proc

    def start(self) -> None:
        with self._lock:
            for i in range(len(self.paths)):
                self.processes[i] = self._spawn(i)
        self._watch.start()

    def _run(self) -> None:
        while not self._stop.wait(CHECK_EVERY_S):
            with self._lock:
                for i, proc in enumerate(self.processes):
                    if self._stop.is_set() or proc is None or proc.poll() is None:
                        continue
                    log.error("store worker %d (pid %d) exited with %s; restarting", i,
                              proc.pid, proc.returncode)
                    self.restarts += 1
                    self.processes[i] = self._spawn(i)

    def close(self, timeout_s: float = 30.0) -> None:
        self._stop.set()
        with self._lock:
            for proc in self.processes:
                if proc is not None and proc.poll() is None:
                    proc.terminate()
            for proc in self.processes:
                if proc is None:
                    continue
                try:
                    proc.wait(timeout_s)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
        if self._watch.is_alive():
            self._watch.join()
