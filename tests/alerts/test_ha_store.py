"""The alert store on a PostgreSQL that survives its primary (Patroni 3.0, a synchronous
standby, a 3-member etcd, all real, on loopback ports): every alert the primary
acknowledged is on the standby it promotes, and a store on the multi-host address
carries on by itself once the new primary answers, refusing writes meanwhile."""

from __future__ import annotations

import pytest

from alerts.model import Condition, Severity
from alerts.store import AlertStore, StateError
from harness.ha_postgres import HAPostgres
from harness.process import wait_ready

pytestmark = pytest.mark.integration


def test_what_the_primary_acknowledged_survives_its_death() -> None:
    with HAPostgres() as ha:
        store = AlertStore(ha.create_database("eldercare"))
        try:
            opened = {store.alerts.open(Condition.FALL, f"res-{k:05d}", "site-000",
                                        "gw-00000", "pendant", Severity.CRITICAL, 1_000 + k,
                                        False, "fall") for k in range(20)}
            old = ha.kill_primary()  # right after the last commit was acknowledged
            with pytest.raises(StateError):  # no primary yet: a write is refused, not lost
                store.alerts.open(Condition.FALL, "res-09999", "site-000", "gw-00000",
                                  "pendant", Severity.CRITICAL, 2_000, False, "fall")
            assert ha.wait_new_primary(old) < 15
            found: set[int] = set()

            def read() -> bool:
                try:
                    found.update(a.alert_id for a in store.alerts.find(limit=100))
                except StateError:
                    return False
                return True

            wait_ready(read, "the store on the new primary", 30)
            assert found == opened
            store.alerts.open(Condition.SOS, "res-00001", "site-000", "gw-00000", "button",
                              Severity.CRITICAL, 3_000, False, "sos")  # and writes again
        finally:
            store.close()
