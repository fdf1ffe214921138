"""The desk's API says what it does: schemathesis generates requests for every operation of
``/openapi.json`` (signed in as an admin, with the CSRF header; signing out comes last) and
checks each answer: no server error, a documented status code, a body that matches the
documented schema, schema-valid requests accepted."""

from __future__ import annotations

import os
from pathlib import Path

import schemathesis
from hypothesis import HealthCheck, given, settings

from tests.dashboard.test_api import Desk

EXCLUDED = "/api/events"  # a never-ending event stream (tested in test_api and the browser)
LAST = "/api/logout"  # ends the session the others run in
EXAMPLES = int(os.environ.get("ELDERCARE_SCHEMA_EXAMPLES", "25"))  # per operation


def test_every_operation_answers_as_documented(tmp_path: Path) -> None:
    desk = Desk(tmp_path)
    try:
        desk.fall()
        headers = desk.login("admin")
        headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in desk.client.cookies.items())
        schema = schemathesis.openapi.from_asgi("/openapi.json", desk.client.app)
        failures: list[str] = []
        operations = 0
        calls = [0]
        every = [result.ok() for result in schema.get_all_operations()]
        for operation in sorted(every, key=lambda op: op.path == LAST):
            if operation.path == EXCLUDED:
                continue
            operations += 1

            @settings(max_examples=EXAMPLES, deadline=None, database=None,
                      suppress_health_check=list(HealthCheck))
            @given(case=operation.as_strategy())
            def check(case: schemathesis.Case) -> None:
                calls[0] += 1
                case.call_and_validate(headers=headers)

            try:
                check()
            except (Exception, BaseExceptionGroup) as exc:  # every operation's, then all
                failures.append(f"{operation.method.upper()} {operation.path}: "
                                + "\n".join(str(exc).splitlines()[:12]))
        assert operations >= 15 and calls[0] >= 10 * operations, (operations, calls)
        assert failures == [], "\n\n".join(failures)
    finally:
        desk.client.close()
        desk.store.close()
        desk.accounts.close()
        desk.db.close()
        desk.registry_db.close()
