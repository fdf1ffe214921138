"""What a rescue centre's receiver does with our webhook: check the signature as the
contract documents it (HMAC-SHA256 over ``timestamp + "." + body``, hex, ``sha256=``
prefix), written here independently of ``alerts.notify.webhook``."""

from __future__ import annotations

import hashlib
import hmac


def receiver_accepts(secret: bytes, headers: dict[str, str], body: bytes) -> bool:
    stamp = headers["X-Eldercare-Timestamp"]
    mac = hmac.new(secret, stamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(headers["X-Eldercare-Signature"], f"sha256={mac}")
