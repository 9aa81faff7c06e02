"""slixmpp (Debian's python3-slixmpp 1.8.3) as a real peer client.

Quirks of that version handled here:
- ``process(timeout=...)`` does not work on Python 3.11: everything runs in an
  explicit event loop with asyncio.wait_for;
- its pre-session stanza queue holds back the XEP-0077 registration iq, so
  ``_always_send_everything`` is set;
- the server's certificate is self-signed: verification is off.
"""

from __future__ import annotations

import asyncio
import logging
import ssl
from typing import Any, Awaitable, Callable, Optional

import slixmpp
from slixmpp.exceptions import IqError

logging.getLogger("slixmpp").setLevel(logging.CRITICAL)

DEFAULT_TIMEOUT = 10.0


class Client(slixmpp.ClientXMPP):
    def __init__(self, jid: str, password: str, register: bool = False) -> None:
        super().__init__(jid, password)
        for p in ("xep_0030", "xep_0077", "xep_0092", "xep_0199"):
            self.register_plugin(p)
        self._always_send_everything = True
        self.ssl_context.check_hostname = False
        self.ssl_context.verify_mode = ssl.CERT_NONE
        self.enable_plaintext = False
        self.started: asyncio.Future = self.loop.create_future()
        self.register_result: Optional[str] = None  # "ok" or the error condition
        self.add_event_handler("session_start", self._on_start)
        self.add_event_handler("failed_all_auth", self._on_failed_auth)
        self.add_event_handler("disconnected", self._on_disconnected)
        if register:
            self["xep_0077"].force_registration = True
            self.add_event_handler("register", self._on_register)

    def _settle(self, value: Any = None, exc: Optional[BaseException] = None) -> None:
        if self.started.done():
            return
        if exc is not None:
            self.started.set_exception(exc)
        else:
            self.started.set_result(value)

    async def _on_start(self, _event: Any) -> None:
        self._settle(True)

    async def _on_failed_auth(self, _event: Any) -> None:
        self._settle(exc=AuthFailed("all SASL mechanisms failed"))

    async def _on_disconnected(self, _event: Any) -> None:
        self._settle(exc=Disconnected("disconnected before session start"))

    async def _on_register(self, _event: Any) -> None:
        iq = self.Iq()
        iq["type"] = "set"
        iq["register"]["username"] = self.boundjid.user
        iq["register"]["password"] = self.password
        try:
            await iq.send(timeout=5)
            self.register_result = "ok"
        except IqError as e:
            self.register_result = e.iq["error"]["condition"]


class AuthFailed(Exception):
    pass


class Disconnected(Exception):
    pass


def run(coro_fn: Callable[[asyncio.AbstractEventLoop], Awaitable[Any]],
        timeout: float = DEFAULT_TIMEOUT) -> Any:
    """Runs one scenario in a fresh event loop (slixmpp binds to the current loop)."""
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    try:
        return loop.run_until_complete(asyncio.wait_for(coro_fn(loop), timeout))
    finally:
        # slixmpp leaves tasks behind (its filter loop, say): end them inside the loop.
        pending = asyncio.all_tasks(loop)
        for task in pending:
            task.cancel()
        loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
        loop.run_until_complete(loop.shutdown_asyncgens())
        loop.close()
        asyncio.set_event_loop(None)


async def wait_until(pred: Callable[[], bool], what: str, timeout: float = 5.0,
                     interval: float = 0.02) -> None:
    """Polls pred (the client's view: its roster, a resource's status) until it holds,
    letting the event loop run slixmpp's handlers meanwhile; fails naming `what` after
    `timeout` seconds. slixmpp updates that view in its own handlers, after the stanza
    that changes it, so awaiting the iq that caused it is not enough."""
    deadline = asyncio.get_running_loop().time() + timeout
    while not pred():
        if asyncio.get_running_loop().time() >= deadline:
            raise AssertionError(f"timed out after {timeout} s waiting until {what}")
        await asyncio.sleep(interval)


async def connect(jid: str, password: str, port: int, direct_tls: bool = False,
                  register: bool = False, timeout: float = DEFAULT_TIMEOUT) -> Client:
    """Connects and waits for session start (raises AuthFailed / Disconnected)."""
    c = Client(jid, password, register=register)
    c.connect(("127.0.0.1", port), use_ssl=direct_tls)
    try:
        await asyncio.wait_for(c.started, timeout)
    except BaseException:
        await disconnect(c)
        raise
    return c


async def disconnect(c: Client, timeout: float = 5.0) -> None:
    if c.transport is None:
        return
    c.disconnect()
    try:
        await asyncio.wait_for(c.disconnected, timeout)
    except asyncio.TimeoutError:
        c.abort()


def register(port: int, user: str, password: str, direct_tls: bool = False) -> Optional[str]:
    """XEP-0077 §3.1 with slixmpp: returns "ok" or the error condition."""
    async def scenario(_loop: asyncio.AbstractEventLoop) -> Optional[str]:
        c = Client(f"{user}@localhost/reg", password, register=True)
        c.connect(("127.0.0.1", port), use_ssl=direct_tls)
        try:
            # After registering, slixmpp goes on to log in with the same credentials.
            await asyncio.wait_for(c.started, DEFAULT_TIMEOUT)
        except (AuthFailed, Disconnected):
            pass
        finally:
            await disconnect(c)
        return c.register_result
    return run(scenario)
