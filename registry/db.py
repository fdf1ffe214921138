"""The registry in the database: the embedded SQLite file by default, the shared
PostgreSQL of a several-node deployment. One row per record (a site, gateway, resident or
device, as its JSON), each stamped with the sequence number of the commit that last put or
removed it; a removed record stays as a row without a record, so that every process that
follows the sequence (``RegistryFollower``) hears of removals too. Writers are one at a
time, so sequence order is commit order and a reader that has seen number N has seen
everything before it.

The YAML file is import (``import_file``: the whole file checked, every problem listed,
nothing changed if any) and export (``export_file``).
"""

from __future__ import annotations

import contextlib
import enum
import logging
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import NamedTuple

import msgspec
import yaml

from registry.model import (
    KINDS,
    Change,
    Gateway,
    Record,
    Registry,
    RegistryError,
    RegistryFile,
    Resident,
    Site,
    decode,
    key_of,
    put,
)
from runtime.sql import Backend, StateError, connect

log = logging.getLogger(__name__)

SCHEMA = """
CREATE TABLE IF NOT EXISTS registry_records (
    kind TEXT NOT NULL,
    key TEXT NOT NULL,
    doc TEXT,
    seq INTEGER NOT NULL,
    pos INTEGER NOT NULL,
    site_id TEXT,
    floor TEXT,
    room TEXT,
    PRIMARY KEY (kind, key)
);
CREATE INDEX IF NOT EXISTS registry_records_seq ON registry_records (seq);
CREATE INDEX IF NOT EXISTS registry_records_place
    ON registry_records (kind, site_id, floor, room, key);
CREATE TABLE IF NOT EXISTS unpaired_devices (
    gateway_id TEXT NOT NULL,
    device_id TEXT NOT NULL,
    kinds TEXT NOT NULL,
    battery REAL,
    first_ms INTEGER NOT NULL,
    last_ms INTEGER NOT NULL,
    readings INTEGER NOT NULL,
    PRIMARY KEY (gateway_id, device_id)
);
CREATE TABLE IF NOT EXISTS discharged (
    resident_id TEXT PRIMARY KEY,
    site_id TEXT NOT NULL,
    discharged_ms INTEGER NOT NULL,
    erased_ms INTEGER
);
"""
FOLLOW_EVERY_S = 1.0  # how often a process looks for changes another process made
MAX_SIGHTINGS = 10_000  # unknown devices gathered between two writes


class _SeededError(RegistryError):
    """Another process seeded the registry first."""


