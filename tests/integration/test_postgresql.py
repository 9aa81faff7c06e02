"""The PostgreSQL backend when its database goes away and comes back (docs/storage.md,
"When the database goes away"): requests meanwhile get an error, never a silent loss, the
server stays up, and once the database is back the pool reconnects by itself.

Always on PostgreSQL, on a throwaway server of its own (tests/pg-throwaway.sh), which it
stops and starts again: the shared one of the other PostgreSQL runs stays untouched."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from conftest import REPO, run_ctl
from im_helpers import NS_ROSTER, drain, get_roster, items, roster_query, set_item
from test_db import fill, rows
from xmpp_raw import local_name, stanza_error_condition

SCRIPT = REPO / "tests" / "pg-throwaway.sh"


@pytest.fixture
def database():
    # Not under pytest's temporary directory: that is private to this user, and the
    # server may run as the postgres user (as root, tests/pg-throwaway.sh).
    top = Path(tempfile.mkdtemp(prefix="hongyan-pg-"))
    top.chmod(0o755)
    pg = top / "server"
    url = subprocess.run([str(SCRIPT), "start", str(pg)], check=True, capture_output=True,
                         text=True).stdout.strip()
    yield pg, url
    subprocess.run([str(SCRIPT), "stop", str(pg)], capture_output=True)
    shutil.rmtree(top, ignore_errors=True)


def pg(command: str, pg_dir: Path) -> None:
    subprocess.run([str(SCRIPT), command, str(pg_dir)], check=True, capture_output=True)


def test_requests_fail_cleanly_while_the_database_is_down_and_work_once_it_is_back(
        start_server, database):
    pg_dir, url = database
    server = start_server({"storage.backend": "postgresql", "storage.postgresql.url": url,
                           "storage.postgresql.connect_timeout": 2})
    server.add_user("alice", "alice-password")
    server.add_user("bob", "bob-password")
    server.add_user("carol", "carol-password")
    alice = server.login("alice", "alice-password", resource="a")
    assert set_item(alice, "bob@localhost", name="Bob").get("type") == "result"

    pg("halt", pg_dir)
    # RFC 6120 §8.3.3.8: the roster change cannot be stored, and the client is told so.
    r = set_item(alice, "carol@localhost", name="Carol")
    assert r.get("type") == "error" and stanza_error_condition(r) == "internal-server-error"
    # A message for an offline user that cannot be stored comes back to its sender.
    alice.send("<message to='carol@localhost' id='m1' type='chat'><body>hi</body></message>")
    bounced = alice.wait_for(lambda e: local_name(e.tag) == "message" and e.get("id") == "m1")
    assert bounced.get("type") == "error", bounced
    assert server.alive()

    pg("start", pg_dir)
    # The pool reconnects by itself: the first request after the restart works.
    assert set_item(alice, "carol@localhost", name="Carol").get("type") == "result"
    alice.send("<message to='carol@localhost' id='m2' type='chat'><body>again</body></message>")
    alice.sync()
    carol = server.login("carol", "carol-password", resource="c")
    carol.send("<presence/>")
    got = [e for e in drain(carol) if local_name(e.tag) == "message"]
    assert [m.get("id") for m in got] == ["m2"], got
    roster = alice.iq("get", f"<query xmlns='{NS_ROSTER}'/>")
    assert {i.get("jid") for i in roster.iter(f"{{{NS_ROSTER}}}item")} == {
        "bob@localhost", "carol@localhost"}


def test_a_lock_held_elsewhere_fails_the_request_after_the_lock_timeout(start_server, database):
    """Another session's lock on a table (a migration, an operator's transaction): the
    request waits storage.busy_timeout (PostgreSQL's lock_timeout), then gets
    internal-server-error saying the database is busy (RFC 6120 §8.3.3.8), and works once
    the lock is gone. The same as a locked SQLite file (test_faults.py)."""
    _, url = database
    server = start_server({"storage.backend": "postgresql", "storage.postgresql.url": url,
                           "storage.busy_timeout": 300})
    server.add_user("alice", "alice-password")
    alice = server.login("alice", "alice-password", resource="a")
    holder = subprocess.Popen(["psql", "-qX", url], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True)
    try:
        holder.stdin.write("BEGIN;\nLOCK TABLE roster_items IN ACCESS EXCLUSIVE MODE;\n"
                           "\\echo locked\n")
        holder.stdin.flush()
        assert holder.stdout.readline().strip() == "locked"
        r = set_item(alice, "bob@localhost", name="Bob")
        assert r.get("type") == "error" and stanza_error_condition(r) == "internal-server-error"
        assert "busy" in ET.tostring(r, encoding="unicode"), ET.tostring(r)
    finally:
        holder.communicate("COMMIT;\n", timeout=10)
    assert set_item(alice, "bob@localhost", name="Bob").get("type") == "result"
    assert server.alive()


def test_migrate_from_sqlite_and_serve_the_same_users_from_postgresql(start_server, database):
    """hongyanctl db migrate (docs/storage.md, "Moving to PostgreSQL"): a server's SQLite
    data copied into an empty PostgreSQL database, verified table by table; a server
    started on it serves the same accounts, rosters, groups and offline messages."""
    _, url = database
    first = start_server({"storage.backend": "sqlite"})
    fill(first)
    assert first.terminate() == 0
    r = run_ctl("db", "migrate", "--to", url, data_dir=first.data_dir)
    assert r.returncode == 0, r.stderr
    counted = rows(r.stdout)
    assert counted["accounts"] == 2 and counted["offline_messages"] == 1, r.stdout
    assert "verified" in r.stdout and "storage.backend" in r.stdout, r.stdout
    lines = r.stderr.splitlines()
    assert "copy offline_messages: 1" in lines and "verify offline_messages: 1" in lines, lines

    second = start_server({"storage.backend": "postgresql", "storage.postgresql.url": url},
                          data_dir=first.data_dir)
    second.users = dict(first.users)
    bob = second.login("bob", "bob-password", resource="b")
    bob.send("<presence/>")
    bob.sync()
    got = [e for e in drain(bob) if local_name(e.tag) == "message"]
    assert [m.get("id") for m in got] == ["kept"], got
    alice = second.login("alice", "alice-password", resource="a")
    roster = items(roster_query(get_roster(alice)))
    assert roster["carol@example.org"]["groups"] == ["Far"], roster
    assert "bob@localhost" in roster, roster  # the shared group came along
    # New accounts go on from the copied feed: a registration reaches the group's members.
    second.add_user("dave", "dave-password")
    assert second.ctl("group", "add", "team", "dave").returncode == 0
    alice.wait_for(lambda e: local_name(e.tag) == "iq" and "dave@localhost" in
                   ET.tostring(e, encoding="unicode"))
    # The target is no longer empty: a second migration is refused, nothing changes.
    r = run_ctl("db", "migrate", "--to", url, data_dir=first.data_dir)
    assert r.returncode == 1 and "not empty" in r.stderr, r.stderr
    r = run_ctl("db", "migrate", "--to", "mysql://nowhere", data_dir=first.data_dir)
    assert r.returncode == 1 and "PostgreSQL URL" in r.stderr, r.stderr
