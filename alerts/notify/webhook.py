"""Webhook for emergency centres: the notice's JSON payload, signed.

Headers: ``X-Eldercare-Signature: sha256=<hex HMAC-SHA256 of the body with the shared
secret>``, ``X-Eldercare-Timestamp`` (signed too, as ``<timestamp>.<body>``, so a captured
request cannot be replayed later) and ``Idempotency-Key`` (the same for every retry of
one notice, so the receiver can drop repeats).
"""

from __future__ import annotations

import hashlib
import hmac
import time
import urllib.error
import urllib.request

from alerts.model import Notice
from alerts.notify.base import NotifyError, http_error


def signature(secret: bytes, timestamp: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret, timestamp.encode() + b"." + body,
                                hashlib.sha256).hexdigest()


class WebhookNotifier:
    def __init__(self, secret: bytes, *, timeout_s: float = 5.0) -> None:
        if len(secret) < 16:
            raise ValueError("a webhook secret needs at least 16 bytes")
        self._secret = secret
        self.timeout_s = timeout_s

    def send(self, notice: Notice) -> str:
        body = notice.payload.encode()
        timestamp = str(int(time.time()))
        request = urllib.request.Request(notice.recipient, data=body, method="POST", headers={
            "Content-Type": "application/json",
            "Idempotency-Key": f"eldercare-notice-{notice.notice_id}",
            "X-Eldercare-Timestamp": timestamp,
            "X-Eldercare-Signature": signature(self._secret, timestamp, body)})
        try:
            with urllib.request.urlopen(request, timeout=self.timeout_s) as response:
                return f"HTTP {response.status}"
        except urllib.error.HTTPError as exc:
            exc.close()  # it holds the response's socket
            raise http_error(exc.code, "webhook") from exc
        except (urllib.error.URLError, OSError) as exc:
            raise NotifyError(f"webhook unreachable: {exc}", retryable=True) from exc
