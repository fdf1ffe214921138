"""The fall evaluation on a small subset of the real data (the full run is the command)."""

from __future__ import annotations

import json
import subprocess
import sys


def test_eval_falls_on_both_sets_reports_a_json_summary() -> None:
    done = subprocess.run([sys.executable, "-m", "eldercare_cli.main", "eval", "falls",
                           "--subjects", "4", "--json"], capture_output=True, text=True,
                          timeout=300, check=False)
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout.splitlines()[-1])
    assert set(summary) == {"sensitivity", "specificity", "false_alarms_per_hour",
                            "false_alarms_per_hour_elders", "delay_ms_p50", "position",
                            "possible_fall_sensitivity", "falls_added", "prompts_per_hour",
                            "prompts_per_hour_elders"}
    # Leave-one-subject-out on 4 subjects per age group and set: most falls caught, few
    # false alarms, elders' ADLs scored apart. (The threshold holds the training subjects
    # to 0.1 alarms an hour of ADL: with few of them it is strict, 0.76 here against 0.94
    # on every subject.)
    assert summary["sensitivity"] >= 0.7
    assert summary["specificity"] >= 0.98
    assert 1500 <= summary["delay_ms_p50"] <= 2500
    assert "| UMAFall + SisFall | waist | random forest |" in done.stdout
    for position in ("chest", "waist", "wrist"):  # every position on the same trials
        assert f"| UMAFall | {position} | random forest |" in done.stdout
    assert "**stairs**" in done.stdout and "**sitting down fast**" in done.stdout
    assert summary["false_alarms_per_hour_elders"] >= 0
    # the possible-fall tier only adds: a fall alarmed stays alarmed
    assert summary["possible_fall_sensitivity"] >= summary["sensitivity"]
    assert summary["prompts_per_hour"] >= 0 and summary["falls_added"] >= 0
    assert "Possible-fall tier" in done.stdout
