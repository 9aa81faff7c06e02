#include "hongyan/client.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <deque>
#include <map>
#include <random>
#include <set>

#include "client/protocol.hpp"
#include "xmpp/crypto.hpp"
#include "xmpp/datetime.hpp"
#include "xmpp/jid.hpp"
#include "xmpp/namespaces.hpp"
#include "xmpp/stream_management.hpp"

namespace hongyan::client {

namespace {

constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);

Error usage(std::string step, std::string condition, std::string text = {}) {
    return Error::make(ErrorKind::usage, std::move(step), std::move(condition), std::move(text));
}

// "user@domain" of any JID string, or the string itself when it does not parse.
std::string bare_of(std::string_view jid) {
    auto parsed = Jid::parse(jid);
    return parsed ? parsed->bare_str() : std::string(jid);
}

Message read_message(const xml::Element& el) {
    Message m;
    m.from = std::string(el.attr("from"));
    m.to = std::string(el.attr("to"));
    if (el.has_attr("type")) m.type = std::string(el.attr("type"));
    m.id = std::string(el.attr("id"));
    m.body = el.child_text("body", el.xmlns());
    if (const auto* d = el.child("delay", ns::delay)) m.timestamp = std::string(d->attr("stamp"));
    m.stanza = el;
    return m;
}

// The message inside <forwarded/> (XEP-0297), with its delay stamp if any.
const xml::Element* forwarded_message(const xml::Element& wrapper, std::string* stamp) {
    const auto* fwd = wrapper.child("forwarded", ns::forward);
    if (!fwd) return nullptr;
    if (const auto* d = fwd->child("delay", ns::delay); d && stamp)
        *stamp = std::string(d->attr("stamp"));
    const auto* inner = fwd->child("message", ns::client);
    return inner;
}

RosterItem read_item(const xml::Element& item) {
    RosterItem r;
    r.jid = std::string(item.attr("jid"));
    r.name = std::string(item.attr("name"));
    if (item.has_attr("subscription")) r.subscription = std::string(item.attr("subscription"));
    r.pending_out = item.attr("ask") == "subscribe";
    for (const auto* g : item.children())
        if (g->name() == "group") r.groups.push_back(g->text());
    return r;
}

xml::Element iq(std::string_view type, std::string_view child, std::string_view child_ns) {
    xml::Element e("iq", ns::client);
    e.set_attr("type", type);
    e.add_child(std::string(child), std::string(child_ns));
    return e;
}

void add_field(xml::Element& form, std::string_view var, std::string_view value,
               std::string_view type = {}) {
    auto& f = form.add_child("field", std::string(ns::data_forms));
    f.set_attr("var", var);
    if (!type.empty()) f.set_attr("type", type);
    f.add_child("value", std::string(ns::data_forms)).add_text(value);
}

}  // namespace

struct Client::Impl : std::enable_shared_from_this<Impl> {
    // Something a coroutine waits for: an answer, an acknowledgement, the end of reading.
    struct Waiter {
        explicit Waiter(asio::any_io_executor ex) : timer(ex) {}
        asio::steady_timer timer;
        std::optional<Result<xml::Element>> outcome;
    };
    using WaiterPtr = std::shared_ptr<Waiter>;

    Impl(asio::any_io_executor ex, ClientOptions o)
        : strand(asio::make_strand(ex)), options(std::move(o)) {
        std::random_device rd;
        id_prefix = "hy" + std::to_string(rd() % 100000) + "-";
    }

    asio::strand<asio::any_io_executor> strand;
    ClientOptions options;
    std::optional<Jid> account;
    std::shared_ptr<asio::ssl::context> tls;
    std::shared_ptr<Stream> stream;
    std::string full_jid;
    bool reading = false;  // connected, or reconnecting after a drop
    bool online = false;   // the stream is up: writes may go out
    bool closing = false;
    WaiterPtr ended;

    std::function<void(const Message&)> message_fn;
    std::function<void(const Presence&)> presence_fn;
    std::function<void(const RosterItem&)> roster_fn;
    std::function<void(const Error&)> disconnect_fn;
    std::function<void(bool)> reconnect_fn;
    std::function<void(const std::string&, const Occupant&, bool)> occupant_fn;

    std::deque<std::string> out_queue;
    bool writing = false;
    bool close_after_writes = false;

    std::map<std::string, WaiterPtr> iqs;          // by id: answers to our iqs
    std::map<std::string, WaiterPtr> sends;        // by id: error stanzas for what we sent
    std::multimap<std::uint64_t, WaiterPtr> acks;  // by XEP-0198 sequence number
    std::map<std::string, std::shared_ptr<std::vector<Message>>> mam_queries;  // by queryid

    bool sm = false;
    std::uint32_t sent_count = 0;     // stanzas sent since <enable/> (XEP-0198 §4)
    std::uint32_t handled_count = 0;  // stanzas received since <enabled/>
    // What the server has not acknowledged yet, by sequence number: resent once after a
    // resume (XEP-0198 §5).
    std::deque<std::pair<std::uint32_t, std::string>> unacked;
    std::string sm_id;  // the session to resume; empty when the server allows none
    // A room we are in or joining (XEP-0045), by its bare JID.
    struct RoomState {
        std::string nick, password;
        std::map<std::string, Occupant> occupants;
        bool in = false;       // our own presence came back (§7.2.3)
        bool created = false;  // status 201
        std::string subject;
        std::vector<Message> history;  // while joining: the messages before the subject
        WaiterPtr joining, leaving;
        std::string last_seen;  // XEP-0082 time of the last message, for a new join's history
    };
    std::map<std::string, RoomState> rooms;
    // Restored on a new session after a drop.
    bool carbons_on = false;
    std::optional<xml::Element> last_presence;
    std::string id_prefix;
    std::uint64_t next_id = 0;

    std::string new_id() { return id_prefix + std::to_string(++next_id); }

    WaiterPtr make_waiter() { return std::make_shared<Waiter>(strand); }

    static void complete(const WaiterPtr& w, Result<xml::Element> outcome) {
        if (w->outcome) return;
        w->outcome = std::move(outcome);
        w->timer.cancel();
    }

    asio::awaitable<Result<xml::Element>> wait(WaiterPtr w, const char* step) {
        if (!w->outcome) {
            w->timer.expires_after(
                std::chrono::milliseconds(static_cast<long>(options.timeout * 1000)));
            co_await w->timer.async_wait(use_tuple);
        }
        if (w->outcome) co_return *w->outcome;
        co_return Error::make(ErrorKind::timeout, step, "no answer",
                              "within " + std::to_string(static_cast<int>(options.timeout)) + " s");
    }

    Error not_connected(const char* step) const {
        return usage(step, "not connected", "call connect() first");
    }

    // ---- writing ----

    void enqueue(std::string data) {
        out_queue.push_back(std::move(data));
        start_writing();
    }

