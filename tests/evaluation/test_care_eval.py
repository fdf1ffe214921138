"""``eldercare eval care``: on a quick scripted run every scripted miss (a visit made after
its grace period, a check-in forgotten, a round with a room not looked in on) is raised
once, nothing else, and the register's visit rate and rounds on time are the script's."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path


def test_eval_care_quick_run_raises_each_scripted_miss_once(tmp_path: Path) -> None:
    done = subprocess.run([sys.executable, "-m", "eldercare_cli.main", "eval", "care",
                           "--quick", "--json", "--report", str(tmp_path / "E.md")],
                          capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stderr
    s = json.loads(done.stdout.splitlines()[-1])
    assert s["scripted_misses"] >= 20
    assert s["raised_once"] == s["scripted_misses"], s
    assert (s["raised_twice"], s["raised_unscripted"]) == (0, 0), s["unscripted"]
    assert s["visit_rate_month"] == s["visit_rate_month_truth"] > 0
    assert s["rounds_on_time"] == s["rounds_on_time_truth"] < s["rounds_due"]
    # each late visit's visitor reminded once when it fell due; nobody else
    assert s["reminders_once"] == s["reminders_scripted"] > 0
    assert s["reminders_unscripted"] == 0
    for miss in ("visit_overdue", "checkin_missed", "round_missed"):
        assert f"| {miss} |" in done.stdout
    assert not (tmp_path / "E.md").exists()  # a quick run is not stored
