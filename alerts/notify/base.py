"""Notifiers: one small plug-in per channel. Each delivers one notice or raises
``NotifyError`` saying whether a retry may help; none sleeps or retries by itself (the
dispatcher owns retries and backoff)."""

from __future__ import annotations

import http.client
from typing import Protocol

from alerts.errors import AlertsError
from alerts.model import Notice


class NotifyError(AlertsError):
    def __init__(self, message: str, *, retryable: bool) -> None:
        super().__init__(message)
        self.retryable = retryable


class Notifier(Protocol):
    def send(self, notice: Notice) -> str:
        """Deliver ``notice``; return the provider's reference (may be empty).

        Raises:
            NotifyError: not delivered; ``retryable`` says whether trying again may help.
        """
        ...


def http_error(status: int, what: str) -> NotifyError:
    """The one place HTTP statuses are classified: 408, 425, 429 and 5xx are worth a retry;
    any other 4xx will fail the same way again."""
    retryable = status >= 500 or status in (408, 425, 429)
    return NotifyError(f"{what} answered HTTP {status}", retryable=retryable)


def classify(exc: Exception, channel: str) -> NotifyError:
    """The one place any notifier failure is classified. ``NotifyError`` says it itself;
    a network or protocol failure (``OSError``, which covers urllib's, smtplib's and
    timeouts, and ``http.client.HTTPException``) may pass on a retry; anything else (a
    ``ValueError`` from a malformed address, a bug) would fail the same way again."""
    if isinstance(exc, NotifyError):
        return exc
    retryable = isinstance(exc, OSError | http.client.HTTPException)
    return NotifyError(f"{channel}: {type(exc).__name__}: {exc}", retryable=retryable)