    void start_writing() {
        if (!writing && online && !out_queue.empty()) {
            writing = true;
            asio::co_spawn(strand, write_loop(shared_from_this()), asio::detached);
        }
    }

    static asio::awaitable<void> write_loop(std::shared_ptr<Impl> self) {
        // The stream this loop writes to stays alive until the loop ends, even if a
        // reconnect replaces it meanwhile.
        std::shared_ptr<Stream> s = self->stream;
        while (!self->out_queue.empty() && s == self->stream && self->online) {
            std::string batch;
            while (!self->out_queue.empty()) {
                batch += self->out_queue.front();
                self->out_queue.pop_front();
            }
            if (!co_await s->write(std::move(batch))) {
                // The reader sees the connection end; stanzas are still in `unacked`.
                self->out_queue.clear();
                break;
            }
        }
        if (self->close_after_writes && s == self->stream) co_await s->request_close(5.0);
        self->writing = false;
        self->start_writing();  // what a new stream got meanwhile
    }

    // Serializes a stanza we send, counting it for XEP-0198.
    std::uint32_t enqueue_stanza(xml::Element& el) {
        // A stanza the program built without a namespace is in the stream's (RFC 6120 §4.8.3).
        if (el.xmlns().empty()) el.replace_namespace("", ns::client);
        std::string data = el.to_string(ns::client);
        if (!sm) {
            enqueue(std::move(data));
            return 0;
        }
        unacked.emplace_back(++sent_count, data);
        enqueue(std::move(data));
        return sent_count;
    }

    // ---- reading ----

    static asio::awaitable<void> read_loop(std::shared_ptr<Impl> self) {
        Error why = Error::make(ErrorKind::closed, "read", "connection closed");
        for (;;) {
            std::shared_ptr<Stream> s = self->stream;
            auto r = co_await s->read();
            if (r && r->name().empty()) break;  // the end we asked for
            if (r) {
                self->handle(*r);
                continue;
            }
            why = r.error();
            self->online = false;
            s->abort();
            if (self->closing || !self->options.reconnect.enabled || !worth_reconnecting(why))
                break;
            auto back = co_await self->reconnect();
            if (!back) {
                why = back.error();
                break;
            }
        }
        self->online = false;
        self->reading = false;
        self->fail_all(why);
        if (!self->closing && self->disconnect_fn) self->disconnect_fn(why);
        if (self->ended) complete(self->ended, xml::Element());
    }

    // A stream error ends the session on purpose; coming back helps only after a restart
    // or a fault of the server's (RFC 6120 §4.9.3), not after a conflict or a policy.
    static bool worth_reconnecting(const Error& why) {
        if (why.kind != ErrorKind::stream) return true;
        for (const char* c : {"system-shutdown", "connection-timeout", "reset",
                              "internal-server-error", "remote-connection-failed"})
            if (why.condition == c) return true;
        return false;
    }

    void fail_all(const Error& why) {
        for (auto* m : {&iqs, &sends})
            for (auto& [id, w] : *m) complete(w, why);
        for (auto& [seq, w] : acks) complete(w, why);
        iqs.clear();
        sends.clear();
        acks.clear();
    }

    void handle(const xml::Element& el) {
        if (el.xmlns() == ns::sm) {
            handle_sm(el);
            return;
        }
        if (sm) ++handled_count;
        if (el.name() == "iq")
            handle_iq(el);
        else if (el.name() == "message")
            handle_message(el);
        else if (el.name() == "presence")
            handle_presence(el);
    }

    void handle_sm(const xml::Element& el) {
        if (el.name() == "r") {
            // XEP-0198 §4: answer a request with the count of stanzas handled.
            enqueue("<a xmlns='" + std::string(ns::sm) + "' h='" + std::to_string(handled_count) +
                    "'/>");
        } else if (el.name() == "a") {
            if (auto h = parse_sm_count(el.attr("h"))) acknowledged(*h);
        }
    }

    // The server has handled our stanzas up to `h`. Sequence numbers wrap at 2^32
    // (XEP-0198 §5); a client sends far fewer between acknowledgements.
    void acknowledged(std::uint32_t h) {
        while (!unacked.empty() && unacked.front().first <= h) unacked.pop_front();
        while (!acks.empty() && acks.begin()->first <= h) {
            complete(acks.begin()->second, xml::Element());
            acks.erase(acks.begin());
        }
    }

    bool from_server_or_self(const xml::Element& el) const {
        std::string_view from = el.attr("from");
        return from.empty() || from == account->domain() || bare_of(from) == account->bare_str();
    }

    void handle_iq(const xml::Element& el) {
        std::string type(el.attr("type"));
        std::string id(el.attr("id"));
        if (type == "result" || type == "error") {
            if (auto it = iqs.find(id); it != iqs.end()) {
                auto w = it->second;
                iqs.erase(it);
                complete(w, el);
            }
            return;
        }
        xml::Element reply("iq", ns::client);
        reply.set_attr("id", id);
        if (el.has_attr("from")) reply.set_attr("to", el.attr("from"));
        const auto* payload = el.first_child();
        if (type == "get" && payload && payload->is("ping", ns::ping)) {
            reply.set_attr("type", "result");  // XEP-0199 §4
        } else if (type == "set" && payload && payload->is("query", ns::roster) &&
                   from_server_or_self(el)) {
            // RFC 6121 §2.1.6: a push; acknowledge it, then tell the program.
            reply.set_attr("type", "result");
            enqueue_stanza(reply);
            for (const auto* item : payload->children())
                if (item->name() == "item" && roster_fn) roster_fn(read_item(*item));
            return;
        } else {
            // RFC 6120 §8.4: an iq nobody here understands.
            reply.set_attr("type", "error");
            auto& err = reply.add_child("error", std::string(ns::client));
            err.set_attr("type", "cancel");
            err.add_child("service-unavailable", std::string(ns::stanzas));
        }
        enqueue_stanza(reply);
    }

    void handle_message(const xml::Element& el) {
        if (const auto* result = el.child("result", ns::mam)) {
            // XEP-0313 §4.2: a result of one of our queries; only the server may send one.
            auto it = mam_queries.find(std::string(result->attr("queryid")));
            if (it == mam_queries.end() || !from_server_or_self(el)) return;
            std::string stamp;
            if (const auto* inner = forwarded_message(*result, &stamp)) {
                Message m = read_message(*inner);
                m.stanza_id = std::string(result->attr("id"));
                m.timestamp = stamp;
                m.outgoing = bare_of(m.from) == account->bare_str();
                it->second->push_back(std::move(m));
            }
            return;
        }
        if (el.attr("type") == "error") {
            if (auto it = sends.find(std::string(el.attr("id"))); it != sends.end()) {
                complete(it->second, stanza_error("send", el));
                sends.erase(it);
            }
        }
        if (handle_room_message(el)) return;
        for (std::string_view kind : {"received", "sent"}) {
            const auto* wrapper = el.child(kind, ns::carbons);
            if (!wrapper) continue;
            // XEP-0280 §11: a carbon is only genuine from our own bare JID.
            if (bare_of(el.attr("from")) != account->bare_str()) return;
            const auto* inner = forwarded_message(*wrapper, nullptr);
            if (!inner) return;
            Message m = read_message(*inner);
            m.carbon = true;
            m.outgoing = kind == "sent";
            stamp_id(m, *inner);
            if (message_fn) message_fn(m);
            return;
        }
        Message m = read_message(el);
        stamp_id(m, el);
        if (message_fn) message_fn(m);
    }

