"""The soak benchmark's test-sized variant (``eldercare bench soak`` runs the month): six
homes for four simulated days through the whole central process, real broker and SMS
gateway, restarted half-way; every fall and SOS reaches the desk's API and is texted,
nothing is lost or handed on twice, no SMS goes twice, the routines come back after the
restart, and the figures the benchmark reports are there."""

from __future__ import annotations

import io

import pytest

from bench.soak import run_soak


@pytest.mark.integration
def test_a_short_soak_loses_nothing_and_every_fall_reaches_the_desk() -> None:
    log = io.StringIO()
    result = run_soak(homes=6, days=4.0, incident_rate=1.0, out=log)
    # a row every half day (eight in a run this short), the last one as the run ends
    rows = [float(line.split()[1]) for line in log.getvalue().splitlines()
            if line.startswith("day")]
    assert rows[:7] == [0.5, 1.0, 1.5, 2.0, 2.5, 3.0, 3.5], rows
    assert result["falls_and_sos"] >= 1, result
    assert result["falls_and_sos_on_desk"] == result["falls_and_sos"], result
    assert result["falls_and_sos_texted"] == result["falls_and_sos"], result
    assert result["incidents"] >= 5 and result["incidents_on_desk"] >= result["incidents"] - 1
    assert result["lost"] == 0 and result["duplicated"] == 0
    assert result["duplicate_sms"] == 0 and result["sms_at_smsc"] == result["sms_sent"] > 0
    assert result["refused"] == {} and result["desk_resolved"] > 0
    assert result["open_alerts_api_ms_p99"] > 0
    # restarted half-way: every routine taken back, nothing refused
    assert result["restarted_at_day"] == 2.0, result
    assert result["routines_restored"] == 6 and result["snapshots_refused"] == 0, result
