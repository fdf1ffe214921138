"""``telemetry`` is the message model only: no thread, socket, HTTP server or file read
(those are the runtime's), so an import of it costs nothing and does nothing."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "telemetry"
FORBIDDEN = {
    "thread": re.compile(r"\bThread\(|\bTimer\(|\bconcurrent\.futures\b"),  # a lock is no thread
    "socket": re.compile(r"\bimport (socket|ssl|socketserver|select)\b|\bpaho\b"),
    "http server": re.compile(r"\bhttp\.server\b|\bwsgiref\b|\buvicorn\b|\bfastapi\b"),
    "file read": re.compile(r"\bopen\(|\.read_text\(|\.read_bytes\(|\bsqlite3\b"),
}


def offences(source: str) -> list[str]:
    return [what for what, pattern in FORBIDDEN.items() if pattern.search(source)]


def test_telemetry_has_no_thread_socket_server_or_file_read() -> None:
    found = {str(p.relative_to(PACKAGE)): offences(p.read_text())
             for p in sorted(PACKAGE.rglob("*.py"))}
    assert {k: v for k, v in found.items() if v} == {}


@pytest.mark.parametrize("line", ["threading.Thread(target=f)", "import socket",
                                  "from http.server import HTTPServer",
                                  "data = Path(x).read_text()"])
def test_the_check_catches_each(line: str) -> None:
    assert offences(line)