    // XEP-0359 §3: the stanza-id our own server put on the message.
    void stamp_id(Message& m, const xml::Element& el) const {
        for (const auto* c : el.children())
            if (c->is("stanza-id", ns::sid) && c->attr("by") == account->bare_str())
                m.stanza_id = std::string(c->attr("id"));
    }

    void handle_presence(const xml::Element& el) {
        if (el.attr("type") == "error") {
            if (auto it = sends.find(std::string(el.attr("id"))); it != sends.end()) {
                complete(it->second, stanza_error("send", el));
                sends.erase(it);
            }
        }
        if (handle_room_presence(el)) return;
        if (!presence_fn) return;
        Presence p;
        p.from = std::string(el.attr("from"));
        p.type = std::string(el.attr("type"));
        p.show = el.child_text("show", el.xmlns());
        p.status = el.child_text("status", el.xmlns());
        try {
            std::string prio = el.child_text("priority", el.xmlns());
            if (!prio.empty()) p.priority = std::stoi(prio);
        } catch (const std::exception&) {
        }
        presence_fn(p);
    }

    // ---- rooms (XEP-0045) ----

    RoomState* room_of(std::string_view from, Jid* parsed = nullptr) {
        auto j = Jid::parse(from);
        if (!j) return nullptr;
        auto it = rooms.find(j->bare_str());
        if (it == rooms.end()) return nullptr;
        if (parsed) *parsed = *j;
        return &it->second;
    }

    // A groupchat message of a room we are in: the history and subject that end a join
    // (§7.2.14, §7.2.15), or a live one for the program.
    bool handle_room_message(const xml::Element& el) {
        if (el.attr("type") != "groupchat") return false;
        RoomState* st = room_of(el.attr("from"));
        if (!st) return false;
        Message m = read_message(el);
        m.subject = el.child_text("subject", el.xmlns());
        bool subject_change = el.child("subject", el.xmlns()) && m.body.empty();
        if (st->joining && st->in) {
            if (subject_change) {
                st->subject = m.subject;
                complete(st->joining, xml::Element());
            } else {
                st->history.push_back(std::move(m));
            }
            return true;
        }
        if (subject_change) st->subject = m.subject;
        if (m.timestamp.empty()) st->last_seen = datetime::format_us(datetime::now_us());
        if (message_fn) message_fn(m);
        return true;
    }

    bool handle_room_presence(const xml::Element& el) {
        Jid from;
        RoomState* st = room_of(el.attr("from"), &from);
        if (!st) return false;
        std::string room = from.bare_str();
        if (el.attr("type") == "error") {
            // §7.2: the room refused the join (conflict, not-authorized, registration-required...).
            if (st->joining) complete(st->joining, stanza_error("join", el));
            return true;
        }
        Occupant o;
        o.nick = from.resource();
        o.show = el.child_text("show", el.xmlns());
        o.status = el.child_text("status", el.xmlns());
        std::set<std::string> codes;
        std::string new_nick;
        if (const auto* x = el.child("x", ns::muc_user)) {
            for (const auto* c : x->children()) {
                if (c->name() == "status") codes.insert(std::string(c->attr("code")));
                if (c->name() == "item") {
                    o.jid = std::string(c->attr("jid"));
                    o.affiliation = std::string(c->attr("affiliation"));
                    o.role = std::string(c->attr("role"));
                    new_nick = std::string(c->attr("nick"));
                }
            }
        }
        // §7.2.3: status 110 marks our own presence; older rooms only show it by the nick.
        bool self = codes.contains("110") || o.nick == st->nick;
        if (el.attr("type") == "unavailable") {
            st->occupants.erase(o.nick);
            if (self && codes.contains("303") && !new_nick.empty()) {
                st->nick = new_nick;  // §7.6: our nick changed; the new presence follows
                return true;
            }
            if (occupant_fn) occupant_fn(room, o, false);
            if (self) {
                // We left, were kicked or banned (307, 301), or the room is gone (§10.9).
                if (st->leaving) complete(st->leaving, xml::Element());
                if (st->joining)
                    complete(st->joining, Error::make(ErrorKind::stanza, "join", "not-allowed",
                                                      "the room sent us away"));
                rooms.erase(room);
            }
            return true;
        }
        st->occupants[o.nick] = o;
        if (self) {
            st->nick = o.nick;  // §7.2.9: the room may have changed it (210)
            st->in = true;
            // §10.1.2: a new room waits to be configured; the join is done without a subject.
            if (codes.contains("201")) {
                st->created = true;
                if (st->joining) complete(st->joining, xml::Element());
            }
        }
        if (occupant_fn && !st->joining) occupant_fn(room, o, true);
        return true;
    }

    xml::Element join_presence(const std::string& room, const RoomState& st, int history,
                               const std::string& since) {
        xml::Element p("presence", ns::client);
        p.set_attr("to", room + "/" + st.nick);
        // The room shows the presence we show everyone else.
        if (last_presence)
            for (const auto* c : last_presence->children())
                if (c->name() == "show" || c->name() == "status") p.add_child(*c);
        auto& x = p.add_child("x", std::string(ns::muc));
        if (!st.password.empty())
            x.add_child("password", std::string(ns::muc)).add_text(st.password);
        if (history >= 0 || !since.empty()) {
            auto& h = x.add_child("history", std::string(ns::muc));
            if (!since.empty())
                h.set_attr("since", since);
            else
                h.set_attr("maxstanzas", std::to_string(history));
        }
        return p;
    }

    // Sends the join and waits for the end of it; the room state stays in `rooms`.
    asio::awaitable<Result<void>> do_join(std::string room, int history, std::string since) {
        auto& st = rooms[room];
        st.in = false;
        st.occupants.clear();
        st.history.clear();
        st.joining = make_waiter();
        auto w = st.joining;
        xml::Element p = join_presence(room, st, history, since);
        enqueue_stanza(p);
        auto got = co_await wait(w, "join");
        auto it = rooms.find(room);
        if (it == rooms.end()) co_return got ? Result<void>{} : Result<void>(got.error());
        it->second.joining = nullptr;
        if (!got) {
            rooms.erase(it);
            co_return got.error();
        }
        if (it->second.created) {
            // §10.1.2: accept the default configuration; until then the room is locked.
            xml::Element cfg = iq("set", "query", ns::muc_owner);
            cfg.set_attr("to", room);
            auto& form =
                cfg.child("query", ns::muc_owner)->add_child("x", std::string(ns::data_forms));
            form.set_attr("type", "submit");
            auto made = co_await request(std::move(cfg));
            if (!made) co_return made.error();
        }
        co_return Result<void>{};
    }

