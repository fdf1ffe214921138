"""The registry in the database, on SQLite and on a real PostgreSQL: the YAML file in and
out unchanged, a file with errors refused whole with every error named, a change made by
one process reaching another's registry record by record (a paired device's readings are
then accepted there), a change that would break the registry refused with nothing
written, and writers at once on PostgreSQL each seen once, in commit order."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import msgspec
import pytest
import yaml

from firmware_stubs.site_registry import registry_data
from ingest.accept import Acceptor
from ingest.dedup import Dedup
from registry import SAMPLE, Device, Resident, load
from registry.db import (
    RegistryFollower,
    RegistryStore,
    export_file,
    import_file,
    open_registry,
    read_file,
)
from registry.model import Change, RegistryError, device_key, put
from telemetry import codec, topics
from telemetry.kinds import FallStatus, Kind, unit_of
from telemetry.reading import Reading
from telemetry.refusal import Refusal
from telemetry.topics import Channel
from tests.support.readings import T0


@pytest.fixture(params=["sqlite", "postgresql"])
def location(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Path | str]:
    yield tmp_path / "registry.db" if request.param == "sqlite" \
        else request.getfixturevalue("fresh_database")


def _stores(location: Path | str, n: int) -> list[RegistryStore]:
    return [RegistryStore(location) for _ in range(n)]


def test_the_sample_and_a_generated_registry_round_trip_through_the_database(
        location: Path | str, tmp_path: Path) -> None:
    generated = tmp_path / "generated.yaml"
    generated.write_text(yaml.safe_dump(registry_data(40, seed=3)))
    with RegistryStore(location) as store:
        for original in (SAMPLE, generated):
            import_file(store, original)
            out = tmp_path / "out.yaml"
            text = export_file(store, out)
            assert read_file(out) == read_file(original)  # every record, in the file's order
            import_file(store, out)
            assert export_file(store) == text  # and again: the same text
        assert store.load().to_file() == read_file(generated)  # the sample's records gone


def test_a_file_with_errors_is_refused_whole_with_every_error_named(
        location: Path | str, tmp_path: Path) -> None:
    bad = yaml.safe_load(SAMPLE.read_text())
    bad["gateways"].append({"gateway_id": "gw-00009", "site_id": "site-404"})
    bad["devices"].append({"device_id": "pir-x", "gateway_id": "gw-00404",
                           "resident_id": "res-00000"})
    bad["devices"].append({"device_id": "pir-y", "gateway_id": "gw-00000",
                           "resident_id": "res-00404"})
    bad["residents"].append(dict(bad["residents"][0]))  # res-00000 twice
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(bad))
    with RegistryStore(location) as store:
        import_file(store, SAMPLE)
        before = (store.version(), export_file(store))
        with pytest.raises(RegistryError) as refused:
            import_file(store, path)
        message = str(refused.value)
        for named in ("resident res-00000 appears twice", "unknown site site-404",
                      "unknown gateway gw-00404", "unknown resident res-00404"):
            assert named in message
        assert (store.version(), export_file(store)) == before  # nothing changed


def _fall_from(device: Device, site_id: str) -> tuple[str, bytes]:
    fall = Reading(site_id, device.gateway_id, device.device_id, Kind.FALL,
                   float(FallStatus.FALL), unit_of(Kind.FALL), T0, T0, 1)
    return (topics.central(device.gateway_id, Channel.URGENT),
            codec.encode(device.gateway_id, site_id, T0, [fall]))


def test_a_device_paired_in_one_process_is_accepted_in_another_without_a_restart(
        location: Path | str) -> None:
    desk, node = _stores(location, 2)
    try:
        import_file(desk, SAMPLE)
        at_desk, on_node = desk.load(), open_registry(node, SAMPLE)
        follower = RegistryFollower(node, on_node)
        acceptor = Acceptor(on_node, Dedup())
        radar = Device("radar-new", "gw-00001", "res-00001", "bathroom")
        refused = acceptor.readings(*_fall_from(radar, "site-000"), T0)
        assert [r.reason for r in refused.refused] == [Refusal.UNKNOWN_DEVICE]

        desk.write([put(radar)], at_desk)  # paired on the desk
        assert follower.follow_once() == 1
        accepted = acceptor.readings(*_fall_from(radar, "site-000"), T0)
        assert [r.resident_id for r in accepted.readings] == ["res-00001"]
        assert on_node.device("gw-00001", "radar-new") == radar

        desk.write([Change("device", device_key("gw-00001", "radar-new"), None)], at_desk)
        follower.follow_once()  # removed: its readings are refused again
        assert on_node.device("gw-00001", "radar-new") is None
        assert on_node.version == desk.version()
    finally:
        desk.close()
        node.close()


def test_a_change_that_would_break_the_registry_is_refused_and_nothing_written(
        location: Path | str) -> None:
    with RegistryStore(location) as store:
        import_file(store, SAMPLE)
        registry = store.load()
        version = store.version()
        orphan = Device("pir-z", "gw-00000", "res-00404")
        with pytest.raises(RegistryError, match="unknown resident res-00404"):
            store.write([put(orphan)], registry)
        with pytest.raises(RegistryError, match="unknown gateway"):  # devices still behind it
            store.write([Change("gateway", "gw-00000", None)], registry)
        with pytest.raises(RegistryError, match="says"):  # a record under another's key
            store.write([Change("resident", "res-00000", msgspec.json.encode(
                registry.residents["res-00001"]))], registry)
        assert store.version() == version
        assert store.load().to_file() == load(SAMPLE).to_file()


def test_writers_at_once_are_each_seen_once_in_commit_order(fresh_database: str) -> None:
    """Two desks on two nodes admitting residents at the same moment: every change gets
    its own sequence number, in commit order, so a follower misses none."""
    first, *writers = _stores(fresh_database, 4)
    import_file(first, SAMPLE)
    follower_store = RegistryStore(fresh_database)
    following = follower_store.load()
    follower = RegistryFollower(follower_store, following)
    errors: list[BaseException] = []

    def admit(store: RegistryStore, who: int) -> None:
        registry = store.load()
        try:
            for i in range(15):
                store.write([put(Resident(f"res-9{who}{i:02d}", "site-001", f"flat-{i}",
                                          f"Test Resident {who}-{i}"))], registry)
                follower.follow_once()
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=admit, args=(s, n)) for n, s in enumerate(writers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    follower.follow_once()
    assert errors == []
    admitted = {r for r in following.residents if r.startswith("res-9")}
    assert len(admitted) == 45 and following.version == first.version()
    assert follower.refused == 0
    for store in [first, *writers, follower_store]:
        store.close()


def test_nodes_starting_together_seed_the_registry_once(fresh_database: str) -> None:
    stores = _stores(fresh_database, 3)
    opened: list[int] = []

    def start(store: RegistryStore) -> None:
        opened.append(open_registry(store, SAMPLE).version)

    threads = [threading.Thread(target=start, args=(s,)) for s in stores]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert opened == [1, 1, 1]  # one commit seeded it; the others found it there
    for store in stores:
        store.close()


def test_a_batch_read_before_this_process_s_own_write_does_not_undo_it(
        location: Path | str) -> None:
    """The follower read changes up to N while this process wrote N+1 and applied it:
    the follower's older batch, applied late, is skipped (it would put back the record
    as it was before the write)."""
    desk, other = _stores(location, 2)
    try:
        import_file(desk, SAMPLE)
        registry = desk.load()
        follower = RegistryFollower(desk, registry)
        other.write([put(Device("pir-a", "gw-00000", "res-00000", "hall"))], other.load())
        stale, seq = desk.since(registry.version)  # read by the follower ...
        desk.write([put(Device("pir-a", "gw-00000", "res-00000", "living"))], registry)
        registry.apply(stale, seq)  # ... applied after the desk's own write went in
        assert registry.device("gw-00000", "pir-a").room == "living"  # type: ignore[union-attr]
        follower.follow_once()
        assert registry.device("gw-00000", "pir-a").room == "living"  # type: ignore[union-attr]
        assert registry.version == desk.version()
    finally:
        desk.close()
        other.close()
