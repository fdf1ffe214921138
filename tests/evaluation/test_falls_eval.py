"""The fall evaluation on a small subset of the real data (the full run is the command)."""

from __future__ import annotations

import json
import subprocess
import sys


def test_eval_falls_on_four_subjects_reports_a_json_summary() -> None:
    done = subprocess.run([sys.executable, "-m", "eldercare_cli.main", "eval", "falls",
                           "--subjects", "4", "--json"], capture_output=True, text=True,
                          timeout=300, check=False)
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout.splitlines()[-1])
    assert set(summary) == {"sensitivity", "specificity", "false_alarms_per_hour",
                            "delay_ms_p50", "position"}
    # Leave-one-subject-out on 4 subjects: most falls caught, few false alarms.
    assert summary["sensitivity"] >= 0.8
    assert summary["specificity"] >= 0.9
    assert 1500 <= summary["delay_ms_p50"] <= 2500
    assert "| waist | random forest |" in done.stdout