    asio::awaitable<Result<Room>> join_room(std::string room_jid, JoinOptions o) {
        if (!reading) co_return not_connected("join");
        auto j = Jid::parse(room_jid);
        if (!j || j->local().empty() || !j->resource().empty())
            co_return usage("join", "bad room JID", "'" + room_jid + "' is not room@service");
        std::string room = j->bare_str();
        if (rooms.contains(room)) co_return usage("join", "already joined", room);
        auto& st = rooms[room];
        st.nick = o.nick.empty() ? account->local() : o.nick;
        st.password = o.password;
        auto r = co_await do_join(room, o.history, {});
        if (!r) co_return r.error();
        auto& joined = rooms[room];
        Room out{.jid = room,
                 .nick = joined.nick,
                 .subject = joined.subject,
                 .created = joined.created,
                 .occupants = {},
                 .history = std::move(joined.history)};
        joined.history.clear();
        for (auto& [nick, occ] : joined.occupants) out.occupants.push_back(occ);
        // A later join asks for what came after this (XEP-0045 §7.2.14, since).
        joined.last_seen = datetime::format_us(datetime::now_us());
        co_return out;
    }

    asio::awaitable<Result<void>> leave_room(std::string room_jid) {
        std::string room = bare_of(room_jid);
        auto it = rooms.find(room);
        if (it == rooms.end()) co_return usage("leave", "not in the room", room);
        xml::Element p("presence", ns::client);
        p.set_attr("to", room + "/" + it->second.nick);
        p.set_attr("type", "unavailable");
        it->second.leaving = make_waiter();
        auto w = it->second.leaving;
        enqueue_stanza(p);
        auto got = co_await wait(w, "leave");  // §7.14: our own unavailable presence
        rooms.erase(room);
        if (!got) co_return got.error();
        co_return Result<void>{};
    }

    asio::awaitable<Result<void>> send_room_message(std::string room_jid, std::string body) {
        std::string room = bare_of(room_jid);
        if (!rooms.contains(room)) co_return usage("send", "not in the room", room);
        xml::Element m("message", ns::client);
        m.set_attr("to", room);
        m.set_attr("type", "groupchat");
        m.add_child("body", std::string(ns::client)).add_text(body);
        co_return co_await send(std::move(m));
    }

    // After a reconnect: is each room still there for us? A resumed session usually is;
    // XEP-0410 §3.2 tells from a ping to our own occupant JID. A new session never is.
    static asio::awaitable<void> restore_rooms(std::shared_ptr<Impl> self, bool resumed) {
        std::vector<std::string> names;
        for (auto& [room, st] : self->rooms)
            if (!st.joining) names.push_back(room);
        for (const auto& room : names) {
            auto it = self->rooms.find(room);
            if (it == self->rooms.end()) continue;
            if (resumed) {
                xml::Element p = iq("get", "ping", ns::ping);
                p.set_attr("to", room + "/" + it->second.nick);
                auto r = co_await self->request(std::move(p));
                // §3.2: an answer, or an error only a client gives, means we are in; so does
                // item-not-found (our nick changed meanwhile) and a remote failure (unknown).
                if (r ||
                    (r.error().kind == ErrorKind::stanza &&
                     (r.error().condition == "service-unavailable" ||
                      r.error().condition == "feature-not-implemented" ||
                      r.error().condition == "item-not-found" ||
                      r.error().condition.starts_with("remote-server"))) ||
                    r.error().kind != ErrorKind::stanza)
                    continue;
            }
            it = self->rooms.find(room);
            if (it == self->rooms.end()) continue;
            if (!co_await self->do_join(room, -1, it->second.last_seen)) continue;
            it = self->rooms.find(room);
            if (it == self->rooms.end()) continue;
            auto missed = std::move(it->second.history);
            it->second.history.clear();
            for (const auto& [nick, occ] : it->second.occupants)
                if (self->occupant_fn) self->occupant_fn(room, occ, true);
            for (const auto& m : missed) {
                if (!m.timestamp.empty()) it->second.last_seen = m.timestamp;
                if (self->message_fn) self->message_fn(m);
            }
        }
    }

    // ---- vCard (XEP-0054) ----

    static std::string vcard_text(const xml::Element& card, std::string_view name,
                                  std::string_view inner = {}) {
        const auto* c = card.child(name, ns::vcard);
        if (!c) return {};
        if (inner.empty()) return c->text();
        return c->child_text(inner, ns::vcard);
    }

    asio::awaitable<Result<VCard>> vcard(std::string jid) {
        xml::Element get = iq("get", "vCard", ns::vcard);
        if (!jid.empty()) {
            auto parsed = Jid::parse(jid);
            if (!parsed) co_return usage("vcard", "bad JID", "'" + jid + "' is not a JID");
            get.set_attr("to", parsed->bare_str());  // §3.2: to the bare JID
        }
        auto r = co_await request(std::move(get));
        VCard v;
        if (!r) {
            // §3.1: some servers answer item-not-found for a user without a vCard.
            if (r.error().kind == ErrorKind::stanza && r.error().condition == "item-not-found") {
                v.element = xml::Element("vCard", ns::vcard);
                co_return v;
            }
            co_return r.error();
        }
        const auto* card = r->child("vCard", ns::vcard);
        v.element = card ? *card : xml::Element("vCard", ns::vcard);
        v.full_name = vcard_text(v.element, "FN");
        v.nickname = vcard_text(v.element, "NICKNAME");
        v.email = vcard_text(v.element, "EMAIL", "USERID");
        v.url = vcard_text(v.element, "URL");
        v.note = vcard_text(v.element, "DESC");
        v.photo_type = vcard_text(v.element, "PHOTO", "TYPE");
        std::string b64;
        for (char ch : vcard_text(v.element, "PHOTO", "BINVAL"))
            if (ch != ' ' && ch != '\n' && ch != '\r' && ch != '\t') b64 += ch;
        if (auto bytes = crypto::base64_decode(b64)) v.photo = std::move(*bytes);
        co_return v;
    }

