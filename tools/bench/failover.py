"""``eldercare bench failover``: the alert core on several nodes, one killed -9 under load.

Three NATS nodes (the broker tier, with the partition mapping), one PostgreSQL (the shared
alert store), a real Kannel with fakesmsc (the SMS operator), ``alert_nodes`` central
processes in their cluster role, and the fleet simulator's background load. Falls arrive
at a steady pace, each in a different home; part-way through, the alert node that owns
the most partitions is killed -9. Measured:

* ``takeover_s``: from the kill until the survivors hold every lease of the dead alert
  node, or, for a broker node, until every broker session of the partitions it hit is
  subscribed again on another node (as the broker's monitoring reports it);
* fall to desk: from a fall's publish to its alert's live push (what every node's
  dashboard is told), over all falls and over those published in the ``WINDOW_S`` after
  the kill (half of them in the partitions the kill hit);
* ``lost``: readings the simulator and the falls published that no node stored, and
  ``lost_falls``: falls that never became an alert;
* ``duplicate_sms``: SMS that reached the operator twice;
* escalation lateness: each fall's second SMS (to the next contact, ``ESCALATE_S`` after
  the first when nobody answers) against its due time, for falls raised before the kill;
* for the PostgreSQL primary killed (``postgres``: the store run by Patroni with a
  synchronous standby, the nodes on its multi-host address): ``switch_s``, from the kill
  until the standby, promoted, took a write;
* for an alert node killed: ``routines_moved``, the residents of the partitions it held,
  and ``routines_restored``, how many of their inactivity routines the survivors took
  back from the snapshots (written every ``LEARNED_EVERY_S`` here).

Every node stores its partitions' readings in its own embedded store (a dead node's
remain on its disk); an operator runs InfluxDB for that (see the README).
"""

from __future__ import annotations

import collections
import json
import secrets
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path
from typing import IO, Any

import yaml

import registry
from alerts import policy
from alerts.cluster.feed import AlertFeed
from alerts.core import AlertCore
from alerts.model import AlertChange, Change
from alerts.response import DISPATCH_STEP, ResponseError
from alerts.settings import AlertSettings, KannelSettings
from alerts.store import AlertStore, StateError
from bench.cluster import (
    CLIENT_ID,
    LEASE_TTL_S,
    AlertNode,
    now_ms,
    sessions,
    start_nodes,
    stored_keys,
    wait_balanced,
    wait_for,
)
from bench.ingest import simulate
from bench.stats import pct
from firmware_stubs import layout, site_registry
from harness.ha_postgres import HAPostgres, Member
from harness.kannel import LocalKannel, reply_url
from harness.nats import NatsCluster
from harness.postgres import LocalPostgres
from harness.process import free_port
from runtime.mqtt import MQTTv311, new_client
from telemetry import codec, topics
from telemetry.clock import SystemClock
from telemetry.kinds import FallStatus, Kind, unit_of
from telemetry.reading import Reading
from telemetry.topics import Channel

SEED = 1
ESCALATE_S = 15  # the first contact has this long to answer before the second is texted
LEARNED_EVERY_S = 2.0  # the nodes' snapshots of what they learned (600 s by default)
WINDOW_S = 15  # "during the takeover": falls published this long after the kill
OUTAGE_S = 10.0  # postgres-restart: how long the shared store is away
KILLS = ("alert-node", "broker-node", "postgres-restart", "pause-node", "postgres")