class RegistryStore:
    def __init__(self, location: Path | str, timeout_s: float | None = None) -> None:
        self._backend: Backend = connect(location, SCHEMA, [], timeout_s=timeout_s)
        self._lock = threading.RLock()

    def close(self) -> None:
        with self._lock:
            self._backend.close()

    def __enter__(self) -> RegistryStore:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    @contextlib.contextmanager
    def _transaction(self) -> Iterator[Backend]:
        """One commit on the connection, or none if anything raised in it."""
        with self._lock:
            self._backend.begin()
            committed = False
            try:
                yield self._backend
                committed = True
            finally:
                self._backend.end(commit=committed)

    # --- reading -----------------------------------------------------------------------

    def version(self) -> int:
        with self._lock:
            row = self._backend.execute("SELECT MAX(seq) FROM registry_records").fetchone()
        return 0 if row is None or row[0] is None else int(row[0])

    def empty(self) -> bool:
        with self._lock:
            row = self._backend.execute(
                "SELECT COUNT(*) FROM registry_records WHERE doc IS NOT NULL").fetchone()
        return row is None or int(row[0]) == 0

    def since(self, seq: int) -> tuple[list[Change], int]:
        """What was put or removed after sequence number ``seq``, in order, and the
        number it brings the reader to."""
        with self._lock:
            return self._since(seq)

    def load(self) -> Registry:
        """The whole registry, as of its latest commit."""
        with self._lock:
            rows = self._backend.execute(
                "SELECT kind, doc FROM registry_records WHERE doc IS NOT NULL ORDER BY pos"
            ).fetchall()
            version = self.version()
        by_kind: dict[str, list[object]] = {kind: [] for kind in KINDS}
        for kind, doc in rows:  # in the order they were enrolled (or the file's)
            by_kind[kind].append(msgspec.json.decode(doc))
        data = msgspec.convert({k + "s": v for k, v in by_kind.items()}, RegistryFile)
        registry = Registry(data)
        registry.version = version
        return registry

    def residents(self, sites: tuple[str, ...] = (), site_id: str | None = None,
                  floor: str | None = None, limit: int = 1000, offset: int = 0) -> Page:
        """Residents by site, floor and room (at ``sites`` only, if given), ``limit`` of
        them from ``offset``, and how many match: filtered and paged by the database."""
        clause, args = _where(["kind = 'resident'", "doc IS NOT NULL"], sites,
                              site_id=site_id, floor=floor)
        with self._lock:
            total = self._backend.execute(
                f"SELECT COUNT(*) FROM registry_records WHERE {clause}", tuple(args)).fetchone()
            rows = self._backend.execute(
                f"SELECT doc FROM registry_records WHERE {clause} "
                "ORDER BY site_id, floor, room, key LIMIT ? OFFSET ?",
                (*args, limit, offset)).fetchall()
        return Page([msgspec.json.decode(doc, type=Resident) for (doc,) in rows],
                    int(total[0]) if total else 0)

    def unpaired(self, registry: Registry, sites: tuple[str, ...] = ()) -> list[Sighting]:
        """Devices gateways have reported that the registry does not know (yet), the
        latest first; only at ``sites`` if given."""
        with self._lock:
            rows = self._backend.execute(
                "SELECT gateway_id, device_id, kinds, battery, first_ms, last_ms, readings "
                "FROM unpaired_devices ORDER BY last_ms DESC LIMIT 1000").fetchall()
        out = []
        for gateway_id, device_id, kinds, battery, first_ms, last_ms, readings in rows:
            gateway = registry.gateways.get(gateway_id)
            if gateway is None or registry.device(gateway_id, device_id) is not None \
                    or (sites and gateway.site_id not in sites):
                continue
            out.append(Sighting(gateway_id, device_id, tuple(kinds.split(",")),
                                battery, first_ms, last_ms, readings))
        return out

    def discharged(self, sites: tuple[str, ...] = (),
                   resident_id: str | None = None) -> list[Discharge]:
        """Residents discharged (at ``sites`` only, if given; one, if ``resident_id``),
        the latest first."""
        clause, args = _where([], sites, resident_id=resident_id)
        with self._lock:
            rows = self._backend.execute(
                "SELECT resident_id, site_id, discharged_ms, erased_ms FROM discharged "
                f"WHERE {clause} ORDER BY discharged_ms DESC LIMIT 1000",
                tuple(args)).fetchall()
        return [Discharge(r, s, int(d), None if e is None else int(e)) for r, s, d, e in rows]

    def erased(self, resident_id: str, t_ms: int) -> None:
        """A discharged resident's data was erased at ``t_ms``."""
        with self._lock:
            self._backend.execute("UPDATE discharged SET erased_ms = ? WHERE resident_id = ?",
                                  (t_ms, resident_id))

    # --- writing -----------------------------------------------------------------------

    def saw(self, sightings: list[Sighting]) -> None:
        """Unknown devices reported by known gateways (``Sightings``), merged into what
        was seen of them before."""
        if not sightings:
            return
        with self._transaction() as backend:
            for s in sightings:
                row = backend.execute(
                    "SELECT kinds, battery, first_ms, readings FROM unpaired_devices "
                    "WHERE gateway_id = ? AND device_id = ?",
                    (s.gateway_id, s.device_id)).fetchone()
                if row is not None:
                    kinds = sorted(set(row[0].split(",")) | set(s.kinds))
                    s = Sighting(s.gateway_id, s.device_id, tuple(kinds),
                                 s.battery if s.battery is not None else row[1],
                                 min(int(row[2]), s.first_ms), s.last_ms,
                                 int(row[3]) + s.readings)
                backend.execute(
                    "INSERT INTO unpaired_devices (gateway_id, device_id, kinds, battery, "
                    "first_ms, last_ms, readings) VALUES (?, ?, ?, ?, ?, ?, ?) "
                    "ON CONFLICT (gateway_id, device_id) DO UPDATE SET kinds = "
                    "excluded.kinds, battery = excluded.battery, first_ms = "
                    "excluded.first_ms, last_ms = excluded.last_ms, readings = "
                    "excluded.readings",
                    (s.gateway_id, s.device_id, ",".join(s.kinds), s.battery,
                     s.first_ms, s.last_ms, s.readings))

    def forget_unpaired(self, gateway_id: str, device_id: str) -> None:
        with self._lock:
            self._backend.execute("DELETE FROM unpaired_devices WHERE gateway_id = ? AND "
                                  "device_id = ?", (gateway_id, device_id))


    def write(self, changes: list[Change], current: Registry,
              discharged: tuple[str, str, int] | None = None) -> int:
        """Commit ``changes`` as one step, checked against the registry as the database
        has it (``current``, brought up to date first, in the same commit):
        ``RegistryError`` listing every problem, and nothing written. The new sequence
        number; ``current`` has the changes. ``discharged``: (resident, site, when) noted
        in the same commit, for a data-protection erase after the retention period."""
        def check(seq: int) -> None:
            behind, _ = self._since(current.version)
            if behind:
                current.apply(behind, seq - 1)
            current.changed(changes)  # raises before anything is written
            if discharged is not None:
                self._backend.execute(
                    "INSERT INTO discharged (resident_id, site_id, discharged_ms) "
                    "VALUES (?, ?, ?) ON CONFLICT (resident_id) DO UPDATE SET site_id = "
                    "excluded.site_id, discharged_ms = excluded.discharged_ms, "
                    "erased_ms = NULL", discharged)
        seq = self._commit(changes, check)
        current.apply(changes, seq)
        return seq

    def replace(self, data: RegistryFile, *, if_empty: bool = False) -> int:
        """The registry becomes ``data``, whole: every record put, every record not in it
        removed, in one commit (``RegistryError``: nothing changed). ``if_empty``: only if
        it has no record yet (several nodes starting together seed it once); else the
        version it is at."""
        wanted = Registry(data)  # checks the whole file, every problem listed
        records: list[Record] = [*wanted.orgs.values(), *wanted.sites.values(),
                                 *wanted.gateways.values(),
                                 *wanted.residents.values(), *wanted.devices.values()]
        keep = {key_of(r) for r in records}
        removed: list[Change] = []

        def gone(_: int) -> None:
            have = {(k, key) for k, key in self._backend.execute(
                "SELECT kind, key FROM registry_records WHERE doc IS NOT NULL").fetchall()}
            if if_empty and have:
                raise _SeededError
            removed.extend(Change(kind, key, None) for kind, key in sorted(have - keep))
        try:
            return self._commit([put(r) for r in records], gone, removed, in_order=True)
        except _SeededError:
            return self.version()

    def _since(self, seq: int) -> tuple[list[Change], int]:
        rows = self._backend.execute(
            "SELECT kind, key, doc, seq FROM registry_records WHERE seq > ? "
            "ORDER BY seq, kind, key", (seq,)).fetchall()
        changes = [Change(kind, key, None if doc is None else doc.encode())
                   for kind, key, doc, _ in rows]
        return changes, max([seq, *(int(r[3]) for r in rows)])

    def _commit(self, changes: list[Change], check: Callable[[int], None],
                more: list[Change] | None = None, *, in_order: bool = False) -> int:
        """One commit of ``changes`` (and ``more``, which ``check`` may fill), writers one
        at a time so that sequence order is commit order; ``check(seq)`` runs first,
        inside, and may refuse. A new record goes after the others (``in_order``: every
        record takes its place in ``changes``, a file's order)."""
        with self._transaction() as backend:
            if backend.name == "postgresql":
                backend.execute("LOCK TABLE registry_records IN SHARE ROW EXCLUSIVE MODE")
            row = backend.execute("SELECT MAX(seq), MAX(pos) FROM registry_records"
                                  ).fetchone()
            seq = (0 if row is None or row[0] is None else int(row[0])) + 1
            pos = 0 if in_order or row is None or row[1] is None else int(row[1]) + 1
            check(seq)
            # an update keeps its record's place, unless the file's order is given
            new_pos = ", pos = excluded.pos" if in_order else ""
            for change in [*changes, *(more or [])]:
                backend.execute(
                    "INSERT INTO registry_records (kind, key, doc, seq, pos, site_id, floor, "
                    "room) VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (kind, key) DO UPDATE "
                    "SET doc = excluded.doc, seq = excluded.seq, site_id = excluded.site_id, "
                    f"floor = excluded.floor, room = excluded.room{new_pos}",
                    (change.kind, change.key,
                     None if change.doc is None else change.doc.decode(), seq, pos,
                     *_place(change)))
                pos += 1
        return seq