    asio::awaitable<Result<void>> set_vcard(VCard v) {
        // Everything the fields stand for is written anew; the rest of the card is kept.
        xml::Element card("vCard", ns::vcard);
        if (v.element.name() == "vCard")
            for (const auto* c : v.element.children())
                if (c->name() != "FN" && c->name() != "NICKNAME" && c->name() != "EMAIL" &&
                    c->name() != "URL" && c->name() != "DESC" && c->name() != "PHOTO")
                    card.add_child(*c);
        auto put = [&](const char* name, const std::string& value) -> xml::Element* {
            if (value.empty()) return nullptr;
            auto& e = card.add_child(name, std::string(ns::vcard));
            e.add_text(value);
            return &e;
        };
        put("FN", v.full_name);
        put("NICKNAME", v.nickname);
        if (!v.email.empty()) {
            auto& e = card.add_child("EMAIL", std::string(ns::vcard));
            e.add_child("INTERNET", std::string(ns::vcard));
            e.add_child("USERID", std::string(ns::vcard)).add_text(v.email);
        }
        put("URL", v.url);
        put("DESC", v.note);
        if (!v.photo.empty()) {
            auto& e = card.add_child("PHOTO", std::string(ns::vcard));
            e.add_child("TYPE", std::string(ns::vcard))
                .add_text(v.photo_type.empty() ? "image/png" : v.photo_type);
            e.add_child("BINVAL", std::string(ns::vcard)).add_text(crypto::base64_encode(v.photo));
        }
        xml::Element set("iq", ns::client);
        set.set_attr("type", "set");
        set.add_child(std::move(card));
        auto r = co_await request(std::move(set));
        if (!r) co_return r.error();
        co_return Result<void>{};
    }

    // ---- calls ----

    Result<void> prepare() {
        account = Jid::parse(options.jid);
        if (!account || account->local().empty())
            return usage("connect", "bad JID", "'" + options.jid + "' is not user@domain");
        if (options.connect.domain.empty()) options.connect.domain = account->domain();
        if (!tls) {
            auto made = make_tls_context(options.connect.trust);
            if (!made) return made.error();
            tls = *made;
        }
        return {};
    }

    asio::awaitable<Result<void>> connect() {
        if (reading) co_return usage("connect", "already connected");
        if (auto p = prepare(); !p) co_return p;
        auto s = std::make_shared<Stream>(strand, *tls, options.connect);
        std::vector<xml::Element> early;
        auto r = co_await open_session(*s, early, nullptr);
        if (!r) co_return r;
        closing = false;
        reading = true;
        ended = make_waiter();
        go_online(std::move(s), early);
        co_return Result<void>{};
    }

    void go_online(std::shared_ptr<Stream> s, const std::vector<xml::Element>& early) {
        stream = std::move(s);
        online = true;
        for (const auto& el : early) handle(el);
        if (!reading_loop_running) {
            reading_loop_running = true;
            asio::co_spawn(strand, read_loop_guard(shared_from_this()), asio::detached);
        }
        start_writing();
    }

    bool reading_loop_running = false;
    static asio::awaitable<void> read_loop_guard(std::shared_ptr<Impl> self) {
        co_await read_loop(self);
        self->reading_loop_running = false;
    }

    // Connect and log in on `s`; then resume the old session if `resumed` is given and
    // the server agrees (setting *resumed), else bind and enable stream management.
    // What the server sends meanwhile goes into `early`.
    asio::awaitable<Result<void>> open_session(Stream& s, std::vector<xml::Element>& early,
                                               bool* resumed) {
        s.arm_deadline(options.timeout);
        auto r = co_await log_in(s, early, resumed);
        s.disarm_deadline();
        if (!r) s.abort();
        co_return r;
    }

    asio::awaitable<Result<void>> log_in(Stream& s, std::vector<xml::Element>& early,
                                         bool* resumed) {
        auto r = co_await s.connect();
        if (r)
            r = co_await s.authenticate(account->local(), options.password,
                                        options.password_cache.get());
        if (!r) co_return r;
        const bool offers_sm = options.stream_management && s.features().child("sm", ns::sm);
        if (resumed && !sm_id.empty() && offers_sm) {
            // XEP-0198 §5: what we handled, and which session.
            if (auto w = co_await s.write("<resume xmlns='" + std::string(ns::sm) + "' h='" +
                                          std::to_string(handled_count) + "' previd='" +
                                          xml::escape(sm_id) + "'/>");
                !w)
                co_return w;
            auto got = co_await s.read();
            if (!got) co_return got.error();
            if (got->is("resumed", ns::sm)) {
                *resumed = true;
                if (auto h = parse_sm_count(got->attr("h"))) acknowledged(*h);
                co_return Result<void>{};
            }
            if (!got->is("failed", ns::sm))
                co_return Error::make(ErrorKind::protocol, "resume",
                                      "unexpected <" + got->name() + "/>");
            // §5: a <failed/> may say how many of ours the old session handled.
            if (auto h = parse_sm_count(got->attr("h"))) acknowledged(*h);
        }
        auto bound = co_await s.bind(account->resource());
        if (!bound) co_return bound.error();
        full_jid = *bound;
        sm = false;
        sm_id.clear();
        sent_count = handled_count = 0;
        if (!offers_sm) co_return Result<void>{};
        // XEP-0198 §3, asking for resumption
        if (auto w =
                co_await s.write("<enable xmlns='" + std::string(ns::sm) + "' resume='true'/>");
            !w)
            co_return w;
        for (;;) {
            auto got = co_await s.read();
            if (!got) co_return got.error();
            if (got->is("enabled", ns::sm) || got->is("failed", ns::sm)) {
                sm = got->name() == "enabled";
                std::string_view res = got->attr("resume");
                if (sm && (res == "true" || res == "1")) sm_id = std::string(got->attr("id"));
                co_return Result<void>{};
            }
            early.push_back(std::move(*got));
        }
    }

