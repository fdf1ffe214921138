"""A data-protection erase of one subject (a resident discharged longer than the retention
period): their alarms stay, as anonymous counts for the reports (condition, site, times,
who answered, the outcome), but nothing that says who they were or what was written of
them: the subject becomes ``ERASED``, the alarm's detail and notes, the notices' texts and
recipients, the responders' names and phones are emptied; what the detectors learned of
them and their silences go; their visits stay as counts, without names or notes."""

from __future__ import annotations

from alerts.store.table import Table

ERASED = "erased"
_THEIRS = "alert_id IN (SELECT alert_id FROM alerts WHERE subject = ?)"


class Erasure(Table):
    def subject(self, subject: str) -> int | None:
        """Erase ``subject`` (call inside a transaction: all of it or nothing). How many
        alarms were anonymised; None (nothing changed) while one of them is unresolved."""
        if self._run("SELECT 1 FROM alerts WHERE subject = ? AND state != 'resolved'",
                     (subject,)).fetchone() is not None:
            return None
        self._run(f"UPDATE timeline SET detail = '' WHERE {_THEIRS}", (subject,))
        self._run(f"UPDATE notices SET recipient = '', subject = '', body = '', payload = '' "
                  f"WHERE {_THEIRS}", (subject,))
        self._run(f"UPDATE dispatches SET name = '', phone = '' WHERE {_THEIRS}", (subject,))
        self._run(f"DELETE FROM escalation WHERE {_THEIRS}", (subject,))
        self._run("DELETE FROM learned WHERE subject = ?", (subject,))
        self._run("DELETE FROM silences WHERE subject = ?", (subject,))
        # visits stay as counts for the visit rate: who made them and what they wrote go
        self._run("UPDATE care_visits SET resident_id = ?, visitor = '', note = '' "
                  "WHERE resident_id = ?", (ERASED, subject))
        self._run("DELETE FROM care_plans WHERE resident_id = ?", (subject,))
        self._run("DELETE FROM care_requests WHERE resident_id = ?", (subject,))
        return self._run("UPDATE alerts SET subject = ?, detail = '', note = '' "
                         "WHERE subject = ?", (ERASED, subject)).rowcount