def run(homes: int = 2000, alert_nodes: int = 3, partitions: int = 6, falls: int = 90,
        duration: float = 45.0, speed: float = 60.0, kill_at: float = 0.3,
        kill: str = "alert-node", out: IO[str] = sys.stdout) -> dict[str, Any]:
    """One run; ``kill`` is one of ``KILLS``."""
    if kill not in KILLS:
        raise ValueError(f"kill is one of {', '.join(KILLS)}")
    work = Path(tempfile.mkdtemp(prefix="eldercare-bench-failover-"))
    (work / "registry.yaml").write_text(
        yaml.safe_dump(site_registry.registry_data(homes, SEED)))
    policy = work / "policy.yaml"
    policy.write_text(yaml.safe_dump({"default": {"steps": {"fall": [
        {"after_s": 0, "channel": "sms", "to": "family",
         "next_contact_after_s": ESCALATE_S}]}}}))
    token = secrets.token_urlsafe(24)
    (work / "callback.token").write_text(token)
    print(f"failover: {alert_nodes} alert nodes, 3 NATS nodes, {partitions} partitions, "
          f"{homes} homes, {falls} falls over {duration:.0f} s, {kill} at "
          f"{kill_at * duration:.0f} s", file=out, flush=True)
    nodes: list[AlertNode] = []
    # "postgres": the shared store as an operator runs it for a primary's death (Patroni,
    # a synchronous standby, etcd); the other runs: one PostgreSQL
    store: LocalPostgres | HAPostgres = HAPostgres() if kill == "postgres" else LocalPostgres()
    with store as pg, NatsCluster(3, partitions) as nats:
        dsn = pg.create_database("eldercare")
        # picked once the cluster and the store listen (a port picked before them could be
        # one they took meanwhile: the node would not start), just before the nodes bind
        callback_ports = [free_port() for _ in range(alert_nodes)]
        kannel = LocalKannel(reply_url(callback_ports[0], token)).start()
        (work / "kannel.password").write_text(kannel.password)
        watcher = AlertStore(dsn)
        try:
            nodes = start_nodes(work, nats, dsn, alert_nodes, partitions, lambda i: AlertSettings(
                policy=str(policy), callback_port=callback_ports[i],
                learned_every_s=LEARNED_EVERY_S,
                reply_token_file=str(work / "callback.token"),
                kannel=KannelSettings(kannel.sendsms_url, kannel.username,
                                      str(work / "kannel.password"))))
            if not wait_balanced(watcher, alert_nodes, partitions, nats):
                raise RuntimeError("the partitions were not shared out")
            result = _scenario(dsn, nats, nodes, watcher, kannel, homes, partitions, falls,
                               duration, speed, kill_at, kill, out, pg, work)
        finally:
            for node in nodes:
                node.stop()
            watcher.close()
            kannel.close()
    return result


def consumer_leaders(nats: NatsCluster) -> dict[int, str]:
    """Which broker node leads the JetStream consumer of each partition's sessions (the
    broker's monitoring; several lanes of one partition: any of their leaders)."""
    out: dict[int, str] = {}
    for node in nats.nodes:
        if node.process is None:
            continue
        try:
            with urllib.request.urlopen(
                    f"http://127.0.0.1:{node.monitor_port}/jsz?accounts=true&streams=true"
                    "&consumers=true&config=true", timeout=2) as reply:
                details = json.load(reply).get("account_details", [])
        except OSError:
            continue
        for account in details:
            for stream in account.get("stream_detail", []):
                if stream.get("name") != "$MQTT_msgs":
                    continue
                for consumer in stream.get("consumer_detail") or []:
                    subject = consumer.get("config", {}).get("filter_subject", "")
                    leader = (consumer.get("cluster") or {}).get("leader")
                    parts = subject.split(".")
                    if leader and len(parts) > 3 and parts[2] == topics.PARTITION_ROOT \
                            and parts[3].isdigit():
                        out.setdefault(int(parts[3]), leader)
        if out:
            return out
    return out