    // After a drop: new connections with backoff until one works, then the session
    // resumed, or a new one with what the program had set up.
    asio::awaitable<Result<void>> reconnect() {
        const auto& policy = options.reconnect;
        std::mt19937 rng(std::random_device{}());
        double delay = policy.first_delay;
        Error last = Error::make(ErrorKind::closed, "reconnect", "no attempt");
        for (int attempt = 0; attempt < policy.max_attempts && !closing; ++attempt) {
            double wait_s = std::uniform_real_distribution<double>(delay / 2, delay)(rng);
            asio::steady_timer t(strand,
                                 std::chrono::milliseconds(static_cast<long>(wait_s * 1000)));
            co_await t.async_wait(use_tuple);
            delay = std::min(delay * 2, policy.max_delay);
            if (closing) break;
            auto s = std::make_shared<Stream>(strand, *tls, options.connect);
            std::vector<xml::Element> early;
            bool resumed = false;
            auto r = co_await open_session(*s, early, &resumed);
            if (!r) {
                last = r.error();
                if (last.kind == ErrorKind::auth || last.kind == ErrorKind::certificate ||
                    last.kind == ErrorKind::usage)
                    co_return last;  // trying again would not help
                continue;
            }
            out_queue.clear();  // acknowledgements and stanzas of the old stream
            if (resumed) {
                // §5: the server says how many it handled; the rest goes again, once, with
                // the same sequence numbers.
                for (auto& [seq, data] : unacked) out_queue.push_back(data);
                // The acknowledgement the waiting send() calls need.
                if (!acks.empty()) out_queue.push_back("<r xmlns='" + std::string(ns::sm) + "'/>");
                go_online(std::move(s), early);
                if (reconnect_fn) reconnect_fn(true);
                if (!rooms.empty())
                    asio::co_spawn(strand, restore_rooms(shared_from_this(), true), asio::detached);
                co_return Result<void>{};
            }
            // A new session: replies to old requests will not come; stanzas the old one
            // did not take are sent again (their acknowledgements now count here).
            Error lost = Error::make(ErrorKind::closed, "reconnect", "session lost",
                                     "the server did not resume the session");
            for (auto& [id, w] : iqs) complete(w, lost);
            iqs.clear();
            // What the old session did not take (a <failed h/> has already removed what it
            // did), to send once more on this one.
            auto pending = std::move(unacked);
            unacked.clear();
            std::vector<std::pair<std::uint32_t, WaiterPtr>> waiting(acks.begin(), acks.end());
            acks.clear();
            go_online(std::move(s), early);
            if (carbons_on) {
                xml::Element e = iq("set", "enable", ns::carbons);
                e.set_attr("id", new_id());  // the answer is not awaited
                enqueue_stanza(e);
            }
            if (last_presence) {
                xml::Element p = *last_presence;
                enqueue_stanza(p);
            }
            for (auto& [seq, data] : pending) {
                if (data.starts_with("<iq")) continue;  // their requests failed above
                std::uint32_t new_seq = 0;
                if (sm) {
                    new_seq = ++sent_count;
                    unacked.emplace_back(new_seq, data);
                }
                enqueue(data);
                for (auto& [old_seq, w] : waiting) {
                    if (old_seq != seq || !w) continue;
                    if (sm)
                        acks.emplace(new_seq, w);
                    else
                        complete(w, xml::Element());  // as sure as without stream management
                    w = nullptr;
                }
            }
            for (auto& [old_seq, w] : waiting)
                if (w) complete(w, lost);
            if (sm) enqueue("<r xmlns='" + std::string(ns::sm) + "'/>");
            if (reconnect_fn) reconnect_fn(false);
            // The old session's rooms let us go when it ended (XEP-0045 §7.14).
            for (auto& [room, st] : rooms) {
                if (st.joining) complete(st.joining, lost);
                st.in = false;
            }
            if (!rooms.empty())
                asio::co_spawn(strand, restore_rooms(shared_from_this(), false), asio::detached);
            co_return Result<void>{};
        }
        co_return last;
    }

    asio::awaitable<Result<void>> register_account() {
        if (auto p = prepare(); !p) co_return p;
        Stream s(strand, *tls, options.connect);
        s.arm_deadline(options.timeout);
        auto r = co_await s.connect();
        if (!r) co_return r;
        auto existed = co_await s.register_account(account->local(), options.password);
        if (!existed) co_return existed.error();
        co_await s.close_stream();
        if (*existed)
            co_return Error::make(ErrorKind::stanza, "register", "conflict",
                                  "the account " + account->bare_str() + " exists already");
        co_return Result<void>{};
    }

    asio::awaitable<Result<void>> disconnect() {
        if (!reading) co_return Result<void>{};
        closing = true;
        // XEP-0198 §4: say what we handled, so the server does not keep it to resend.
        if (sm)
            enqueue("<a xmlns='" + std::string(ns::sm) + "' h='" + std::to_string(handled_count) +
                    "'/>");
        close_after_writes = true;
        if (!writing) {
            writing = true;
            asio::co_spawn(strand, write_loop(shared_from_this()), asio::detached);
        }
        auto w = ended;
        co_await wait(w, "disconnect");
        stream->disarm_deadline();
        stream->abort();
        close_after_writes = false;
        co_return Result<void>{};
    }

    asio::awaitable<Result<xml::Element>> request(xml::Element el) {
        if (!reading) co_return not_connected("iq");
        std::string id(el.attr("id"));
        if (id.empty()) el.set_attr("id", id = new_id());
        auto w = make_waiter();
        iqs[id] = w;
        enqueue_stanza(el);
        auto got = co_await wait(w, "iq");
        iqs.erase(id);
        if (!got) co_return std::move(got);
        if (got->attr("type") == "error") {
            const auto* payload = el.first_child();
            co_return stanza_error(payload ? payload->name() : "iq", *got);
        }
        co_return std::move(got);
    }

    asio::awaitable<Result<void>> ping() {
        auto r = co_await request(iq("get", "ping", ns::ping));
        if (!r) co_return r.error();
        co_return Result<void>{};
    }

    asio::awaitable<Result<void>> send(xml::Element el) {
        if (!reading) co_return not_connected("send");
        if (el.name() == "iq") {
            auto r = co_await request(std::move(el));
            if (!r) co_return r.error();
            co_return Result<void>{};
        }
        std::string id(el.attr("id"));
        if (id.empty()) el.set_attr("id", id = new_id());
        // RFC 6121 §4.2/§4.5: the presence a new session after a drop sends again.
        if (el.name() == "presence" && !el.has_attr("to") &&
            (el.attr("type").empty() || el.attr("type") == "unavailable"))
            last_presence = el;
        auto bounce = make_waiter();
        sends[id] = bounce;
        std::uint32_t seq = enqueue_stanza(el);
        Result<void> outcome;
        if (sm) {
            // XEP-0198 §4: ask for an acknowledgement right away; it also covers anything
            // sent before.
            auto w = make_waiter();
            acks.emplace(seq, w);
            enqueue("<r xmlns='" + std::string(ns::sm) + "'/>");
            auto acked = co_await wait(w, "send");
            if (!acked) outcome = acked.error();
        } else {
            // Without acknowledgements, a round trip shows the server has it.
            outcome = co_await ping();
        }
        // A bounce that came before the acknowledgement is the outcome.
        if (bounce->outcome && !*bounce->outcome) outcome = bounce->outcome->error();
        sends.erase(id);
        co_return outcome;
    }

    asio::awaitable<Result<void>> send_message(std::string to, std::string body, std::string type) {
        if (!Jid::parse(to)) co_return usage("send", "bad JID", "'" + to + "' is not a JID");
        xml::Element m("message", ns::client);
        m.set_attr("to", to);
        m.set_attr("type", type);
        m.add_child("body", std::string(ns::client)).add_text(body);
        co_return co_await send(std::move(m));
    }

