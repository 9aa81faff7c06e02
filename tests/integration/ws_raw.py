"""A raw XMPP-over-WebSocket client (RFC 7395) for black-box tests of hongyand, on
Debian's python3-websocket: one XML element per text message, <open/> and <close/> in
the framing namespace. Enough to drive the server by hand and look at every frame."""

from __future__ import annotations

import base64
import ssl
import xml.etree.ElementTree as ET
from typing import Optional

import websocket

from xmpp_raw import NS_BIND, NS_CLIENT, NS_SASL, NS_STREAMS, ScramClient, XmppError, new_id, q, \
    to_str

NS_FRAMING = "urn:ietf:params:xml:ns:xmpp-framing"
DOMAIN = "localhost"


def open_element(to: str = DOMAIN, version: str = "1.0") -> str:
    return f"<open xmlns='{NS_FRAMING}' to='{to}' version='{version}'/>"


class WsStream:
    """One WebSocket connection to the server's XMPP endpoint."""

    def __init__(self, url: str, subprotocols: Optional[list[str]] = None,
                 timeout: float = 5.0) -> None:
        sslopt = {"cert_reqs": ssl.CERT_NONE, "check_hostname": False}
        self.ws = websocket.create_connection(
            url, subprotocols=["xmpp"] if subprotocols is None else subprotocols,
            timeout=timeout, sslopt=sslopt)
        self.frames: list[str] = []  # every text message received, in order
        self.jid: Optional[str] = None

    # ----- messages -----

    def send(self, data: str) -> None:
        self.ws.send(data)

    def send_binary(self, data: bytes) -> None:
        self.ws.send_binary(data)

    def recv_frame(self, control: bool = False) -> websocket.ABNF:
        return self.ws.recv_data_frame(control_frame=control)[1]

    def next(self) -> ET.Element:
        """The next message, which must be one XML element with its namespaces declared
        (RFC 7395 §3.3.3: each message parses on its own)."""
        opcode, data = self.ws.recv_data(control_frame=False)
        if opcode == websocket.ABNF.OPCODE_CLOSE or data == b"":
            raise XmppError("the WebSocket was closed")
        text = data.decode("utf-8")
        self.frames.append(text)
        assert text.startswith("<"), f"a message must start with '<' (RFC 7395 §3.3.3): {text!r}"
        return ET.fromstring(text)

    def wait_for(self, pred) -> ET.Element:
        while True:
            e = self.next()
            if pred(e):
                return e

    def closed(self) -> bool:
        """Reads until the server closes the WebSocket; True if it did."""
        try:
            while True:
                opcode, data = self.ws.recv_data(control_frame=True)
                if opcode == websocket.ABNF.OPCODE_CLOSE:
                    # Our half of the closing handshake (RFC 6455 §5.5.1).
                    self.close()
                    return True
                if opcode == websocket.ABNF.OPCODE_TEXT:
                    self.frames.append(data.decode("utf-8"))
        except (websocket.WebSocketConnectionClosedException, ConnectionError, OSError):
            return True
        except websocket.WebSocketTimeoutException:
            return False

    def stream_error(self) -> str:
        """The condition of the <stream:error/> that must come next (after features or
        anything else already queued), followed by <close/> (RFC 7395 §3.5)."""
        e = self.wait_for(lambda e: e.tag == q(NS_STREAMS, "error"))
        conds = [c.tag.split("}")[1] for c in e
                 if c.tag.startswith("{urn:ietf:params:xml:ns:xmpp-streams}")
                 and not c.tag.endswith("}text")]
        close = self.next()
        assert close.tag == q(NS_FRAMING, "close"), to_str(close)
        return conds[0]

    # ----- negotiation -----

    def open(self, to: str = DOMAIN) -> ET.Element:
        """Sends <open/>; returns the features after checking the server's <open/>."""
        self.send(open_element(to))
        o = self.next()
        assert o.tag == q(NS_FRAMING, "open"), to_str(o)
        assert o.get("from") == DOMAIN and o.get("version") == "1.0" and o.get("id"), to_str(o)
        features = self.next()
        assert features.tag == q(NS_STREAMS, "features"), to_str(features)
        return features

    def login(self, user: str, password: str, resource: str = "ws") -> str:
        features = self.authenticate(user, password)
        assert features.find(q(NS_BIND, "bind")) is not None, to_str(features)
        iq_id = new_id("bind")
        self.send(f"<iq xmlns='{NS_CLIENT}' type='set' id='{iq_id}'><bind xmlns='{NS_BIND}'>"
                  f"<resource>{resource}</resource></bind></iq>")
        r = self.wait_for(lambda e: e.get("id") == iq_id)
        assert r.get("type") == "result", to_str(r)
        self.jid = r.findtext(f"{q(NS_BIND, 'bind')}/{q(NS_BIND, 'jid')}")
        return self.jid

    def authenticate(self, user: str, password: str) -> ET.Element:
        """SCRAM-SHA-256 and the stream restart; returns the features after it."""
        self.open()
        c = ScramClient(user, password, "SCRAM-SHA-256")
        self.send(f"<auth xmlns='{NS_SASL}' mechanism='SCRAM-SHA-256'>"
                  f"{base64.b64encode(c.first()).decode()}</auth>")
        ch = self.next()
        assert ch.tag == q(NS_SASL, "challenge"), to_str(ch)
        final = c.final(base64.b64decode(ch.text or ""))
        self.send(f"<response xmlns='{NS_SASL}'>{base64.b64encode(final).decode()}</response>")
        ok = self.next()
        assert ok.tag == q(NS_SASL, "success"), to_str(ok)
        # RFC 7395 §3.7: a new <open/>, no <close/>.
        return self.open()

    def iq(self, type_: str, payload: str, to: Optional[str] = None) -> ET.Element:
        iq_id = new_id("wsiq")
        to_attr = f" to='{to}'" if to else ""
        self.send(f"<iq xmlns='{NS_CLIENT}' type='{type_}' id='{iq_id}'{to_attr}>{payload}</iq>")
        return self.wait_for(lambda e: e.get("id") == iq_id)

    def close(self) -> None:
        try:
            self.ws.close()
        except Exception:
            pass