def _place(change: Change) -> tuple[str | None, str | None, str | None]:
    """Where a record is (site, floor, room), kept beside its JSON so that the desk's
    lists are filtered, sorted and paged by the database."""
    if change.doc is None or change.kind not in ("resident", "site", "gateway"):
        return None, None, None
    record = decode(change)
    if isinstance(record, Resident):
        return record.site_id, record.floor, record.room
    if isinstance(record, Site | Gateway):
        return record.site_id, None, None
    return None, None, None


def _where(conditions: list[str], sites: tuple[str, ...],
           **equal: str | None) -> tuple[str, list[object]]:
    """An SQL condition: ``conditions``, at one of ``sites`` (if any), and each column of
    ``equal`` given a value equal to it; with its arguments."""
    where, args = list(conditions), list[object]()
    if sites:
        where.append(f"site_id IN ({', '.join('?' * len(sites))})")
        args.extend(sites)
    for column, value in equal.items():
        if value is not None:
            where.append(f"{column} = ?")
            args.append(value)
    return " AND ".join(where) or "1 = 1", args


class Discharge(NamedTuple):
    """A resident discharged: where from, when, and whether their data was erased."""

    resident_id: str
    site_id: str
    discharged_ms: int
    erased_ms: int | None


class Page(NamedTuple):
    """One page of a list, and how many there are in all."""

    residents: list[Resident]
    total: int