    asio::awaitable<Result<void>> send_presence(std::string show, std::string status,
                                                int priority) {
        if (!show.empty() && show != "away" && show != "chat" && show != "dnd" && show != "xa")
            co_return usage("presence", "bad show",
                            "'" + show + "' is none of away, chat, dnd, xa");
        xml::Element p("presence", ns::client);
        if (!show.empty()) p.add_child("show", std::string(ns::client)).add_text(show);
        if (!status.empty()) p.add_child("status", std::string(ns::client)).add_text(status);
        if (priority != 0)
            p.add_child("priority", std::string(ns::client)).add_text(std::to_string(priority));
        co_return co_await send(std::move(p));
    }

    asio::awaitable<Result<void>> presence_to(std::string jid, const char* type) {
        auto parsed = Jid::parse(jid);
        if (!parsed) co_return usage("presence", "bad JID", "'" + jid + "' is not a JID");
        xml::Element p("presence", ns::client);
        p.set_attr("to", parsed->bare_str());
        p.set_attr("type", type);
        co_return co_await send(std::move(p));
    }

    asio::awaitable<Result<std::vector<RosterItem>>> roster() {
        auto r = co_await request(iq("get", "query", ns::roster));
        if (!r) co_return r.error();
        std::vector<RosterItem> items;
        if (const auto* q = r->child("query", ns::roster))
            for (const auto* item : q->children())
                if (item->name() == "item") items.push_back(read_item(*item));
        co_return std::move(items);
    }

    asio::awaitable<Result<void>> roster_set(std::string jid, const std::string* name,
                                             const std::vector<std::string>* groups) {
        auto parsed = Jid::parse(jid);
        if (!parsed) co_return usage("roster", "bad JID", "'" + jid + "' is not a JID");
        xml::Element el = iq("set", "query", ns::roster);
        auto& item = el.child("query", ns::roster)->add_child("item", std::string(ns::roster));
        item.set_attr("jid", parsed->bare_str());
        if (!name) item.set_attr("subscription", "remove");  // RFC 6121 §2.5
        if (name && !name->empty()) item.set_attr("name", *name);
        if (groups)
            for (const auto& g : *groups)
                item.add_child("group", std::string(ns::roster)).add_text(g);
        auto r = co_await request(std::move(el));
        if (!r) co_return r.error();
        co_return Result<void>{};
    }

    asio::awaitable<Result<HistoryPage>> history(HistoryQuery q) {
        if (!reading) co_return not_connected("history");
        // XEP-0313 §4.1: the query form, with RSM (XEP-0059 §2) for the page.
        xml::Element el = iq("set", "query", ns::mam);
        auto& query = *el.child("query", ns::mam);
        std::string qid = new_id();
        query.set_attr("queryid", qid);
        auto& form = query.add_child("x", std::string(ns::data_forms));
        form.set_attr("type", "submit");
        add_field(form, "FORM_TYPE", ns::mam, "hidden");
        if (!q.with.empty()) add_field(form, "with", q.with);
        if (!q.start.empty()) add_field(form, "start", q.start);
        if (!q.end.empty()) add_field(form, "end", q.end);
        auto& set = query.add_child("set", std::string(ns::rsm));
        set.add_child("max", std::string(ns::rsm)).add_text(std::to_string(q.max));
        if (!q.after.empty())
            set.add_child("after", std::string(ns::rsm)).add_text(q.after);
        else if (!q.before.empty() || q.last)
            set.add_child("before", std::string(ns::rsm)).add_text(q.before);
        auto collected = std::make_shared<std::vector<Message>>();
        mam_queries[qid] = collected;
        auto r = co_await request(std::move(el));
        mam_queries.erase(qid);
        if (!r) co_return r.error();
        HistoryPage page;
        page.messages = std::move(*collected);
        if (const auto* fin = r->child("fin", ns::mam)) {
            page.complete = fin->attr("complete") == "true" || fin->attr("complete") == "1";
            if (const auto* s = fin->child("set", ns::rsm)) {
                page.first = s->child_text("first", ns::rsm);
                page.last = s->child_text("last", ns::rsm);
            }
        }
        // Some servers leave out <first/> or <last/>: the messages carry the ids too.
        if (!page.messages.empty()) {
            if (page.first.empty()) page.first = page.messages.front().stanza_id;
            if (page.last.empty()) page.last = page.messages.back().stanza_id;
        }
        co_return std::move(page);
    }

    asio::awaitable<Result<CatchUp>> catch_up(std::string with, std::string after, int page_size) {
        CatchUp out;
        out.last = after;
        HistoryQuery q{.with = with, .max = page_size};
        for (;;) {
            q.after = out.last;
            q.last = out.last.empty();
            auto page = co_await history(q);
            if (!page && page.error().condition == "item-not-found" && !q.after.empty()) {
                // The id is gone (XEP-0313 §4.3.2): start again from the newest page, and
                // say that something may be missing before it.
                out.gap = true;
                out.last.clear();
                continue;
            }
            if (!page) co_return page.error();
            for (auto& m : page->messages) out.messages.push_back(std::move(m));
            // The newest page (no id given) is the whole catch-up; a page that does not
            // move the cursor would loop.
            if (q.after.empty() || page->last.empty() || page->last == out.last) {
                if (!page->last.empty()) out.last = page->last;
                break;
            }
            out.last = page->last;
            if (page->complete || page->messages.empty()) break;
        }
        co_return std::move(out);
    }

    asio::awaitable<Result<void>> enable_carbons() {
        auto r = co_await request(iq("set", "enable", ns::carbons));
        if (!r) co_return r.error();
        carbons_on = true;
        co_return Result<void>{};
    }

    asio::awaitable<Result<std::vector<std::string>>> blocklist() {
        auto r = co_await request(iq("get", "blocklist", ns::blocking));
        if (!r) co_return r.error();
        std::vector<std::string> jids;
        if (const auto* list = r->child("blocklist", ns::blocking))
            for (const auto* item : list->children())
                if (item->name() == "item") jids.emplace_back(item->attr("jid"));
        co_return std::move(jids);
    }

    asio::awaitable<Result<void>> block_change(const char* what, std::string jid) {
        auto parsed = Jid::parse(jid);
        if (!parsed) co_return usage(what, "bad JID", "'" + jid + "' is not a JID");
        xml::Element el = iq("set", what, ns::blocking);
        el.child(what, ns::blocking)
            ->add_child("item", std::string(ns::blocking))
            .set_attr("jid", parsed->str());
        auto r = co_await request(std::move(el));
        if (!r) co_return r.error();
        co_return Result<void>{};
    }
};

namespace {

// Runs `op` on the client's strand, whichever executor the caller is on; the coroutine
// keeps the client's state alive until it ends.
template <class T, class Op>
asio::awaitable<T> on_strand(std::shared_ptr<Client::Impl> impl, Op op) {
    co_return co_await asio::co_spawn(
        impl->strand, [impl, op = std::move(op)]() mutable { return op(*impl); },
        asio::use_awaitable);
}

}  // namespace

