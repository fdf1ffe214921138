from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.dashboard.test_api import Desk


@pytest.fixture
def desk(tmp_path: Path) -> Iterator[Desk]:
    """The desk's API over a fresh alert store, accounts and readings store, fake clock."""
    d = Desk(tmp_path)
    yield d
    d.client.close()
    d.store.close()
    d.accounts.close()
    d.db.close()
