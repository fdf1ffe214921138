"""The HTTP endpoints Kannel calls back: delivery reports and family replies.

* ``GET /sms/dlr?notice=<id>&token=<secret>&status=<%d>&answer=<%A>``: Kannel's
  ``dlr-url`` per status change asked for (1 delivered, 2 failed, 16 rejected by the SMSC);
* ``GET /sms/reply?from=<%p>&text=<%a>&token=<secret>``: an SMS from a phone, through
  Kannel's ``sms-service`` ``get-url``; an explicit yes from a contact acknowledges the alert.

Both carry the secret (403 without it, counted): whoever reaches the port must not be
able to acknowledge a fall or mark an SMS delivered.

Served on loopback beside Kannel (stdlib ``http.server``: two routes, no framework).
Answers are empty, so Kannel (``max-messages = 1``, ``omit-empty = true`` and
``accept-x-kannel-headers = true`` in its sms-service) sends nothing back to the phone,
except when a reply must be asked which alert it meant: then the answer's text goes back
to the phone as an SMS, in UCS-2 (``X-Kannel-Coding: 2``).
"""

from __future__ import annotations

import collections
import hmac
import http.server
import logging
import threading
import urllib.parse

from alerts.core import AlertCore

log = logging.getLogger(__name__)

DELIVERED, FAILED, REJECTED = 1, 2, 16


class CallbackServer:
    def __init__(self, core: AlertCore, *, token: str, host: str = "127.0.0.1",
                 port: int = 0) -> None:
        if not token:
            raise ValueError("the callback server needs a secret token")
        self.core = core
        self._token = token
        self.refused = 0
        # delivery reports by outcome ("delivered", "failed", "other") and replies heard
        self.reports: collections.Counter[str] = collections.Counter()
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                status, answer = outer._route(self.path)
                body = answer.encode()
                self.send_response(status)
                self.send_header("Content-Type", "text/plain; charset=utf-8")
                if body:  # UCS-2 on the air, or Chinese arrives as "??"
                    self.send_header("X-Kannel-Coding", "2")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: object) -> None:
                pass  # query strings hold phone numbers: never in the log

        self._server = http.server.ThreadingHTTPServer((host, port), Handler)
        self._server.daemon_threads = True
        self.port = self._server.server_address[1]
        self.base_url = f"http://{host}:{self.port}"
        self._thread = threading.Thread(target=self._server.serve_forever,
                                        name="sms-callbacks", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def close(self) -> None:
        if self._thread.is_alive():  # shutdown() waits forever for a loop never started
            self._server.shutdown()
        self._server.server_close()

    def _route(self, path: str) -> tuple[int, str]:
        """(HTTP status, the text to send back to the phone: "" for none)."""
        url = urllib.parse.urlsplit(path)
        query = dict(urllib.parse.parse_qsl(url.query))
        if url.path not in ("/sms/dlr", "/sms/reply"):
            return 404, ""
        if not hmac.compare_digest(query.get("token", "").encode(), self._token.encode()):
            self.refused += 1
            log.warning("callback on %s refused: no or wrong token", url.path)
            return 403, ""
        try:
            if url.path == "/sms/dlr":
                status = int(query.get("status", "0"))
                notice_id = int(query["notice"])
                if status == DELIVERED:
                    self.core.delivery_report(notice_id, True, "delivered")
                    self.reports["delivered"] += 1
                elif status in (FAILED, REJECTED):
                    self.core.delivery_report(notice_id, False,
                                              f"status {status} {query.get('answer', '')}")
                    self.reports["failed"] += 1
                else:
                    self.reports["other"] += 1
                return 200, ""
            if url.path == "/sms/reply":
                reply = self.core.sms_reply(query["from"], query.get("text", ""))
                self.reports["reply"] += 1
                return 200, reply.answer
        except (KeyError, ValueError):
            return 400, ""
        return 404, ""
