"""RFC 6121 Appendix A against a running server: every outbound subscription stanza
(A.2) in every one of the nine states (A.1), with the contact's side following the
inbound table (A.3). Each case brings a fresh pair of users into the state with real
stanzas, sends one more, and compares both rosters with what the tables say."""

from __future__ import annotations

import itertools

import pytest

from im_helpers import drain, get_roster, items, presence, roster_query

STATES = ["None", "None+PO", "None+PI", "None+PO+PI", "To", "To+PI", "From", "From+PO", "Both"]
TYPES = ["subscribe", "unsubscribe", "subscribed", "unsubscribed"]

# A.2: (state, outbound type) -> (new state, routed). "+pre": a pre-approval (§3.4).
A2 = {
    "subscribe": {"None": ("None+PO", 1), "None+PO": ("None+PO", 1), "None+PI": ("None+PO+PI", 1),
                  "None+PO+PI": ("None+PO+PI", 1), "To": ("To", 1), "To+PI": ("To+PI", 1),
                  "From": ("From+PO", 1), "From+PO": ("From+PO", 1), "Both": ("Both", 1)},
    "unsubscribe": {"None": ("None", 1), "None+PO": ("None", 1), "None+PI": ("None+PI", 1),
                    "None+PO+PI": ("None+PI", 1), "To": ("None", 1), "To+PI": ("None+PI", 1),
                    "From": ("From", 1), "From+PO": ("From", 1), "Both": ("From", 1)},
    "subscribed": {"None": ("None+pre", 0), "None+PO": ("None+PO+pre", 0), "None+PI": ("From", 1),
                   "None+PO+PI": ("From+PO", 1), "To": ("To+pre", 0), "To+PI": ("Both", 1),
                   "From": ("From", 0), "From+PO": ("From+PO", 0), "Both": ("Both", 0)},
    "unsubscribed": {"None": ("None", 0), "None+PO": ("None+PO", 0), "None+PI": ("None", 1),
                     "None+PO+PI": ("None+PO", 1), "To": ("To", 0), "To+PI": ("To", 1),
                     "From": ("None", 1), "From+PO": ("None+PO", 1), "Both": ("To", 1)},
}
# A.3: (state, inbound type) -> new state (From/Both subscribe: answered by the server).
A3 = {
    "subscribe": {"None": "None+PI", "None+PO": "None+PO+PI", "None+PI": "None+PI",
                  "None+PO+PI": "None+PO+PI", "To": "To+PI", "To+PI": "To+PI", "From": "From",
                  "From+PO": "From+PO", "Both": "Both"},
    "unsubscribe": {"None": "None", "None+PO": "None+PO", "None+PI": "None",
                    "None+PO+PI": "None+PO", "To": "To", "To+PI": "To", "From": "None",
                    "From+PO": "None+PO", "Both": "To"},
    "subscribed": {"None": "None", "None+PO": "To", "None+PI": "None+PI", "None+PO+PI": "To+PI",
                   "To": "To", "To+PI": "To+PI", "From": "From", "From+PO": "Both", "Both": "Both"},
    "unsubscribed": {"None": "None", "None+PO": "None", "None+PI": "None+PI",
                     "None+PO+PI": "None+PI", "To": "None", "To+PI": "None+PI", "From": "From",
                     "From+PO": "From", "Both": "From"},
}
# How to reach each state of alice's item for bob from nothing: (sender, type) steps.
SETUP = {
    "None": [],
    "None+PO": [("a", "subscribe")],
    "None+PI": [("b", "subscribe")],
    "None+PO+PI": [("a", "subscribe"), ("b", "subscribe")],
    "To": [("a", "subscribe"), ("b", "subscribed")],
    "To+PI": [("a", "subscribe"), ("b", "subscribed"), ("b", "subscribe")],
    "From": [("b", "subscribe"), ("a", "subscribed")],
    "From+PO": [("b", "subscribe"), ("a", "subscribed"), ("a", "subscribe")],
    "Both": [("a", "subscribe"), ("b", "subscribed"), ("b", "subscribe"), ("a", "subscribed")],
}


class Side:
    """One user's item for the other, as the tables describe it."""

    def __init__(self) -> None:
        self.state = "None"
        self.pre = False
        self.listed = False  # §3.1.3: an item exists once the user subscribes or approves

    def visible(self):
        """What a roster get shows: None (no item), or (subscription, ask, approved)."""
        if not self.listed:
            return None
        base = self.state.split("+")[0]
        sub = {"None": "none", "To": "to", "From": "from", "Both": "both"}[base]
        ask = "subscribe" if "PO" in self.state.split("+") else None
        return (sub, ask, "true" if self.pre else None)


def model(steps):
    """Applies (sender, type) steps to both sides with tables A.2 and A.3."""
    sides = {"a": Side(), "b": Side()}
    for sender, t in steps:
        me, other = sides[sender], sides["b" if sender == "a" else "a"]
        new, routed = A2[t][me.state]
        if new.endswith("+pre"):
            new, me.pre = new[: -len("+pre")], True
        if t == "unsubscribed":
            me.pre = False
        if t in ("subscribe", "subscribed"):
            me.listed = True
        me.state = new
        if routed:
            before = other.state
            if t == "subscribe" and (other.state.startswith("From") or other.state == "Both"):
                # §3.1.3: already approved: the contact's server answers 'subscribed'.
                me.state = A3["subscribed"][me.state]
            elif t == "subscribe" and other.pre:
                # §3.4.2: pre-approved: completed without asking.
                other.state = {"None": "From", "None+PO": "From+PO", "To": "Both"}[before]
                other.pre = False
                me.state = A3["subscribed"][me.state]
            else:
                other.state = A3[t][before]
    return sides


def roster_view(s, jid):
    it = items(roster_query(get_roster(s))).get(jid)
    return None if it is None else (it["subscription"], it["ask"], it["approved"])


@pytest.mark.parametrize("state,stanza", list(itertools.product(STATES, TYPES)))
def test_appendix_a(server, state, stanza):
    """RFC 6121 Appendix A.2 row (state, outbound stanza) and the A.3 rows it causes."""
    n = STATES.index(state) * len(TYPES) + TYPES.index(stanza)
    a_user, b_user = f"a{n}", f"b{n}"
    aj, bj = f"{a_user}@localhost", f"{b_user}@localhost"
    a = server.login(a_user, f"{a_user}-password")
    b = server.login(b_user, f"{b_user}-password")
    for s in (a, b):
        get_roster(s)
    streams = {"a": (a, bj), "b": (b, aj)}
    steps = SETUP[state] + [("a", stanza)]
    for sender, t in steps:
        s, to = streams[sender]
        presence(s, to, t)
        # Each step is processed before the next (a roster get is answered after it).
        get_roster(s)
    # The last step is alice's: her barrier, then bob's (what it caused there has arrived).
    drain(a)
    drain(b)
    expected = model(steps)
    before = model(SETUP[state])
    assert before["a"].state == state, "the set-up sequence reaches the wrong state"
    assert roster_view(a, bj) == expected["a"].visible(), (
        f"{state} + outbound {stanza}: alice's item")
    assert roster_view(b, aj) == expected["b"].visible(), (
        f"{state} + outbound {stanza}: bob's item (inbound {stanza} in {before['b'].state})")
