"""``eldercare demo``: one command, the whole system; it prints a URL and a fresh login, and
the first incidents reach the duty desk's API within the first two minutes."""

from __future__ import annotations

import re
import signal
import subprocess
import sys
import threading
from pathlib import Path

import httpx2 as httpx
import pytest

from broker_config.local import free_port
from tests.support.wait import wait_until

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.integration
@pytest.mark.parametrize("broker", ["mosquitto", "embedded"])
def test_demo_serves_the_desk_and_the_first_incidents_arrive(tmp_path: Path,
                                                             broker: str) -> None:
    port = free_port()
    # speed 2: the scripted two minutes take one
    proc = subprocess.Popen([sys.executable, "-m", "eldercare_cli.main", "demo", "--port",
                             str(port), "--speed", "2", "--duration", "300", "--data",
                             str(tmp_path), "--broker", broker], cwd=ROOT, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(iter(proc.stdout.readline, "")),
                              daemon=True)  # type: ignore[union-attr]
    reader.start()
    try:
        wait_until(lambda: any("sign in:" in line for line in lines), 60, "the login line")
        text = "".join(lines)
        url = re.search(r"duty desk:\s+(\S+)", text)
        login = re.search(r"sign in:\s+(\S+) / (\S+)", text)
        assert url and login and url.group(1) == f"http://127.0.0.1:{port}/"
        with httpx.Client(base_url=url.group(1)) as client:
            assert client.get("/api/alerts").status_code == 401
            signed = client.post("/api/login", json={"username": login.group(1),
                                                     "password": login.group(2)})
            assert signed.status_code == 200

            def conditions() -> set[str]:
                return {a["condition"] for a in client.get("/api/alerts").json()}

            wait_until(lambda: {"fall", "night_wandering", "spo2_low"} <= conditions(), 90,
                       "the first incidents on the desk")
            rooms = client.get("/api/residents").json()
            assert len(rooms) == 24 and {r["site_id"] for r in rooms} == \
                {"site-000", "site-001"}
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(30)
        reader.join(5)
        proc.stdout.close()  # type: ignore[union-attr]
    assert proc.returncode == 0, "".join(lines)[-2000:]
