"""Every notifier through the same contract, against real receivers: it delivers, and it
says whether a failure is worth a retry without leaking a secret in the error."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from email import message_from_bytes
from email.message import Message
from typing import Any

import pytest
from aiosmtpd.controller import Controller

from alerts.model import Notice, NoticeState
from alerts.notify.base import Notifier, NotifyError
from alerts.notify.email import EmailNotifier
from alerts.notify.webhook import WebhookNotifier, signature
from harness.process import free_port
from tests.support.http_sink import HttpSink
from tests.support.webhook import receiver_accepts

SECRET = b"test-only-webhook-secret"


def notice(recipient: str, notice_id: int = 7) -> Notice:
    return Notice(notice_id, 3, 1, 0, "webhook", recipient, "zh", "疑似跌倒: Test Resident B",
                  "紧急救援 Test Resident B", '{"alert_id": 3}', NoticeState.SENDING, 0, 0, 0)


class _Mailbox:
    def __init__(self) -> None:
        self.messages: list[Message] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        self.messages.append(message_from_bytes(envelope.content))
        return "250 OK"


@pytest.fixture
def smtp() -> Iterator[tuple[_Mailbox, int]]:
    box = _Mailbox()
    port = free_port()
    controller = Controller(box, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield box, port
    finally:
        controller.stop()


def test_the_webhook_signature_matches_a_vector_computed_elsewhere() -> None:
    # printf '1767225600.{"alert_id": 3}' | openssl dgst -sha256 -hmac test-only-webhook-secret
    assert signature(SECRET, "1767225600", b'{"alert_id": 3}') == \
        "sha256=530f3dc7424865464c5a5f7628ff0d9861b35ee9903ceb5f8401662502f9a2de"


def test_webhook_signs_and_carries_an_idempotency_key() -> None:
    sink = HttpSink()
    try:
        WebhookNotifier(SECRET).send(notice(f"{sink.url}/rescue"))
        WebhookNotifier(SECRET).send(notice(f"{sink.url}/rescue"))  # a retry
    finally:
        sink.close()
    first, again = sink.requests
    assert first.body == b'{"alert_id": 3}'
    assert receiver_accepts(SECRET, first.headers, first.body)
    assert not receiver_accepts(b"another-secret-of-16-bytes", first.headers, first.body)
    assert not receiver_accepts(SECRET, first.headers, first.body + b" ")
    assert first.headers["Idempotency-Key"] == again.headers["Idempotency-Key"] \
        == "eldercare-notice-7"


@pytest.mark.parametrize(("status", "retryable"), [(500, True), (503, True), (429, True),
                                                   (400, False), (404, False)])
def test_webhook_errors_are_classified(status: int, retryable: bool) -> None:
    sink = HttpSink(status=status)
    try:
        with pytest.raises(NotifyError) as failure:
            WebhookNotifier(SECRET).send(notice(sink.url))
    finally:
        sink.close()
    assert failure.value.retryable is retryable


def test_email_reaches_the_smtp_server(smtp: tuple[_Mailbox, int]) -> None:
    box, port = smtp
    EmailNotifier("127.0.0.1", port, "alerts@example.invalid").send(
        notice("desk@example.invalid"))
    (message,) = box.messages
    assert message["To"] == "desk@example.invalid"
    assert str(message["Subject"]).startswith("=?utf-8?") or "Test Resident B" in \
        str(message["Subject"])
    payload = message.get_payload(decode=True)
    assert isinstance(payload, bytes) and "紧急救援" in payload.decode("utf-8")


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.parametrize("make", [
    lambda port: WebhookNotifier(SECRET),
    lambda port: EmailNotifier("127.0.0.1", port, "alerts@example.invalid", password="hunter2"),
])
def test_an_unreachable_receiver_is_retryable_and_leaks_no_secret(make: Any) -> None:
    port = _closed_port()
    notifier: Notifier = make(port)
    with pytest.raises(NotifyError) as failure:
        notifier.send(notice(f"http://127.0.0.1:{port}/rescue"))
    assert failure.value.retryable
    text = str(failure.value)
    assert SECRET.decode() not in text and "hunter2" not in text