def _scenario(dsn: str, nats: NatsCluster, nodes: list[AlertNode], watcher: AlertStore,
              kannel: LocalKannel, homes: int, partitions: int, falls: int, duration: float,
              speed: float, kill_at: float, kill: str, out: IO[str],
              pg: LocalPostgres | HAPostgres, work: Path) -> dict[str, Any]:
    load: dict[str, Any] = {}
    leases = watcher.leases.all()
    leaders = consumer_leaders(nats)
    names = [n.name for n in nats.nodes]
    consumers_hit: set[int] = set()
    broker = 0  # broker-node: the one leading the most partitions' consumers
    if kill == "broker-node" and leaders:
        broker = names.index(collections.Counter(leaders.values()).most_common(1)[0][0])
    up = [i for i in range(len(nats.nodes)) if i != broker]
    # the background load and the falls come in through broker nodes that stay up
    sim = threading.Thread(target=lambda: load.update(
        simulate(nats.nodes[up[-1]].mqtt_port, homes, speed, duration)), daemon=True)
    publisher = new_client(client_id="bench-falls",
                            protocol=MQTTv311)
    sent_mids: dict[int, str] = {}  # fall publishes: MQTT message id -> resident
    acked: set[int] = set()  # those the broker acknowledged (PUBACK)
    publisher.on_publish = lambda c, u, mid, *_: acked.add(mid)
    publisher.connect("127.0.0.1", nats.nodes[up[0]].mqtt_port)
    publisher.loop_start()
    every_session = {f"{CLIENT_ID}-part-{p}-{lane}" for p in range(partitions)
                     for lane in ("urgent", "readings")}
    if kill in ("alert-node", "pause-node"):  # the one holding the most partitions
        victim = collections.Counter(o for o, _ in leases.values()).most_common(1)[0][0]
        hit = {p for p, (owner, _) in leases.items() if owner == victim}
        hit_sessions = {s for s in every_session if int(s.split("-")[-2]) in hit}
    elif kill == "broker-node":  # sessions connected to it, consumers it leads
        victim = names[broker]
        hit_sessions = {c for c, (node, _) in sessions(nats, every_session).items()
                        if node == victim}
        consumers_hit = {p for p, leader in leaders.items() if leader == victim}
        hit = {int(s.split("-")[-2]) for s in hit_sessions} | consumers_hit
    else:  # the shared store: every partition
        victim = "postgres" if kill == "postgres-restart" else "the PostgreSQL primary"
        hit = set(range(partitions))
        hit_sessions = every_session
    # falls alternate between the homes whose partitions are hit and the others
    homes_hit = [h for h in range(homes) if topics.partition_of(layout.gateway_id(h),
                                                                partitions) in hit]
    homes_other = [h for h in range(homes) if h not in set(homes_hit)]
    moved = len(homes_hit)  # one resident per home (the falls take homes off the list)
    restored_before: dict[str, float] = {}
    published: dict[str, int] = {}  # resident -> publish time (ms)
    on_desk: dict[str, int] = {}  # resident -> when the desk was told (ms)

    def told(change: AlertChange) -> None:
        if change.change is Change.OPENED:
            on_desk.setdefault(change.alert.subject, now_ms())

    desk_db = AlertStore(dsn)

    def reloaded() -> None:  # the feed was cut: an open page fetches the alerts anew
        at = now_ms()
        for alert in desk_db.alerts.find(limit=100_000):
            on_desk.setdefault(alert.subject, at)

    feed = AlertFeed(dsn, "bench-desk", told, reloaded)  # as every node's dashboard hears
    feed.start()
    feed.listening.wait(10)
    # a desk sends a responder to every fall as it comes, through the shared store (as a
    # desk on any node does): their SMS go out from whichever node's outbox takes them
    dispatched: set[int] = set()
    desk_stop = threading.Event()
    desk = threading.Thread(target=_send_responders, args=(dsn, work, dispatched, desk_stop),
                            daemon=True)
    desk.start()
    fall_keys: set[tuple[str, int]] = set()
    killed_ms = 0
    taken_over_ms = 0
    switched: dict[str, float] = {}  # "postgres": seconds until a new primary took a write

    def watch_takeover(before: dict[str, tuple[str, int]]) -> None:
        nonlocal taken_over_ms

        def all_new() -> bool:  # every session subscribed again, on a new connection,
            # and every consumer the dead node led led by another
            now = sessions(nats, hit_sessions)
            led = consumer_leaders(nats)
            return now.keys() == hit_sessions \
                and not set(now.values()) & set(before.values()) \
                and all(led.get(p) not in (None, victim) for p in consumers_hit)

        def held_again() -> bool:  # every lease of the dead node held by a survivor
            now = now_ms()
            return all(owner != victim and expires > now
                       for p, (owner, expires) in watcher.leases.all().items() if p in hit)

        def back() -> bool:  # the store answers, and every partition is held again
            try:
                now = now_ms()
                held = [p for p, (_, expires) in watcher.leases.all().items() if expires > now]
            except StateError:
                return False
            store_back = "s" in switched if kill == "postgres" \
                else killed_ms + OUTAGE_S * 1000 < now
            return len(held) == partitions and store_back
        done = {"alert-node": held_again, "pause-node": held_again, "broker-node": all_new,
                "postgres-restart": back, "postgres": back}[kill]
        if wait_for(done, 120, 0.05):
            taken_over_ms = now_ms()

    sim.start()
    gap_s = duration * 0.8 / falls
    begun = time.monotonic()
    for i in range(falls):
        if not killed_ms and time.monotonic() - begun >= kill_at * duration:
            before = sessions(nats, hit_sessions)
            killed_ms = now_ms()
            if kill == "alert-node":
                restored_before = {n.node_id: n.learned("restored", "inactivity")
                                   for n in nodes if n.node_id != victim}
                next(n for n in nodes if n.node_id == victim).kill()
            elif kill == "pause-node":
                node = next(n for n in nodes if n.node_id == victim)
                node.pause()
                threading.Timer(2 * LEASE_TTL_S, node.resume).start()
            elif kill == "postgres-restart":
                assert isinstance(pg, LocalPostgres)
                pg.stop()
                threading.Timer(OUTAGE_S, pg.start).start()
            elif kill == "postgres":
                assert isinstance(pg, HAPostgres)
                threading.Thread(target=_switch, args=(pg, pg.kill_primary(), switched),
                                 daemon=True).start()
            else:
                nats.nodes[broker].kill()
            threading.Thread(target=watch_takeover, args=(before,), daemon=True).start()
            print(f"{kill}: {victim} (partitions {sorted(hit)} hit; consumers led by the "
                  f"killed broker node: {sorted(consumers_hit)})", file=out, flush=True)
        pool = homes_hit if (i % 2 == 0 or not homes_other) and homes_hit else homes_other
        home = pool.pop((i * 7919) % len(pool))
        gateway, site = layout.gateway_id(home), layout.site_id(home)
        now = now_ms()
        seq = 10**9 + i
        fall = Reading(site, gateway, "pendant", Kind.FALL, float(FallStatus.FALL),
                       unit_of(Kind.FALL), now, now, seq, layout.resident_id(home))
        published[layout.resident_id(home)] = now_ms()
        fall_keys.add((gateway, seq))
        info = publisher.publish(topics.central(gateway, Channel.URGENT),
                                 codec.encode(gateway, site, now, [fall]), qos=1)
        sent_mids[info.mid] = layout.resident_id(home)
        time.sleep(gap_s)
    sim.join()

    def alerts_in() -> dict[str, Any]:
        try:
            return {a.subject: a for a in watcher.alerts.find(limit=10 * falls)}
        except StateError:  # the store is still coming back
            return {}

    def second_texts() -> int:
        try:
            return sum(1 for n in watcher.notices.of()  # escalation's (a dispatch: step -1)
                       if n.step >= 0 and n.contact == 1 and n.sent_ms)
        except StateError:  # the store is still coming back
            return 0

    wait_for(lambda: len(alerts_in()) >= falls, 60, 0.2)
    wait_for(lambda: len(dispatched) >= falls, 60, 0.2)
    desk_stop.set()
    desk.join(10)

    def responders_texted() -> int:
        try:
            return sum(1 for n in watcher.notices.of() if n.step == DISPATCH_STEP and n.sent_ms)
        except StateError:
            return 0

    wait_for(lambda: responders_texted() >= len(dispatched), 60, 0.5)

    def all_sent() -> bool:  # a claim a paused node put back goes out again from another
        try:
            return all(n.sent_ms for n in watcher.notices.of())
        except StateError:
            return False

    wait_for(all_sent, 60, 0.5)
    # every fall's second contact is texted ESCALATE_S after its first
    wait_for(lambda: second_texts() >= falls, ESCALATE_S + 60, 0.5)
    # the last readings the simulator published: stored by whoever owns them now
    expected = int(load.get("readings", 0))
    wait_for(lambda: len(stored_keys([n.store for n in nodes])) >= expected + falls, 60, 0.5)
    publisher.loop_stop()
    feed.stop()
    desk_db.close()
    alerts = alerts_in()
    notices = watcher.notices.of()
    stored = stored_keys([n.store for n in nodes])
    by_alert = {a.alert_id: a for a in alerts.values()}
    to_desk = {r: on_desk[r] - t for r, t in published.items() if r in on_desk}
    end_ms = killed_ms + WINDOW_S * 1000
    during = [ms for r, ms in to_desk.items() if killed_ms <= published[r] <= end_ms]
    late = [n.created_ms - (by_alert[n.alert_id].opened_ms + ESCALATE_S * 1000)
            for n in notices if n.step >= 0 and n.contact == 1 and n.alert_id in by_alert
            and published[by_alert[n.alert_id].subject] < killed_ms]
    for resident, ms in sorted(to_desk.items(), key=lambda kv: -kv[1])[:5]:
        if ms > 2_000:  # the slowest falls to the desk, and when they were published
            print(f"slow fall of {resident}: on the desk after {ms / 1000:.1f} s, published "
                  f"{(published[resident] - killed_ms) / 1000:+.1f} s after the kill",
                  file=out)
    for resident in sorted(published.keys() - alerts.keys()):
        home = int(resident[4:])
        gateway = layout.gateway_id(home)
        mid = next(m for m, r in sent_mids.items() if r == resident)
        print(f"LOST fall of {resident}: partition {topics.partition_of(gateway, partitions)}"
              f", published {(published[resident] - killed_ms) / 1000:+.2f} s after the kill"
              f", broker ack {mid in acked}, stored "
              f"{any(k[0] == gateway and k[1] >= 10**9 for k in stored)}", file=out)
    if kill == "alert-node":  # the routines of the residents whose partitions moved
        routines = {"routines_moved": moved,
                    "routines_restored": int(sum(
                        n.learned("restored", "inactivity") - restored_before[n.node_id]
                        for n in nodes if n.node_id != victim))}
    else:
        routines = {}
    # what Kannel accepted reaches its SMSC a little later (more so under load)
    wait_for(lambda: len(kannel.messages()) >= sum(1 for n in notices if n.sent_ms), 30, 0.2)
    texts = collections.Counter((sms.to, sms.text) for sms in kannel.messages()
                                if not _to_responder(sms.text))
    responder_texts = collections.Counter((sms.to, sms.text) for sms in kannel.messages()
                                          if _to_responder(sms.text))
    simulated_lost = max(0, expected - (len(stored) - len(fall_keys & stored)))
    result = {
        "killed": {"alert-node": f"alert node {victim}", "broker-node": f"broker node {victim}",
                   "pause-node": f"alert node {victim} paused {2 * LEASE_TTL_S:.0f} s",
                   "postgres-restart": f"PostgreSQL stopped {OUTAGE_S:.0f} s",
                   "postgres": "the PostgreSQL primary killed -9 (Patroni, synchronous "
                               "standby)"}[kill],
        "switch_s": round(switched["s"], 2) if "s" in switched else None,
        "consumers_hit": len(consumers_hit),
        "alert_nodes": len(nodes), "broker_nodes": len(nats.nodes), "partitions": partitions,
        "partitions_hit": len(hit), "homes": homes, "falls": falls,
        "takeover_s": round((taken_over_ms - killed_ms) / 1000, 2) if taken_over_ms else None,
        "falls_during_takeover": len(during),
        "fall_to_desk_ms_p50": pct(list(to_desk.values()), 0.5),
        "fall_to_desk_ms_p99": pct(list(to_desk.values()), 0.99),
        "fall_to_desk_ms_p99_during_takeover": pct(during, 0.99),
        "fall_to_desk_ms_max_during_takeover": max(during) if during else None,
        "lost_falls": falls - len(alerts.keys() & published.keys()),
        "falls_unacknowledged_by_broker": len(sent_mids.keys() - acked),
        "falls_not_pushed": falls - len(to_desk),  # not on a desk (any node's hears them)
        "readings_published": expected + falls,
        "lost": simulated_lost + len(fall_keys - stored),
        "sms_sent": sum(texts.values()),
        "duplicate_sms": sum(n - 1 for n in texts.values() if n > 1),
        "responders_sent": len(dispatched),
        "responder_sms": sum(responder_texts.values()),
        "duplicate_responder_sms": sum(n - 1 for n in responder_texts.values() if n > 1),
        "escalations_in_flight": len(late),
        "escalation_late_ms_p99": pct(late, 0.99),
        "escalation_late_ms_max": max(late) if late else None,
        **routines,
    }
    for key, value in result.items():
        print(f"  {key}: {value}", file=out)
    print(json.dumps(result), file=out, flush=True)
    return result


