"""E-mail over SMTP (STARTTLS when the server offers it and ``starttls`` is set)."""

from __future__ import annotations

import email.message
import smtplib

from alerts.model import Notice
from alerts.notify.base import NotifyError


class EmailNotifier:
    def __init__(self, host: str, port: int, sender: str, *, starttls: bool = False,
                 username: str = "", password: str = "", timeout_s: float = 10.0) -> None:
        self.host, self.port, self.sender = host, port, sender
        self.starttls = starttls
        self._username, self._password = username, password
        self.timeout_s = timeout_s

    def send(self, notice: Notice) -> str:
        message = email.message.EmailMessage()
        message["From"] = self.sender
        message["To"] = notice.recipient
        message["Subject"] = notice.subject
        message["Message-ID"] = f"<notice-{notice.notice_id}@eldercare>"
        message.set_content(notice.body)
        try:
            with smtplib.SMTP(self.host, self.port, timeout=self.timeout_s) as smtp:
                if self.starttls:
                    smtp.starttls()
                if self._username:
                    smtp.login(self._username, self._password)
                refused = smtp.send_message(message)
        except smtplib.SMTPResponseException as exc:
            raise NotifyError(f"smtp answered {exc.smtp_code}",
                              retryable=exc.smtp_code < 500) from exc
        except (smtplib.SMTPException, OSError) as exc:
            raise NotifyError(f"smtp unreachable: {exc}", retryable=True) from exc
        if refused:
            raise NotifyError("smtp refused the recipient", retryable=False)
        return str(message["Message-ID"])