Client::Client(asio::any_io_executor ex, ClientOptions options)
    : impl_(std::make_shared<Impl>(std::move(ex), std::move(options))) {}

Client::~Client() {
    asio::post(impl_->strand, [impl = impl_] {
        impl->closing = true;
        if (impl->stream) impl->stream->abort();
    });
}

void Client::on_message(std::function<void(const Message&)> fn) {
    impl_->message_fn = std::move(fn);
}
void Client::on_presence(std::function<void(const Presence&)> fn) {
    impl_->presence_fn = std::move(fn);
}
void Client::on_roster_push(std::function<void(const RosterItem&)> fn) {
    impl_->roster_fn = std::move(fn);
}
void Client::on_disconnect(std::function<void(const Error&)> fn) {
    impl_->disconnect_fn = std::move(fn);
}
void Client::on_reconnect(std::function<void(bool)> fn) {
    impl_->reconnect_fn = std::move(fn);
}

void Client::on_occupant(std::function<void(const std::string&, const Occupant&, bool)> fn) {
    impl_->occupant_fn = std::move(fn);
}

std::string Client::jid() const {
    return impl_->full_jid;
}
bool Client::stream_management() const {
    return impl_->sm;
}

asio::awaitable<Result<void>> Client::connect() {
    return on_strand<Result<void>>(impl_, [](Impl& i) { return i.connect(); });
}
asio::awaitable<Result<void>> Client::register_account() {
    return on_strand<Result<void>>(impl_, [](Impl& i) { return i.register_account(); });
}
asio::awaitable<Result<void>> Client::disconnect() {
    return on_strand<Result<void>>(impl_, [](Impl& i) { return i.disconnect(); });
}
asio::awaitable<Result<void>> Client::send(xml::Element stanza) {
    return on_strand<Result<void>>(
        impl_, [s = std::move(stanza)](Impl& i) mutable { return i.send(std::move(s)); });
}
asio::awaitable<Result<xml::Element>> Client::request(xml::Element iq) {
    return on_strand<Result<xml::Element>>(
        impl_, [s = std::move(iq)](Impl& i) mutable { return i.request(std::move(s)); });
}
asio::awaitable<Result<void>> Client::ping() {
    return on_strand<Result<void>>(impl_, [](Impl& i) { return i.ping(); });
}
asio::awaitable<Result<void>> Client::send_message(std::string to, std::string body,
                                                   std::string type) {
    return on_strand<Result<void>>(impl_, [=](Impl& i) { return i.send_message(to, body, type); });
}
asio::awaitable<Result<void>> Client::send_presence(std::string show, std::string status,
                                                    int priority) {
    return on_strand<Result<void>>(
        impl_, [=](Impl& i) { return i.send_presence(show, status, priority); });
}
asio::awaitable<Result<std::vector<RosterItem>>> Client::roster() {
    return on_strand<Result<std::vector<RosterItem>>>(impl_, [](Impl& i) { return i.roster(); });
}
asio::awaitable<Result<void>> Client::set_contact(std::string jid, std::string name,
                                                  std::vector<std::string> groups) {
    return on_strand<Result<void>>(impl_, [=](Impl& i) -> asio::awaitable<Result<void>> {
        co_return co_await i.roster_set(jid, &name, &groups);
    });
}
asio::awaitable<Result<void>> Client::remove_contact(std::string jid) {
    return on_strand<Result<void>>(impl_,
                                   [=](Impl& i) { return i.roster_set(jid, nullptr, nullptr); });
}
asio::awaitable<Result<void>> Client::subscribe(std::string jid) {
    return on_strand<Result<void>>(impl_, [=](Impl& i) { return i.presence_to(jid, "subscribe"); });
}
asio::awaitable<Result<void>> Client::approve(std::string jid) {
    return on_strand<Result<void>>(impl_,
                                   [=](Impl& i) { return i.presence_to(jid, "subscribed"); });
}
asio::awaitable<Result<void>> Client::deny(std::string jid) {
    return on_strand<Result<void>>(impl_,
                                   [=](Impl& i) { return i.presence_to(jid, "unsubscribed"); });
}
asio::awaitable<Result<HistoryPage>> Client::history(HistoryQuery query) {
    return on_strand<Result<HistoryPage>>(impl_, [=](Impl& i) { return i.history(query); });
}
asio::awaitable<Result<CatchUp>> Client::catch_up(std::string with, std::string after_id,
                                                  int page_size) {
    return on_strand<Result<CatchUp>>(
        impl_, [=](Impl& i) { return i.catch_up(with, after_id, page_size); });
}
asio::awaitable<Result<void>> Client::enable_carbons() {
    return on_strand<Result<void>>(impl_, [](Impl& i) { return i.enable_carbons(); });
}
asio::awaitable<Result<std::vector<std::string>>> Client::blocklist() {
    return on_strand<Result<std::vector<std::string>>>(impl_,
                                                       [](Impl& i) { return i.blocklist(); });
}
asio::awaitable<Result<void>> Client::block(std::string jid) {
    return on_strand<Result<void>>(impl_, [=](Impl& i) { return i.block_change("block", jid); });
}
asio::awaitable<Result<void>> Client::unblock(std::string jid) {
    return on_strand<Result<void>>(impl_, [=](Impl& i) { return i.block_change("unblock", jid); });
}

asio::awaitable<Result<Room>> Client::join_room(std::string room, JoinOptions options) {
    return on_strand<Result<Room>>(impl_, [=](Impl& i) { return i.join_room(room, options); });
}
asio::awaitable<Result<void>> Client::send_room_message(std::string room, std::string body) {
    return on_strand<Result<void>>(impl_, [=](Impl& i) { return i.send_room_message(room, body); });
}
asio::awaitable<Result<void>> Client::leave_room(std::string room) {
    return on_strand<Result<void>>(impl_, [=](Impl& i) { return i.leave_room(room); });
}
asio::awaitable<std::vector<Occupant>> Client::occupants(std::string room) {
    return on_strand<std::vector<Occupant>>(
        impl_, [=](Impl& i) -> asio::awaitable<std::vector<Occupant>> {
            std::vector<Occupant> out;
            if (auto it = i.rooms.find(bare_of(room)); it != i.rooms.end())
                for (const auto& [nick, o] : it->second.occupants) out.push_back(o);
            co_return out;
        });
}

asio::awaitable<Result<VCard>> Client::vcard(std::string jid) {
    return on_strand<Result<VCard>>(impl_, [=](Impl& i) { return i.vcard(jid); });
}
asio::awaitable<Result<void>> Client::set_vcard(VCard card) {
    return on_strand<Result<void>>(
        impl_, [c = std::move(card)](Impl& i) mutable { return i.set_vcard(std::move(c)); });
}

}  // namespace hongyan::client
