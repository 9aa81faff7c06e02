"""Debian's Prosody, started by a test on a throwaway directory, as the other server the
client library and `hongyan` must work with (interoperability, issue #11). It has what a
modern deployment has: SCRAM, in-band registration, the roster, carbons, the archive
(mod_mam), stream management (mod_smacks) unless turned off, and a MUC service at
conference.localhost with room archives."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from pathlib import Path

from conftest import free_port

PROSODY = shutil.which("prosody")


class Prosody:
    """Quacks like conftest.Server where the `hongyan` helpers need it: .port and
    .data_dir (with the certificate at data_dir/tls/cert.pem)."""

    def __init__(self, root: Path, smacks: bool = True) -> None:
        self.data_dir = root / "prosody"
        (self.data_dir / "tls").mkdir(parents=True)
        (self.data_dir / "data").mkdir()
        key, cert = self.data_dir / "tls" / "key.pem", self.data_dir / "tls" / "cert.pem"
        subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                        "ec_paramgen_curve:prime256v1", "-nodes", "-days", "2",
                        "-subj", "/CN=localhost", "-addext",
                        "subjectAltName=DNS:localhost,DNS:conference.localhost",
                        "-keyout", str(key), "-out", str(cert)],
                       check=True, capture_output=True)
        self.port = free_port()
        self.log = self.data_dir / "prosody.log"
        disabled = '"s2s"' + ("" if smacks else ', "smacks"')
        config = self.data_dir / "prosody.cfg.lua"
        config.write_text(f'''
run_as_root = true
pidfile = "{self.data_dir}/prosody.pid"
data_path = "{self.data_dir}/data"
log = {{ {{ levels = {{ min = "info" }}, to = "file", filename = "{self.log}" }} }}
interfaces = {{ "127.0.0.1" }}
c2s_ports = {{ {self.port} }}
c2s_direct_tls_ports = {{ }}
modules_enabled = {{ "roster", "saslauth", "tls", "disco", "register", "ping", "carbons",
                     "mam", "smacks", "blocklist", "offline" }}
modules_disabled = {{ {disabled} }}
authentication = "internal_hashed"
storage = "internal"
allow_registration = true
registration_throttle_max = 100
c2s_require_encryption = true
default_archive_policy = true
ssl = {{ key = "{key}", certificate = "{cert}" }}
VirtualHost "localhost"
    ssl = {{ key = "{key}", certificate = "{cert}" }}
Component "conference.localhost" "muc"
    modules_enabled = {{ "muc_mam" }}
    ssl = {{ key = "{key}", certificate = "{cert}" }}
''')
        self.proc = subprocess.Popen([PROSODY, "-F", "--config", str(config)],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 20
        while True:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                break
            except OSError:
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("prosody did not start: " + self.log_text())
                time.sleep(0.05)

    def log_text(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else "(no log)"

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