def _to_responder(text: str) -> bool:
    """A dispatch SMS (``texts.dispatch_sms``), not an escalation's."""
    return "请前往" in text or "please go to" in text


def _send_responders(dsn: str, work: Path, dispatched: set[int],
                     stop: threading.Event) -> None:
    """The bench's desk: a responder (the resident's first contact) sent to each fall,
    once, through its own connection to the shared store; a store away is waited out."""
    core: AlertCore | None = None
    alert = None
    while not stop.wait(0.3):
        try:
            if core is None:
                core = AlertCore(AlertStore(dsn), registry.load(work / "registry.yaml"),
                                 policy.load(work / "policy.yaml"), SystemClock())
            for alert in core.db.alerts.find(open_only=True, limit=100_000):
                if alert.alert_id not in dispatched:
                    core.response.dispatch(alert.alert_id, "c0", "bench-desk")
                    dispatched.add(alert.alert_id)
        except StateError:
            continue  # the store is switching: the next round
        except ResponseError as exc:
            if exc.reason == "already_sent" and alert is not None:
                dispatched.add(alert.alert_id)
    if core is not None:
        core.db.close()


def _switch(ha: HAPostgres, old: Member, switched: dict[str, float]) -> None:
    """Time the switch to a new primary after ``old`` was killed."""
    switched["s"] = ha.wait_new_primary(old)
