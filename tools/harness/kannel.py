"""A local Kannel SMS gateway for tests, benchmarks and demos: ``bearerbox`` + ``smsbox``
with ``fakesmsc`` from kannel-extras playing the operator's SMSC, on free loopback ports,
stopped by PID. (A deployment runs Kannel as a system service against a real SMSC.)

``messages()`` reads what reached the SMSC (fakesmsc prints every message it gets);
``reply()`` makes a phone send an SMS back, which Kannel hands to the ``get-url``.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import urllib.parse
from pathlib import Path
from typing import NamedTuple

from harness import process
from harness.process import ServiceError, free_port

FAKESMSC = "/usr/lib/kannel/test/fakesmsc"
SHORTCODE = "95000"


class Sms(NamedTuple):
    sender: str
    to: str
    text: str


def reply_url(callback_port: int, token: str) -> str:
    """Kannel's sms-service ``get-url`` for our callback server on this host."""
    return (f"http://127.0.0.1:{callback_port}/sms/reply?from=%p&text=%a"
            f"&token={urllib.parse.quote(token, safe='')}")


def _bytes(url_encoded: str) -> bytes:
    return urllib.parse.unquote_to_bytes(url_encoded.replace("+", "%20"))


def kannel_available() -> bool:
    return bool(shutil.which("bearerbox") and shutil.which("smsbox")
                and os.access(FAKESMSC, os.X_OK))


class LocalKannel:
    def __init__(self, get_url: str) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="kannel-"))
        self.admin_port, self.box_port, self.smsc_port, self.sendsms_port = \
            (free_port() for _ in range(4))
        self.username, self.password = "eldercare", "test-only-password"
        self.sendsms_url = f"http://127.0.0.1:{self.sendsms_port}/cgi-bin/sendsms"
        self.conf = self.dir / "kannel.conf"
        self.conf.write_text(f"""
group = core
admin-port = {self.admin_port}
admin-interface = 127.0.0.1
admin-password = test-only-admin
smsbox-port = {self.box_port}
smsbox-interface = 127.0.0.1
box-allow-ip = 127.0.0.1
log-file = "{self.dir}/bearerbox.log"
log-level = 1
dlr-storage = internal

group = smsc
smsc = fake
smsc-id = fake
port = {self.smsc_port}
our-host = 127.0.0.1
connect-allow-ip = 127.0.0.1

group = smsbox
bearerbox-host = 127.0.0.1
bearerbox-port = {self.box_port}
sendsms-port = {self.sendsms_port}
sendsms-interface = 127.0.0.1
global-sender = {SHORTCODE}
log-file = "{self.dir}/smsbox.log"
log-level = 1

group = sendsms-user
username = {self.username}
password = {self.password}
max-messages = 5
concatenation = true

group = sms-service
keyword = default
catch-all = true
max-messages = 1
omit-empty = true
accept-x-kannel-headers = true
get-url = "{get_url}"
""")
        self._procs: dict[str, subprocess.Popen[bytes]] = {}
        self._smsc_logs: list[Path] = []

    def _spawn(self, name: str, argv: list[str], port: int | None = None) -> None:
        log = self.dir / f"{name}-{len(self._smsc_logs)}.out"
        if name == "fakesmsc":
            self._smsc_logs.append(log)
        self._procs[name] = proc = process.spawn(argv, log, cwd=self.dir)
        if port is not None:
            process.wait_ready(lambda: process.listening(port), name, 15.0, proc, log)

    def start(self) -> LocalKannel:
        if not kannel_available():
            raise ServiceError("Kannel is not installed: run scripts/setup.sh dev "
                               "(Debian kannel, kannel-extras)")
        self._spawn("bearerbox", ["bearerbox", str(self.conf)], self.smsc_port)
        self._start_smsc([])
        self.start_smsbox()
        return self

    def _start_smsc(self, mo: list[str]) -> None:
        argv = [FAKESMSC, "-H", "127.0.0.1", "-r", str(self.smsc_port), "-i", "0.05",
                "-m", str(len(mo))] + (mo or ["0 0 text none"])
        self._spawn("fakesmsc", argv)

    def start_smsbox(self) -> None:
        self._spawn("smsbox", ["smsbox", str(self.conf)], self.sendsms_port)

    def stop_smsbox(self) -> None:
        self._stop("smsbox")

    def reply(self, phone: str, text: str) -> None:
        """``phone`` sends ``text`` (one word) to our short code."""
        self._stop("fakesmsc")
        self._start_smsc([f"{phone} {SHORTCODE} text {text}"])

    def messages(self) -> list[Sms]:
        """Every SMS that reached the SMSC so far, decoded (concatenated parts joined)."""
        out = []
        parts: dict[tuple[str, str, int], dict[int, bytes]] = {}
        for path in self._smsc_logs:
            for line in path.read_text(errors="replace").splitlines():
                if "Got message" not in line or "<" not in line:
                    continue
                body = line[line.index("<") + 1: line.rindex(">")]
                sender, to, kind, data = body.split(" ", 3)
                if kind == "ucs-2":
                    text = _bytes(data).decode("utf-16-be")
                elif kind in ("udh", "udh-data"):  # one part of a long UCS-2 message
                    # "udh <udh> data <part>" (fakesmsc 1.4's log) or "udh-data <udh> <part>"
                    udh_text, data = data.split(" ", 1)
                    data = data.removeprefix("data ")
                    udh = _bytes(udh_text)  # 05 00 03 <ref> <total> <seq>
                    key = (sender, to, udh[3])
                    parts.setdefault(key, {})[udh[5]] = _bytes(data)
                    if len(parts[key]) < udh[4]:
                        continue
                    joined = b"".join(part for _, part in sorted(parts.pop(key).items()))
                    text = joined.decode("utf-16-be")
                else:
                    text = urllib.parse.unquote_plus(data)
                out.append(Sms(sender, to, text))
        return out

    def _stop(self, name: str) -> None:
        process.stop(self._procs.pop(name, None))

    def close(self) -> None:
        for name in ("smsbox", "fakesmsc", "bearerbox"):
            self._stop(name)
        shutil.rmtree(self.dir, ignore_errors=True)