def _lean(value: object) -> object:
    """Plain data for YAML, each record without the fields left at their defaults (an
    exported file reads as the hand-written one does)."""
    if isinstance(value, msgspec.Struct):
        out: dict[str, object] = {}
        for field in msgspec.structs.fields(value):
            v = getattr(value, field.name)
            default = field.default_factory() if field.default_factory is not msgspec.NODEFAULT \
                else field.default
            if default is msgspec.NODEFAULT or v != default:
                out[field.encode_name] = _lean(v)
        return out
    if isinstance(value, list | tuple):
        return [_lean(v) for v in value]
    if isinstance(value, dict):
        return {k: _lean(v) for k, v in value.items()}
    if isinstance(value, enum.Enum):
        return value.value
    return value


def read_file(path: Path) -> RegistryFile:
    """A registry YAML file, every problem of it listed (``RegistryError``)."""
    try:
        raw = yaml.safe_load(path.read_text())
        data = msgspec.convert(raw, RegistryFile)
    except OSError as exc:
        raise RegistryError(f"cannot read {path}: {exc}") from exc
    except (yaml.YAMLError, msgspec.ValidationError) as exc:
        raise RegistryError(f"{path}: {exc}") from exc
    Registry(data)  # every inconsistency, each named
    return data


def open_registry(store: RegistryStore, seed: Path) -> Registry:
    """The registry in the database; the first time, the YAML file ``seed`` imported into
    it. After that the database's is the registry: a file that differs is named in a
    warning, not read (``eldercare registry import`` replaces the registry by a file)."""
    if store.empty():
        seq = store.replace(read_file(seed), if_empty=True)
        log.info("registry: %s seeded the database (version %d)", seed, seq)
        return store.load()
    registry = store.load()
    try:
        if read_file(seed) != registry.to_file():
            log.warning("registry: %s differs from the registry in the database, which is "
                        "used; 'eldercare registry import' makes the file the registry", seed)
    except RegistryError:
        pass  # a file that is not a sound registry is not what runs either
    return registry


