"""SMS through Kannel's HTTP ``sendsms`` (smsbox).

Text goes as UTF-8; anything beyond plain ASCII goes with ``coding=2`` (UCS-2 on the air,
70 characters a part) so Chinese arrives intact, plain ASCII as GSM 7-bit (160); each
notice carries a ``dlr-url`` back to our callback server with its notice id, so delivery
reports land on the right notice.
"""

from __future__ import annotations

import urllib.error
import urllib.parse
import urllib.request

from alerts.model import Notice
from alerts.notify.base import NotifyError, http_error

# Only the reports the callback acts on: delivered (1), failed (2), SMSC rejected (16).
# "Buffered" (4) and "SMSC accepted" (8) changed nothing here and doubled the reports
# Kannel's bearerbox writes to smsbox; that link has no TCP_NODELAY, so two writes within
# the peer's delayed-ACK time hold the second (and the next sendsms answer) some 40 ms.
DLR_MASK = 1 | 2 | 16


class KannelNotifier:
    def __init__(self, sendsms_url: str, username: str, password: str, *,
                 callback_base: str, callback_token: str, sender: str = "",
                 timeout_s: float = 5.0) -> None:
        self.sendsms_url = sendsms_url
        self._username = username
        self._password = password
        self.callback_base = callback_base.rstrip("/")
        self._token = urllib.parse.quote(callback_token, safe="")
        self.sender = sender
        self.timeout_s = timeout_s

    def send(self, notice: Notice) -> str:
        query = {"username": self._username, "password": self._password,
                 "to": notice.recipient, "text": notice.body, "charset": "UTF-8",
                 "coding": "0" if notice.body.isascii() else "2", "dlr-mask": str(DLR_MASK),
                 "dlr-url": f"{self.callback_base}/sms/dlr?notice={notice.notice_id}"
                            f"&token={self._token}&status=%d&answer=%A"}
        if self.sender:
            query["from"] = self.sender
        url = f"{self.sendsms_url}?{urllib.parse.urlencode(query)}"
        try:
            with urllib.request.urlopen(url, timeout=self.timeout_s) as response:
                answer = response.read(200).decode("utf-8", "replace").strip()
        except urllib.error.HTTPError as exc:
            exc.close()  # it holds the response's socket
            raise http_error(exc.code, "kannel sendsms") from exc
        except (urllib.error.URLError, OSError) as exc:
            raise NotifyError(f"kannel unreachable: {exc}", retryable=True) from exc
        if not answer.startswith(("0:", "3:")):  # "0: Accepted", "3: Queued for later"
            raise NotifyError(f"kannel refused: {answer[:80]}", retryable=False)
        return str(answer[:80])
