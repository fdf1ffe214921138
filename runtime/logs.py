"""One log line format for every eldercare process: a JSON object per line on stderr.

``{"t": "2026-11-26T16:55:02.123Z", "level": "warning", "process": "ingest",
"logger": "ingest.store.spool", "msg": "...", "exc": "..."}`` (``exc`` only with a
traceback). A journal, a log shipper or ``jq`` reads it as it is. What goes into ``msg`` is
the code's business: ids (gateway, device, alert, notice), never a resident's name, a phone
number or a medical note; ``tests/test_logs.py`` scans a whole demo run for them.

Hand-written on the standard library's ``logging.Formatter`` and ``json``: a formatter is a
few lines, and a dependency for it would be one more thing on every gateway.
"""

from __future__ import annotations

import json
import logging
import sys
import threading
import time
from types import TracebackType
from typing import TextIO

LEVEL_NAMES = {logging.DEBUG: "debug", logging.INFO: "info", logging.WARNING: "warning",
               logging.ERROR: "error", logging.CRITICAL: "critical"}


class JsonFormatter(logging.Formatter):
    def __init__(self, process: str) -> None:
        super().__init__()
        self.process = process

    def format(self, record: logging.LogRecord) -> str:
        seconds = int(record.created)
        line: dict[str, object] = {
            "t": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds))
            + f".{int(record.msecs):03d}Z",
            "level": LEVEL_NAMES.get(record.levelno, record.levelname.lower()),
            "process": self.process, "logger": record.name, "msg": record.getMessage()}
        if record.exc_info:
            line["exc"] = self.formatException(record.exc_info)
        return json.dumps(line, ensure_ascii=False)


def setup(process: str, level: int = logging.INFO, stream: TextIO | None = None) -> None:
    """Send every logger's records at ``level`` and above to ``stream`` (stderr), one JSON
    object per line; replaces whatever handlers the root logger had."""
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(JsonFormatter(process))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    logging.captureWarnings(True)  # Python's warnings as log lines too
    crash = logging.getLogger("eldercare.crash")

    def thread_died(args: threading.ExceptHookArgs) -> None:
        if args.exc_type is SystemExit:
            return
        name = args.thread.name if args.thread is not None else "?"
        crash.critical("thread %s died", name,
                       exc_info=(args.exc_type, args.exc_value or args.exc_type(),
                                 args.exc_traceback))

    def process_died(kind: type[BaseException], value: BaseException,
                     tb: TracebackType | None) -> None:
        crash.critical("unhandled %s", kind.__name__, exc_info=(kind, value, tb))

    threading.excepthook = thread_died
    sys.excepthook = process_died
