"""``eldercare bench response``, test-sized: a month of a 10-bed care home and 50 homes
answered by the scripted desk; the report read through the API matches the script."""

from __future__ import annotations

from bench import response


def test_a_scripted_month_is_reported_as_scripted() -> None:
    result = response.run(beds=10, homes=50, alarms_per_resident=2.0, report_reads=3)
    assert response.checks(result) == []
    assert result["alarms"] == result["alarms_scripted"] > 50
    assert result["non_arrivals"] > 0 and result["ack_timeouts"] > 0
    assert result["cannot_come"] > 0
    assert result["arrived"] == result["alarms"]  # every alarm ended with someone there
    assert result["responder_sms"] == result["dispatched"]
