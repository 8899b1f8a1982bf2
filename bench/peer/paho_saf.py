#!/usr/bin/python3
"""(c) The peer: the store-and-forward loop a user would otherwise write.

Python with Debian's python3-paho-mqtt (run it with /usr/bin/python3) and the
standard sqlite3 module, written the way a competent user would: an on-disk
SQLite outbox in WAL mode with synchronous=NORMAL (the agent's default
durability), rows inserted in one transaction per batch and committed before
they are published, QoS 1 over the same mutual TLS and MQTT v5 with the same
user properties (seq, boot), an in-flight window of the same size, paho's
network loop in its own thread (loop_start), and deletes batched into one
transaction per loop pass once the PUBACK arrived.

The payloads are the benchmark's own (`bench-raw-publish --dump FILE` writes
them: one "topic<TAB>payload" per line), cycled.

With --naive it is the straightforward version most users write first: every
reading inserted and committed on its own, every PUBACK deleted and committed
on its own (still WAL + synchronous=NORMAL, the same window and network
thread). Reported as its own row, next to the competent one, never instead
of it.

Prints one line of key=value pairs: acked_per_s over --seconds after --warmup.
"""
import argparse
import collections
import os
import resource
import sqlite3
import threading
import time

import paho.mqtt.client as mqtt
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--ca", required=True)
    ap.add_argument("--cert", required=True)
    ap.add_argument("--key", required=True)
    ap.add_argument("--payloads", required=True)
    ap.add_argument("--state-dir", required=True)
    ap.add_argument("--inflight", type=int, default=128)
    ap.add_argument("--backlog", type=int, default=1024)
    ap.add_argument("--batch", type=int, default=256)
    ap.add_argument("--seconds", type=float, default=10)
    ap.add_argument("--warmup", type=float, default=2)
    ap.add_argument("--naive", action="store_true",
                    help="one transaction per insert and per delete")
    a = ap.parse_args()

    msgs = []
    with open(a.payloads, "rb") as f:
        for line in f:
            topic, payload = line.rstrip(b"\n").split(b"\t", 1)
            msgs.append((topic.decode(), payload))

    os.makedirs(a.state_dir, exist_ok=True)
    db = sqlite3.connect(os.path.join(a.state_dir, "outbox.db"), isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=NORMAL")
    db.execute("CREATE TABLE IF NOT EXISTS outbox(id INTEGER PRIMARY KEY, topic TEXT NOT NULL,"
               " payload BLOB NOT NULL)")

    acks = collections.deque()  # mids from the network thread
    wake = threading.Event()
    connected = threading.Event()

    def on_connect(client, userdata, flags, rc, props=None):
        if rc == 0:
            connected.set()

    def on_publish(client, userdata, mid):
        acks.append(mid)
        wake.set()

    c = mqtt.Client(client_id="bench-paho-saf", protocol=mqtt.MQTTv5)
    c.tls_set(ca_certs=a.ca, certfile=a.cert, keyfile=a.key)
    c.max_inflight_messages_set(a.inflight)
    c.max_queued_messages_set(0)
    c.on_connect = on_connect
    c.on_publish = on_publish
    c.connect(a.host, a.port, keepalive=30)
    c.loop_start()
    if not connected.wait(20):
        raise SystemExit("paho_saf: no connection to the broker within 20 s")

    rows = 0          # rows in the outbox
    cursor = 0        # last id published
    next_msg = 0
    inflight = {}     # mid -> id
    acked = 0
    start = time.monotonic()
    t0 = acked0 = None
    end = None
    while True:
        # acknowledged: delete in one transaction
        done = []
        while acks:
            mid = acks.popleft()
            rid = inflight.pop(mid, None)
            if rid is not None:
                done.append((rid,))
        if done and a.naive:
            for d in done:  # autocommit: one transaction each
                db.execute("DELETE FROM outbox WHERE id = ?", d)
        elif done:
            db.execute("BEGIN")
            db.executemany("DELETE FROM outbox WHERE id = ?", done)
            db.execute("COMMIT")
        if done:
            rows -= len(done)
            acked += len(done)
        # produce: top the outbox up, one transaction
        if rows < a.backlog:
            n = min(a.backlog - rows, a.batch)
            batch = []
            for _ in range(n):
                batch.append(msgs[next_msg % len(msgs)])
                next_msg += 1
            if a.naive:
                for m in batch:
                    db.execute("INSERT INTO outbox(topic, payload) VALUES(?, ?)", m)
            else:
                db.execute("BEGIN")
                db.executemany("INSERT INTO outbox(topic, payload) VALUES(?, ?)", batch)
                db.execute("COMMIT")
            rows += n
        # publish: fill the in-flight window from the outbox
        room = a.inflight - len(inflight)
        if room > 0:
            for rid, topic, payload in db.execute(
                    "SELECT id, topic, payload FROM outbox WHERE id > ? ORDER BY id LIMIT ?",
                    (cursor, room)):
                props = Properties(PacketTypes.PUBLISH)
                props.UserProperty = [("seq", str(rid)), ("boot", "1")]
                info = c.publish(topic, payload, qos=1, properties=props)
                inflight[info.mid] = rid
                cursor = rid
        now = time.monotonic()
        if t0 is None and now - start >= a.warmup:
            t0, acked0 = now, acked
            end = t0 + a.seconds
        elif t0 is not None and now >= end:
            break
        if not acks:
            wake.wait(0.05)
            wake.clear()
    dt = now - t0
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(f"acked_per_s={(acked - acked0) / dt:.0f} acked={acked - acked0} seconds={dt:.2f} "
          f"inflight={a.inflight} rss_peak_kib={rss}")
    c.loop_stop()
    c.disconnect()
    db.close()


if __name__ == "__main__":
    main()
