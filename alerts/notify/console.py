"""The development notifier: prints each notice's channel and body to a stream."""

from __future__ import annotations

import sys
from typing import TextIO

from alerts.model import Notice


class ConsoleNotifier:
    def __init__(self, stream: TextIO | None = None) -> None:
        self._stream = stream or sys.stdout

    def send(self, notice: Notice) -> str:
        print(f"[notice {notice.notice_id} {notice.channel}] {notice.body}", file=self._stream,
              flush=True)
        return "console"
