#!/usr/bin/env python3
"""Benchmark of the message archive (XEP-0313) and of stream-management resumption
(XEP-0198) on hongyand, the figures issue #10 asks for (not a test):

  archive  an archive of MESSAGES messages (default 1,000,000) across CONTACTS contacts
           (1,000), written straight into a fresh SQLite database, then, over a real
           client stream: the last 50 messages with one contact, paging back 1,000
           messages with one contact and through the whole archive (pages of 50), and
           the first 50 after a point in time. Each figure is the median of REPEAT runs
           (client-observed: from sending the query to its <fin/>, the transfer and this
           Python client's parsing included, so the server's share is less).
  resume   a session with stream management drops its TCP connection while UNACKED
           messages (0 and 100) wait for it, and a new connection resumes it: the time from
           <resume/> to <resumed/> and to the last message, median of RESUMES runs.

Usage: bench/archive.py [archive] [resume]   (both by default)
Environment: HONGYAND, HONGYANCTL (default build/...), MESSAGES, CONTACTS, REPEAT [20],
RESUMES [50], KEEP=1 keeps the data directory.
"""

from __future__ import annotations

import os
import random
import shutil
import socket
import sqlite3
import statistics
import struct
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests" / "integration"))
from xmpp_raw import NS_CLIENT, XmppStream, local_name, q  # noqa: E402

HONGYAND = os.environ.get("HONGYAND", str(ROOT / "build" / "hongyand"))
HONGYANCTL = os.environ.get("HONGYANCTL", str(ROOT / "build" / "hongyanctl"))
MESSAGES = int(os.environ.get("MESSAGES", "1000000"))
CONTACTS = int(os.environ.get("CONTACTS", "1000"))
REPEAT = int(os.environ.get("REPEAT", "20"))
RESUMES = int(os.environ.get("RESUMES", "50"))
NS_MAM = "urn:xmpp:mam:2"
NS_RSM = "http://jabber.org/protocol/rsm"
NS_SM = "urn:xmpp:sm:3"
PW = "bench-password"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Hongyand:
    def __init__(self, data: Path, *sets: str) -> None:
        self.port = free_port()
        self.data = data
        args = [HONGYAND, "--set", f"server.data_dir={data}", "--set", f"c2s.port={self.port}",
                "--set", f"c2s.tls_port={free_port()}", "--set", f"http.port={free_port()}",
                "--set", f"https.port={free_port()}", "--set", f"component.port={free_port()}",
                "--set", "c2s.address=127.0.0.1", "--set", "log.level=warn"]
        for s in sets:
            args += ["--set", s]
        self.log = open(data / "bench.log", "ab")
        self.proc = subprocess.Popen(args, stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), 0.2).close()
                return
            except OSError:
                time.sleep(0.05)
        raise SystemExit("hongyand did not start; see " + str(data / "bench.log"))

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(30)
        self.log.close()


def ctl(data: Path, *args: str) -> None:
    subprocess.run([HONGYANCTL, "--set", f"server.data_dir={data}", *args], check=True,
                   capture_output=True)


def median_ms(samples: list[float]) -> str:
    return f"{statistics.median(samples) * 1000:.2f} ms"


# ---- archive ------------------------------------------------------------------------------

