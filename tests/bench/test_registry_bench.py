"""The registry benchmark's test-sized variant (``eldercare bench registry`` runs 100,000
residents at 2,000 sites): the pages it times answer with what the registry holds, and a
change on one node reaches another's registry."""

from __future__ import annotations

import io

from bench.registry import city, run


def test_the_city_is_what_was_asked_for() -> None:
    data = city(residents=500, sites=20)
    assert (len(data.residents), len(data.sites), len(data.devices)) == (500, 20, 1000)
    per_site = {s.site_id: 0 for s in data.sites}
    for r in data.residents:
        per_site[r.site_id] += 1
    assert set(per_site.values()) == {25}


def test_a_small_registry_is_timed_through_the_api() -> None:
    result = run(residents=2_000, sites=40, reads=20, changes=2, open_alarms=20,
                 out=io.StringIO())
    assert (result["residents"], result["sites"]) == (2_000, 40)
    # the district supervisor sees its 10 streets' sites (here 10 of 40), the city's all 40
    assert result["supervisor_sites"] == [10, 40]
    assert result["list_api_ms_p99"] is not None and result["supervisor_api_ms_p99"] is not None
    assert 0 < result["change_to_node_s"] < 30
