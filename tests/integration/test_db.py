"""hongyanctl db backup and restore (docs/storage.md, "Backups"), on the configured
backend: a backup taken while the server runs, restored into a new data directory,
serves the same accounts, rosters, groups and offline messages to a new server; slixmpp
logs in on the restored server. Runs on SQLite (the online backup API) and, in the
integration-pg run, on PostgreSQL (a copy into the same SQLite format)."""

from __future__ import annotations

import os
import pty
import sqlite3
import subprocess

import slix
from conftest import HONGYANCTL, free_port, run_ctl, run_daemon, storage_settings
from im_helpers import drain, get_roster, items, roster_query, set_item
from xmpp_raw import local_name

A, AP = "alice", "alice-password"
B, BP = "bob", "bob-password"


def fill(server) -> None:
    """Accounts, a roster item, a shared group and an offline message for bob."""
    server.add_user(A, AP)
    server.add_user(B, BP)
    assert server.ctl("group", "create", "team", "-d", "Team").returncode == 0
    assert server.ctl("group", "add", "team", A, B).returncode == 0
    alice = server.login(A, AP, resource="a")
    assert set_item(alice, "carol@example.org", name="Carol", groups=("Far",)).get(
        "type") == "result"
    alice.send("<message to='bob@localhost' id='kept' type='chat'><body>still here</body>"
               "</message>")
    alice.sync()  # stored: bob is offline
    alice.close()


def rows(out: str) -> dict[str, int]:
    """The verification table hongyanctl prints: table -> rows (only lines marked ok)."""
    found = {}
    for line in out.splitlines():
        parts = line.split()
        if len(parts) == 4 and parts[3] == "ok":
            found[parts[0]] = int(parts[1])
    return found


def test_backup_of_a_running_server_restores_into_a_new_one(start_server, tmp_path):
    first = start_server()
    fill(first)
    backup = tmp_path / "hongyan-backup.sqlite"
    r = first.ctl("db", "backup", str(backup))
    assert r.returncode == 0, r.stderr
    assert "verified" in r.stdout, r.stdout
    counted = rows(r.stdout)
    assert counted["accounts"] == 2 and counted["offline_messages"] == 1, r.stdout
    assert counted["shared_group_members"] == 2 and counted["roster_items"] >= 1, r.stdout
    assert first.alive()

    target = tmp_path / "restored"
    r = run_ctl("db", "restore", str(backup), data_dir=target)
    assert r.returncode == 0, r.stderr
    assert rows(r.stdout) == counted, r.stdout

    second = start_server(data_dir=target)
    second.users = dict(first.users)  # restored, not to be added again
    # The passwords (SCRAM keys) came along: bob logs in and gets his offline message.
    bob = second.login(B, BP, resource="b")
    bob.send("<presence/>")
    bob.sync()
    got = [e for e in drain(bob) if local_name(e.tag) == "message"]
    assert [m.get("id") for m in got] == ["kept"], got
    alice = second.login(A, AP, resource="a")
    roster = items(roster_query(get_roster(alice)))
    assert roster["carol@example.org"]["name"] == "Carol", roster
    assert "bob@localhost" in roster, roster  # through the shared group

    # A real client on the restored server sees its contacts.
    async def scenario(_loop):
        c = await slix.connect(f"{B}@localhost", BP, second.port)
        await c.get_roster()
        jids = set(c.client_roster.keys())
        await slix.disconnect(c)
        return jids

    assert "alice@localhost" in slix.run(scenario)


def test_restore_refuses_a_database_with_data_and_leaves_it(start_server, tmp_path):
    server = start_server()
    fill(server)
    backup = tmp_path / "b.sqlite"
    assert server.ctl("db", "backup", str(backup)).returncode == 0
    r = server.ctl("db", "restore", str(backup))
    assert r.returncode == 1
    assert "not empty" in r.stderr, r.stderr
    assert server.ctl("user", "list").stdout.split() == ["alice@localhost", "bob@localhost"]


def test_a_database_newer_than_the_binary_is_refused_with_a_clear_error(tmp_path):
    """docs/storage.md, "The schema": a database a newer hongyand migrated is not half
    understood. hongyand and hongyanctl refuse it with the two version numbers, on either
    backend."""
    data = tmp_path / "data"
    assert run_ctl("user", "add", A, "-p", AP, data_dir=data).returncode == 0  # migrates
    settings = storage_settings(data)
    bump = "UPDATE schema_version SET version = 99"
    if settings:
        subprocess.run(["psql", "-qX", settings["storage.postgresql.url"], "-c", bump],
                       check=True, capture_output=True)
    else:
        with sqlite3.connect(data / "hongyan.db") as con:
            con.execute(bump)
    expected = "database schema version 99 is newer than this hongyand understands"
    r = run_ctl("user", "list", data_dir=data)
    assert r.returncode == 1 and expected in r.stderr, r.stderr
    args = ["--set", f"server.data_dir={data}", "--set", "c2s.address=127.0.0.1",
            "--set", "http.address=127.0.0.1"]
    for key in ("c2s.port", "c2s.tls_port", "http.port", "https.port", "component.port"):
        args += ["--set", f"{key}={free_port()}"]
    for k, v in settings.items():
        args += ["--set", f"{k}={v}"]
    r = run_daemon(*args, timeout=20)
    assert r.returncode != 0 and expected in r.stdout + r.stderr, r.stdout + r.stderr


def test_backup_never_overwrites_and_restore_wants_a_backup(server, tmp_path):
    existing = tmp_path / "precious"
    existing.write_text("do not touch")
    r = server.ctl("db", "backup", str(existing))
    assert r.returncode == 1 and "already exists" in r.stderr, r.stderr
    assert existing.read_text() == "do not touch"
    r = run_ctl("db", "restore", str(existing), data_dir=tmp_path / "new")
    assert r.returncode == 1 and "not a backup" in r.stderr, r.stderr
    r = run_ctl("db", "restore", str(tmp_path / "missing"), data_dir=tmp_path / "new")
    assert r.returncode == 1 and "no backup file" in r.stderr, r.stderr


def test_progress_is_a_bar_on_a_terminal_and_lines_otherwise(server, tmp_path):
    server.add_user(A, AP)
    r = server.ctl("db", "backup", str(tmp_path / "plain.sqlite"))
    assert r.returncode == 0
    assert "\r" not in r.stderr and "verify accounts: 1" in r.stderr.splitlines(), r.stderr

    # The same command with stderr on a pseudo-terminal draws a bar in place.
    cmd = [HONGYANCTL, "--set", f"server.data_dir={server.data_dir}"]
    for k, v in storage_settings(server.data_dir).items():
        cmd += ["--set", f"{k}={v}"]
    cmd += ["db", "backup", str(tmp_path / "tty.sqlite")]
    main, sub = pty.openpty()
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=sub, timeout=60)
    os.close(sub)
    drawn = b""
    while True:
        try:
            chunk = os.read(main, 65536)
        except OSError:
            break
        if not chunk:
            break
        drawn += chunk
    os.close(main)
    assert p.returncode == 0, drawn
    assert b"\r" in drawn and b"[####" in drawn and b"100%" in drawn, drawn
