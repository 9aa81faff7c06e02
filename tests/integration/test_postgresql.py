"""The PostgreSQL backend when its database goes away and comes back (docs/storage.md,
"When the database goes away"): requests meanwhile get an error, never a silent loss, the
server stays up, and once the database is back the pool reconnects by itself.

Always on PostgreSQL, on a throwaway server of its own (tests/pg-throwaway.sh), which it
stops and starts again: the shared one of the other PostgreSQL runs stays untouched."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

from conftest import REPO
from im_helpers import NS_ROSTER, drain, set_item
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
