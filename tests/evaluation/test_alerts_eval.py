"""``eldercare eval alerts``: a quick labelled simulator run reports its JSON summary."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path


def test_eval_alerts_quick_run_reports_json(tmp_path: Path) -> None:
    done = subprocess.run([sys.executable, "-m", "eldercare_cli.main", "eval", "alerts",
                           "--quick", "--json", "--report", str(tmp_path / "E.md")],
                          capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout.splitlines()[-1])
    assert summary["incidents"] >= 3 and summary["detection_rate"] >= 0.8, summary["missed"]
    # life-safety events are never among the misses
    assert not any(m.startswith(("fall", "sos")) for m in summary["missed"])
    assert summary["normal_false_alarms_per_resident_day"] <= 1.0
    assert "| **all** |" in done.stdout
    assert not (tmp_path / "E.md").exists()  # a quick run is not stored