def import_file(store: RegistryStore, path: Path) -> int:
    """Replace the registry by the file's (checked whole first). The new sequence number."""
    return store.replace(read_file(path))


def export_file(store: RegistryStore, path: Path | None = None) -> str:
    """The registry as YAML (written to ``path`` if given)."""
    registry = store.load()
    text: str = yaml.safe_dump(_lean(registry.to_file()), sort_keys=False,
                               allow_unicode=True)
    if path is not None:
        path.write_text(text)
    return text


class Sighting(NamedTuple):
    """What a gateway has reported of a device the registry does not know."""

    gateway_id: str
    device_id: str
    kinds: tuple[str, ...]
    battery: float | None
    first_ms: int
    last_ms: int
    readings: int


class Sightings:
    """Unknown devices' readings as the intake refuses them, gathered in memory (at most
    ``MAX_SIGHTINGS`` devices between two flushes; the rest counted as dropped) for the
    follower to write once a second: the intake never waits on the database for them."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._seen: dict[tuple[str, str], Sighting] = {}
        self.dropped = 0

    def note(self, gateway_id: str, device_id: str, kind: str, value: float,
             t_ms: int) -> None:
        key = (gateway_id, device_id)
        with self._lock:
            was = self._seen.get(key)
            if was is None and len(self._seen) >= MAX_SIGHTINGS:
                self.dropped += 1
                return
            battery = value if kind == "battery" else None
            self._seen[key] = Sighting(gateway_id, device_id, (kind,), battery, t_ms, t_ms,
                                       1) if was is None else Sighting(
                gateway_id, device_id, tuple(sorted({*was.kinds, kind})),
                battery if battery is not None else was.battery, min(was.first_ms, t_ms),
                max(was.last_ms, t_ms), was.readings + 1)

    def drain(self) -> list[Sighting]:
        with self._lock:
            out, self._seen = list(self._seen.values()), {}
        return out


class RegistryFollower(threading.Thread):
    """Keeps a process's in-memory registry up to date with the database: every
    ``every_s``, what changed since it last looked is applied, record by record (a change
    this process's registry refuses is counted and logged, and the registry is read whole
    again). ``on_change`` is told whenever the registry has moved on since it was last
    told: by another process's change, or by one this process wrote itself."""

    def __init__(self, store: RegistryStore, registry: Registry,
                 on_change: Callable[[], object] = lambda: None,
                 every_s: float = FOLLOW_EVERY_S, sightings: Sightings | None = None) -> None:
        """``sightings``: unknown devices the intake reported, written each round."""
        super().__init__(name="registry-follower", daemon=True)
        self.store = store
        self.registry = registry
        self.sightings = sightings
        self.on_change = on_change
        self.every_s = every_s
        self.applied = 0
        self.refused = 0
        self.store_errors = 0
        self._told = registry.version
        self._stopping = threading.Event()

    def follow_once(self) -> int:
        """Apply what changed since the registry's version (and write the unknown devices
        reported meanwhile); how many records changed."""
        if self.sightings is not None:
            seen = self.sightings.drain()
            try:
                self.store.saw(seen)
            except StateError:
                self.sightings.dropped += len(seen)
                raise
        changes, seq = self.store.since(self.registry.version)
        if changes:
            try:
                self.registry.apply(changes, seq)
                self.applied += len(changes)
            except RegistryError as exc:  # not sound here: read it whole again
                self.refused += 1
                log.error("registry change to %d refused here (%s): reading it whole",
                          seq, exc)
                self.registry.replace_with(self.store.load())
        if self.registry.version != self._told:
            self._told = self.registry.version
            try:
                self.on_change()
            except Exception:  # a listener's bug must not stop the follower
                log.exception("registry change listener failed")
        return len(changes)

    def run(self) -> None:
        while not self._stopping.wait(self.every_s):
            try:
                self.follow_once()
            except StateError as exc:
                self.store_errors += 1
                log.warning("registry follower: the database is away: %s", exc)

    def stop(self) -> None:
        self._stopping.set()
        if self.ident is not None:
            self.join(5)
