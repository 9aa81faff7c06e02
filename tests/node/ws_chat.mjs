// A real XMPP-over-WebSocket client (xmpp.js, RFC 7395) for the integration tests: logs
// in, fetches the roster, goes online, sends one chat message to `peer` and waits for the
// answer. Every step is one JSON line on stdout, so the test can check what happened.
//
// node --experimental-websocket ws_chat.mjs SERVICE USER PASSWORD PEER [TIMEOUT_MS]
import { client, xml } from "@xmpp/client";

const [service, username, password, peer, timeoutArg] = process.argv.slice(2);
const log = (o) => process.stdout.write(JSON.stringify(o) + "\n");
const fail = (why) => {
  log({ event: "failed", why: String(why) });
  process.exit(1);
};
setTimeout(() => fail("timed out"), Number(timeoutArg || 20000)).unref();

const xmpp = client({ service, domain: "localhost", username, password, resource: "web" });
xmpp.on("error", (err) => log({ event: "error", message: String(err) }));

xmpp.on("stanza", async (stanza) => {
  if (!stanza.is("message")) return;
  const body = stanza.getChildText("body");
  if (body === null) return;
  log({ event: "message", from: stanza.attrs.from, body });
  if (body === "hello back") {
    await xmpp.stop();
    log({ event: "stopped" });
    process.exit(0);
  }
});

xmpp.on("online", async (address) => {
  log({ event: "online", jid: address.toString() });
  const result = await xmpp.iqCaller.request(
    xml("iq", { type: "get" }, xml("query", { xmlns: "jabber:iq:roster" })),
  );
  const items = result
    .getChild("query", "jabber:iq:roster")
    .getChildren("item")
    .map((i) => ({ jid: i.attrs.jid, name: i.attrs.name, subscription: i.attrs.subscription }));
  log({ event: "roster", items });
  await xmpp.send(xml("presence"));
  await xmpp.send(
    xml("message", { to: peer, type: "chat", id: "ws-1" }, xml("body", {}, "hello from the web")),
  );
  log({ event: "sent" });
});

xmpp.start().catch(fail);
