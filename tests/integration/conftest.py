"""Fixtures for black-box tests against a real hongyand process.

Binaries come from $HONGYAND and $HONGYANCTL (default: <repo>/build/...). Each test
gets its own server on free loopback ports with its own data directory; at
teardown the server gets SIGTERM and must exit 0. Its log is printed at teardown,
so pytest shows it next to any failure.

With HONGYAN_TEST_BACKEND=postgresql the servers (and hongyanctl) use PostgreSQL: a
database of their own per data directory, on the throwaway server whose directory
$HONGYAN_TEST_PG_DIR names (tests/pg-throwaway.sh; ctest starts it).
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Callable, Optional

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

import xmpp_raw  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
HONGYAND = os.environ.get("HONGYAND", str(REPO / "build" / "hongyand"))
HONGYANCTL = os.environ.get("HONGYANCTL", str(REPO / "build" / "hongyanctl"))

START_TIMEOUT = 10.0
STOP_TIMEOUT = 15.0

BACKEND = os.environ.get("HONGYAN_TEST_BACKEND", "sqlite")
_pg_databases: dict[str, str] = {}  # data directory -> its database's URL


def storage_settings(data_dir: Path) -> dict[str, str]:
    """The storage.* settings for a server or hongyanctl on `data_dir`: nothing on SQLite
    (the file is in the data directory); on PostgreSQL the data directory's own database,
    created at first use."""
    if BACKEND != "postgresql":
        return {}
    key = str(data_dir.resolve())
    if key not in _pg_databases:
        pg_dir = os.environ.get("HONGYAN_TEST_PG_DIR")
        assert pg_dir, "HONGYAN_TEST_BACKEND=postgresql needs HONGYAN_TEST_PG_DIR (tests/pg-throwaway.sh)"
        admin = (Path(pg_dir) / "url").read_text().strip()
        name = f"it_{os.getpid()}_{len(_pg_databases)}_{int(time.time() * 1000) % 100000000}"
        subprocess.run(["psql", admin, "-q", "-c", f"CREATE DATABASE {name}"], check=True,
                       capture_output=True)
        _pg_databases[key] = admin.replace("///postgres?", f"///{name}?")
    return {"storage.backend": "postgresql", "storage.postgresql.url": _pg_databases[key]}


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def reserve_port() -> socket.socket:
    """A free port, held by a bound (not listening) socket with SO_REUSEPORT for as long as
    the socket is open. hongyand listens with SO_REUSEPORT (one acceptor per I/O thread),
    so it can bind the port beside it; and no other test's server can be handed the same
    port meanwhile: two servers sharing a port would each get some of the other's
    connections."""
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    s.bind(("127.0.0.1", 0))
    return s


def run_ctl(*args: str, data_dir: Optional[Path] = None, input: Optional[str] = None,
            timeout: float = 20.0) -> subprocess.CompletedProcess:
    cmd = [HONGYANCTL]
    if data_dir is not None:
        cmd += ["--set", f"server.data_dir={data_dir}"]
        for k, v in storage_settings(data_dir).items():
            cmd += ["--set", f"{k}={v}"]
    cmd += list(args)
    return subprocess.run(cmd, capture_output=True, text=True, input=input, timeout=timeout)


def run_daemon(*args: str, timeout: float = 20.0) -> subprocess.CompletedProcess:
    return subprocess.run([HONGYAND, *args], capture_output=True, text=True, timeout=timeout)


class Server:
    """A running hongyand."""

    def __init__(self, data_dir: Path, overrides: dict[str, Any],
                 wrap: Optional[list[str]] = None, config: Optional[str] = None) -> None:
        self.data_dir = data_dir
        self._reserved = [reserve_port() for _ in range(5)]
        (self.port, self.tls_port, self.http_port, self.https_port,
         self.component_port) = sorted(r.getsockname()[1] for r in self._reserved)
        n = 0
        while (data_dir.parent / f"{data_dir.name}.{n}.log").exists():
            n += 1
        self.log_path = data_dir.parent / f"{data_dir.name}.{n}.log"
        self.users: dict[str, str] = {}
        self.streams: list[xmpp_raw.XmppStream] = []
        settings: dict[str, Any] = {
            "server.data_dir": str(data_dir),
            "c2s.port": self.port,
            "c2s.tls_port": self.tls_port,
            "c2s.address": "127.0.0.1",
            "http.port": self.http_port,
            "https.port": self.https_port,
            "http.address": "127.0.0.1",
            "component.port": self.component_port,
            "server.threads": 2,
            "log.level": "debug",
            **storage_settings(data_dir),
        }
        settings.update(overrides)
        self.settings = settings
        self.port = int(settings["c2s.port"])
        self.tls_port = int(settings["c2s.tls_port"])
        self.http_port = int(settings["http.port"])
        self.https_port = int(settings["https.port"])
        self.component_port = int(settings["component.port"])
        # `wrap` runs the daemon through another command (a mount namespace, say).
        self.args = list(wrap or []) + [HONGYAND]
        # `config`: the text of a TOML file (for what --set cannot say, such as [[hosts]]).
        self.config_args: list[str] = []
        if config is not None:
            config_path = data_dir.parent / f"{data_dir.name}.toml"
            config_path.write_text(config)
            self.config_args = ["--config", str(config_path)]
        self.args += self.config_args
        for k, v in settings.items():
            if isinstance(v, bool):
                v = "true" if v else "false"
            self.args += ["--set", f"{k}={v}"]
        self.log_file = open(self.log_path, "wb")
        self.proc = subprocess.Popen(self.args, stdout=self.log_file, stderr=subprocess.STDOUT)
        self.returncode: Optional[int] = None
        self._wait_started()

    def _wait_started(self) -> None:
        # Wait for the log line written after every listener is up, rather than probing
        # the port (a probe would count against limits.max_connections_per_ip). With a
        # log level that hides it, probe the port after all.
        quiet = str(self.settings.get("log.level")) in ("warn", "error", "off")
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if "serving " in self.log():
                return
            if quiet and self._port_accepts():
                return
            if self.proc.poll() is not None:
                raise RuntimeError(f"hongyand exited with {self.proc.returncode} at start:\n{self.log()}")
            time.sleep(0.01)
        self.proc.kill()
        self.proc.wait()
        raise RuntimeError(f"hongyand did not start in {START_TIMEOUT}s:\n{self.log()}")

    def _port_accepts(self) -> bool:
        port = self.port or self.tls_port
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return True
        except OSError:
            return False

    def log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    # ----- clients -----

    def connect(self, direct_tls: bool = False, timeout: float = xmpp_raw.DEFAULT_TIMEOUT
                ) -> xmpp_raw.XmppStream:
        s = xmpp_raw.XmppStream(self.tls_port if direct_tls else self.port,
                                direct_tls=direct_tls, timeout=timeout)
        self.streams.append(s)
        return s

    def connect_secure(self) -> xmpp_raw.XmppStream:
        """A client stream on the STARTTLS port, opened and with TLS negotiated."""
        s = self.connect()
        s.open()
        s.starttls()
        return s

    def login(self, user: str, password: str, resource: Optional[str] = "test",
              mechanism: str = "SCRAM-SHA-256", direct_tls: bool = False
              ) -> xmpp_raw.XmppStream:
        """A connected, authenticated stream with a bound resource (user created if needed)."""
        self.ensure_user(user, password)
        s = self.connect(direct_tls=direct_tls)
        s.login(user, password, mechanism=mechanism, resource=resource)
        return s

    def online(self, user: str, password: str, resource: Optional[str] = "test",
               priority: Optional[int] = None) -> xmpp_raw.XmppStream:
        """A logged-in stream that sent initial presence (RFC 6121 §4.2) and got its own
        presence back, so it is an available resource."""
        s = self.login(user, password, resource=resource)
        prio = f"<priority>{priority}</priority>" if priority is not None else ""
        s.send(f"<presence>{prio}</presence>")
        me = f"{user}@localhost/{resource}"
        s.wait_for(lambda e: xmpp_raw.local_name(e.tag) == "presence" and e.get("from") == me
                   and e.get("type") is None)
        return s

    # ----- administration -----

    def ctl(self, *args: str, input: Optional[str] = None) -> subprocess.CompletedProcess:
        # The server's own storage settings (a test may choose a database of its own).
        storage = [a for k, v in self.settings.items() if k.startswith("storage.")
                   for a in ("--set", f"{k}={v}")]
        return run_ctl(*self.config_args, *storage, *args, data_dir=self.data_dir, input=input)

    def add_user(self, user: str, password: str) -> None:
        r = self.ctl("user", "add", user, "-p", password)
        assert r.returncode == 0, f"hongyanctl user add failed: {r.stdout}{r.stderr}"
        self.users[user] = password

    def ensure_user(self, user: str, password: str) -> None:
        if self.users.get(user) != password:
            if user in self.users:
                r = self.ctl("user", "passwd", user, "-p", password)
                assert r.returncode == 0, r.stderr
                self.users[user] = password
            else:
                self.add_user(user, password)

    # ----- lifetime -----

    def close_clients(self) -> None:
        for s in self.streams:
            s.close()
        self.streams.clear()

    def terminate(self, timeout: float = STOP_TIMEOUT) -> int:
        """SIGTERM and wait; returns the exit code."""
        if self.returncode is not None:
            return self.returncode
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        return self.wait_exit(timeout)

    def wait_exit(self, timeout: float = STOP_TIMEOUT) -> int:
        """Waits for the process to end on its own (after a signal the test sent)."""
        if self.returncode is None:
            try:
                self.returncode = self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                self.returncode = -9
            for r in self._reserved:  # the ports are free for others now
                r.close()
            self.log_file.close()
        return self.returncode

    def alive(self) -> bool:
        return self.proc.poll() is None


@pytest.fixture
def start_server(tmp_path: Path) -> Callable[..., Server]:
    """Factory: start_server({"c2s.preauth_timeout": 1}) starts a server with overrides.
    Every server started is stopped at teardown and must exit 0."""
    servers: list[Server] = []

    def start(overrides: Optional[dict[str, Any]] = None, data_dir: Optional[Path] = None,
              wrap: Optional[list[str]] = None, config: Optional[str] = None,
              after: Optional[Server] = None, **kw: Any) -> Server:
        """Overrides as a dict of dotted keys, or as keywords with '__' for '.'
        (c2s__preauth_timeout=1). data_dir reuses another server's data directory;
        after=server stops that server (it must exit 0) and starts on its data, knowing
        its users' passwords: a restart."""
        o = dict(overrides or {})
        o.update({k.replace("__", "."): v for k, v in kw.items()})
        if after is not None:
            after.close_clients()
            assert after.terminate() == 0
            data_dir = data_dir or after.data_dir
        s = Server(data_dir or tmp_path / f"data{len(servers)}", o, wrap, config)
        if after is not None:
            s.users.update(after.users)
        servers.append(s)
        return s

    yield start

    problems = []
    for s in servers:
        if s.returncode is None and not s.alive():
            problems.append(f"hongyand died during the test with exit code {s.proc.returncode}")
        s.close_clients()
        rc = s.terminate()
        log = s.log()
        print(f"----- hongyand log ({s.log_path}) -----\n{log[-20000:]}")
        if rc != 0:
            problems.append(f"hongyand exited with {rc} after SIGTERM (expected 0)")
        for bad in ("AddressSanitizer", "runtime error:", "terminate called", " critical "):
            if bad in log:
                problems.append(f"hongyand log contains {bad!r}")
    assert not problems, "; ".join(problems)


@pytest.fixture
def server(start_server: Callable[..., Server]) -> Server:
    """A server with the default configuration (and the harness's ports and data dir)."""
    return start_server()
