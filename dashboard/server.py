"""Serve the dashboard app with uvicorn in a background thread of the central process."""

from __future__ import annotations

import threading
import time

import uvicorn
from fastapi import FastAPI


class DashboardServer:
    def __init__(self, app: FastAPI, host: str = "127.0.0.1", port: int = 8080) -> None:
        self.host, self.port = host, port
        config = uvicorn.Config(app, host=host, port=port, log_level="warning", log_config=None,
                                access_log=False, timeout_graceful_shutdown=2)
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, name="dashboard",
                                        daemon=True)

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}/"

    def start(self, timeout_s: float = 15.0) -> None:
        self._thread.start()
        deadline = time.monotonic() + timeout_s
        pause = threading.Event()
        while not self._server.started:
            if not self._thread.is_alive():
                raise RuntimeError(f"the dashboard could not listen on {self.host}:{self.port}")
            if time.monotonic() > deadline:
                raise RuntimeError("the dashboard did not start")
            pause.wait(0.02)

    def close(self) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=10)