def fill(data: Path) -> int:
    """MESSAGES rows in owner's archive, CONTACTS conversations, 1 ms apart; returns the
    time of the middle message (µs)."""
    con = sqlite3.connect(data / "hongyan.db")
    con.execute("PRAGMA synchronous=OFF")
    start_us = int(time.time() * 1e6) - MESSAGES * 1000
    rnd = random.Random(7)
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"

    def rows():
        for i in range(MESSAGES):
            contact = f"contact{rnd.randrange(CONTACTS)}@localhost"
            out = i % 2 == 0
            sid = "".join(rnd.choice(alphabet) for _ in range(16))
            frm, to = ("owner@localhost/phone", contact) if out else (contact + "/desk", "owner@localhost")
            stanza = (f'<message xmlns="jabber:client" from="{frm}" to="{to}" type="chat" '
                      f'id="m{i}"><body>message number {i}, a sentence of ordinary length for a '
                      f'chat</body></message>')
            yield ("owner", sid, start_us + i * 1000, contact, "", int(out), stanza)

    t = time.monotonic()
    con.executemany("INSERT INTO archive (username, id, time_us, with_bare, with_resource, "
                    "outgoing, stanza) VALUES (?, ?, ?, ?, ?, ?, ?)", rows())
    con.commit()
    con.execute("ANALYZE")
    con.close()
    print(f"filled {MESSAGES} messages across {CONTACTS} contacts in {time.monotonic() - t:.0f} s",
          flush=True)
    return start_us + (MESSAGES // 2) * 1000


def query(s: XmppStream, fields: dict[str, str], max_: int, before: str | None = None,
          after: str | None = None) -> tuple[float, list[str], str | None]:
    """One MAM query: (seconds to its answer, result ids, <first/>)."""
    form = ""
    if fields:
        form = (f"<x xmlns='jabber:x:data' type='submit'><field var='FORM_TYPE'><value>{NS_MAM}"
                "</value></field>" + "".join(f"<field var='{k}'><value>{v}</value></field>"
                                            for k, v in fields.items()) + "</x>")
    rsm = f"<set xmlns='{NS_RSM}'><max>{max_}</max>"
    if before is not None:
        rsm += f"<before>{before}</before>" if before else "<before/>"
    if after is not None:
        rsm += f"<after>{after}</after>"
    rsm += "</set>"
    qid = f"q{random.randrange(1 << 30)}"
    t = time.perf_counter()
    s.send(f"<iq type='set' id='{qid}'><query xmlns='{NS_MAM}' queryid='{qid}'>{form}{rsm}"
           "</query></iq>")
    ids = []
    while True:
        e = s.next(60)
        if local_name(e.tag) == "iq" and e.get("id") == qid:
            elapsed = time.perf_counter() - t
            assert e.get("type") == "result", e
            first = e.find(f"{q(NS_MAM, 'fin')}/{q(NS_RSM, 'set')}/{q(NS_RSM, 'first')}")
            return elapsed, ids, None if first is None else first.text
        r = e.find(q(NS_MAM, "result"))
        if r is not None:
            ids.append(r.get("id"))


def page_back(s: XmppStream, fields: dict[str, str], total: int) -> float:
    t = time.perf_counter()
    got, before = 0, ""
    while got < total:
        _, ids, first = query(s, fields, 50, before=before)
        got += len(ids)
        if not ids:
            break
        before = first
    # A conversation shorter than `total` (a small MESSAGES) ends early: the time is then
    # for fewer messages.
    return time.perf_counter() - t


def archive_bench() -> None:
    data = Path(tempfile.mkdtemp(prefix="hongyan-archive-"))
    try:
        ctl(data, "user", "add", "owner", "-p", PW)
        middle = fill(data)
        from datetime import datetime, timezone
        stamp = datetime.fromtimestamp(middle / 1e6, timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        server = Hongyand(data)
        try:
            s = XmppStream(server.port)
            s.login("owner", PW, resource="bench")
            query(s, {}, 1, before="")  # warm the connection and the cache a little
            rnd = random.Random(1)
            last50 = [query(s, {"with": f"contact{rnd.randrange(CONTACTS)}@localhost"}, 50,
                            before="")[0] for _ in range(REPEAT)]
            back_with = [page_back(s, {"with": f"contact{rnd.randrange(CONTACTS)}@localhost"}, 1000)
                         for _ in range(max(1, REPEAT // 4))]
            back_all = [page_back(s, {}, 1000) for _ in range(max(1, REPEAT // 4))]
            since = [query(s, {"start": stamp}, 50)[0] for _ in range(REPEAT)]
            rss = int(Path(f"/proc/{server.proc.pid}/status").read_text().split("VmRSS:")[1]
                      .split()[0])
        finally:
            server.stop()
        size = (data / "hongyan.db").stat().st_size
        print(f"\n| archive of {MESSAGES:,} messages, {CONTACTS:,} contacts (SQLite, "
              f"{size / 2**20:.0f} MiB) | median |")
        print("| --- | ---: |")
        print(f"| last 50 with one contact | {median_ms(last50)} |")
        print(f"| paging back 1,000 with one contact (20 pages) | {median_ms(back_with)} |")
        print(f"| paging back 1,000 through all conversations | {median_ms(back_all)} |")
        print(f"| 50 after a time in the middle (start) | {median_ms(since)} |")
        print(f"| hongyand RSS after the queries | {rss / 1024:.0f} MiB |")
    finally:
        if os.environ.get("KEEP") != "1":
            shutil.rmtree(data, ignore_errors=True)


# ---- resume -------------------------------------------------------------------------------

def resume_bench() -> None:
    data = Path(tempfile.mkdtemp(prefix="hongyan-resume-"))
    try:
        ctl(data, "user", "add", "phone", "-p", PW)
        ctl(data, "user", "add", "sender", "-p", PW)
        server = Hongyand(data, "mam.retention=0")
        try:
            sender = XmppStream(server.port)
            sender.login("sender", PW, resource="s")
            rows = []
            for unacked in (0, 100):
                to_resumed, to_last = [], []
                for run in range(RESUMES):
                    s = XmppStream(server.port)
                    s.login("phone", PW, resource="phone")
                    s.send(f"<enable xmlns='{NS_SM}' resume='true'/>")
                    enabled = s.wait_for(lambda e: e.tag == q(NS_SM, "enabled"))
                    s.send("<presence/>")
                    s.wait_for(lambda e: local_name(e.tag) == "presence")
                    # Everything so far is acknowledged; then the network goes.
                    s.send(f"<a xmlns='{NS_SM}' h='1'/>")
                    s.sync()
                    s.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                    s.sock.close()
                    for i in range(unacked):
                        sender.send(f"<message to='phone@localhost/phone' type='chat' id='r{run}-{i}'>"
                                    f"<body>while away {i}</body></message>")
                    sender.sync()
                    n = XmppStream(server.port)
                    n.open()
                    n.starttls()
                    n.auth("phone", PW)
                    n.open()
                    t = time.perf_counter()
                    n.send(f"<resume xmlns='{NS_SM}' previd='{enabled.get('id')}' h='2'/>")
                    r = n.wait_for(lambda e: e.tag in (q(NS_SM, "resumed"), q(NS_SM, "failed")))
                    assert r.tag == q(NS_SM, "resumed"), r
                    to_resumed.append(time.perf_counter() - t)
                    if unacked:
                        last = f"r{run}-{unacked - 1}"
                        n.wait_for(lambda e: local_name(e.tag) == "message" and e.get("id") == last)
                    to_last.append(time.perf_counter() - t)
                    n.send(f"<a xmlns='{NS_SM}' h='{2 + unacked}'/>")
                    n.logout()
                rows.append((unacked, to_resumed, to_last))
        finally:
            server.stop()
        print(f"\n| resume ({RESUMES} runs each) | to <resumed/> | to the last waiting message |")
        print("| --- | ---: | ---: |")
        for unacked, a, b in rows:
            print(f"| {unacked} messages waiting | {median_ms(a)} | {median_ms(b)} |")
    finally:
        if os.environ.get("KEEP") != "1":
            shutil.rmtree(data, ignore_errors=True)


if __name__ == "__main__":
    which = sys.argv[1:] or ["archive", "resume"]
    if "archive" in which:
        archive_bench()
    if "resume" in which:
        resume_bench()
