"""The operators' HTTP port of a long-lived process: Prometheus metrics and health.

``/metrics``       the registry in Prometheus text format (prometheus-client renders it)
``/health/live``   200 while the process serves requests at all
``/health/ready``  200 when every readiness check passes, else 503; JSON either way,
                   ``{"ready": bool, "checks": {name: bool}}``

It binds loopback unless configured otherwise: metrics name no person, but say how busy a
home is. The server runs in daemon threads and stops with ``close()``.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable, Iterable
from socketserver import ThreadingMixIn
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from prometheus_client import CollectorRegistry, make_wsgi_app

log = logging.getLogger(__name__)


Checks = Callable[[], dict[str, bool]]
StartResponse = Callable[[str, list[tuple[str, str]]], Any]


class _Server(ThreadingMixIn, WSGIServer):
    daemon_threads = True


class _Quiet(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass  # a scrape every few seconds is not news


class OpsServer:
    def __init__(self, registry: CollectorRegistry, checks: Checks, host: str = "127.0.0.1",
                 port: int = 0) -> None:
        self._metrics = make_wsgi_app(registry)
        self._checks = checks
        self._server = make_server(host, port, self._app, _Server, handler_class=_Quiet)
        self.port: int = self._server.server_port
        self.url = f"http://{host}:{self.port}"
        self._thread = threading.Thread(target=self._server.serve_forever, name="ops-http",
                                        daemon=True)

    def start(self) -> OpsServer:
        self._thread.start()
        return self

    def close(self) -> None:
        if self._thread.is_alive():  # shutdown() waits forever for a loop never started
            self._server.shutdown()
        self._server.server_close()

    def _app(self, environ: dict[str, Any], start: StartResponse) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        if path == "/metrics":
            return self._metrics(environ, start)  # type: ignore[no-any-return]
        if path == "/health/live":
            return _json(start, "200 OK", {"live": True})
        if path == "/health/ready":
            try:
                checks = self._checks()
            except Exception:  # a probe that fails is a failed check, never a dead port
                log.exception("readiness check failed")
                checks = {"checks_ran": False}
            ready = all(checks.values())
            return _json(start, "200 OK" if ready else "503 Service Unavailable",
                         {"ready": ready, "checks": checks})
        return _json(start, "404 Not Found", {"error": "not found", "paths": [
            "/metrics", "/health/live", "/health/ready"]})


def _json(start: StartResponse, status: str, body: dict[str, Any]) -> list[bytes]:
    data = json.dumps(body).encode()
    start(status, [("Content-Type", "application/json"), ("Content-Length", str(len(data)))])
    return [data]
