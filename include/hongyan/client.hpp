// The Hongyan client library: log in to an XMPP server and use it as an IM app does
// (RFC 6120, RFC 6121 and the XEPs an app needs), on Boost.Asio C++20 coroutines.
//
//   asio::io_context io;
//   hongyan::client::Client c(io.get_executor(), {.jid = "alice@example.org",
//                                                 .password = "secret"});
//   co_await c.connect();                       // Result<void>
//   auto friends = co_await c.roster();         // Result<std::vector<RosterItem>>
//   co_await c.send_message("bob@example.org", "hi");
//
// Every call returns a Result: the value, or an Error saying what kind of failure it was
// with the protocol's own condition. Every call may be made from any thread: the client
// runs on a strand of the executor it is given, and callbacks run there too. The program
// owns the io_context (or shares its own). docs/client.md documents the whole API.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "hongyan/error.hpp"
#include "hongyan/stream.hpp"
#include "xmpp/xml.hpp"

namespace hongyan::client {

// What happens when the connection drops (not after disconnect()): new connections, after
// a delay that doubles from first_delay up to max_delay, each drawn at random between half
// and all of it, so that many clients cut off at once do not come back at once.
struct ReconnectPolicy {
    bool enabled = true;
    int max_attempts = 8;  // then on_disconnect() and every waiting call fails
    double first_delay = 0.25;
    double max_delay = 30.0;
};

struct ClientOptions {
    std::string jid;       // user@domain, optionally /resource
    std::string password;  // never stored by the library beyond the salted form
    // Where and how to connect; the domain defaults to the JID's.
    ConnectOptions connect;
    double timeout = 30.0;  // seconds for connecting and for each request
    // XEP-0198: acknowledgements for every stanza sent, when the server offers it.
    bool stream_management = true;
    ReconnectPolicy reconnect;
    // Shared by clients that log in often (RFC 5802 §5.1); may be null.
    std::shared_ptr<SaltedPasswordCache> password_cache;
};

// A contact in the roster (RFC 6121 §2.1.2).
struct RosterItem {
    std::string jid;
    std::string name;
    std::string subscription = "none";  // none, to, from, both, remove (in pushes)
    bool pending_out = false;           // ask='subscribe': our request awaits an answer
    std::vector<std::string> groups;
};

// A presence stanza, read (RFC 6121 §4.7).
struct Presence {
    std::string from;
    std::string type;    // empty: available; unavailable, subscribe, subscribed, ...
    std::string show;    // away, chat, dnd, xa; empty: online
    std::string status;  // the human-readable text
    int priority = 0;
};

// A message, read: received, a carbon copy of one sent or received elsewhere, or from the
// archive.
struct Message {
    std::string from;
    std::string to;
    std::string type = "normal";
    std::string id;
    std::string body;
    std::string subject;    // a room's subject (XEP-0045 §8.1), or a message's
    std::string stanza_id;  // the archive's id (XEP-0359), if the server stamped one
    std::string timestamp;  // XEP-0203 delay or the archive's time; empty for live ones
    bool carbon = false;    // XEP-0280: a copy of a message of another of our devices
    bool outgoing = false;  // sent by this account (a sent carbon, or from the archive)
    xml::Element stanza;    // the whole stanza, for anything else
};

// One page of the archive (XEP-0313), oldest first.
struct HistoryPage {
    std::vector<Message> messages;
    bool complete = false;    // no more pages in the direction asked
    std::string first, last;  // archive ids of the first and last message of the page
};

struct HistoryQuery {
    std::string with;        // a contact's JID; empty: all of the archive
    int max = 20;            // messages per page
    std::string before;      // page of messages before this id (empty + last: the last page)
    std::string after;       // page of messages after this id
    bool last = true;        // with neither id: the newest page rather than the oldest
    std::string start, end;  // XEP-0082 times bounding the query
};

// What catch_up() found: every message after the given id, oldest first.
struct CatchUp {
    std::vector<Message> messages;
    // The id was unknown to the archive (purged, or from another server): the messages
    // are the newest page instead and there may be a gap before them.
    bool gap = false;
    std::string last;  // the newest id seen; pass it to the next catch_up()
};

// Someone in a room (XEP-0045 §7.2.3), as their presence says.
struct Occupant {
    std::string nick;
    std::string jid;          // their real JID, when the room shows it (non-anonymous rooms)
    std::string affiliation;  // owner, admin, member, outcast, none
    std::string role;         // moderator, participant, visitor, none
    std::string show, status;
};

struct JoinOptions {
    std::string nick;      // default: the account's local part
    std::string password;  // for a password-protected room (§7.2.6)
    int history = 20;  // messages of the room's history to receive (§7.2.14); -1: the room's choice
};

// A room joined: who is there, its subject, and the recent messages, oldest first.
struct Room {
    std::string jid;   // room@service
    std::string nick;  // ours, as the room gave it (it may change it, status 210)
    std::string subject;
    bool created = false;  // the room was new (status 201) and was made an instant room (§10.1.2)
    std::vector<Occupant> occupants;
    std::vector<Message> history;
};

// A vCard (XEP-0054): the fields people fill in, and the photo (XEP-0153).
struct VCard {
    std::string full_name;   // FN
    std::string nickname;    // NICKNAME
    std::string email;       // EMAIL/USERID
    std::string url;         // URL
    std::string note;        // DESC
    std::string photo_type;  // PHOTO/TYPE, such as image/png
    std::string photo;       // PHOTO/BINVAL, decoded: the image's bytes
    // The whole <vCard/> as read; set_vcard() keeps what the fields above do not cover.
    xml::Element element;
};

class Client {
  public:
    Client(asio::any_io_executor ex, ClientOptions options);
    // Ends the connection without a clean close; call disconnect() first for one.
    ~Client();
    Client(const Client&) = delete;
    Client& operator=(const Client&) = delete;

    // Callbacks, run on the client's strand. Set them before connect().
    void on_message(std::function<void(const Message&)> fn);
    void on_presence(std::function<void(const Presence&)> fn);
    void on_roster_push(std::function<void(const RosterItem&)> fn);
    // The connection ended without disconnect() and could not be restored: the reason.
    void on_disconnect(std::function<void(const Error&)> fn);
    // The connection was restored after a drop: `resumed` when the session itself was
    // resumed (XEP-0198 §5: nothing lost, nothing twice); otherwise a new session was
    // bound with carbons and the last presence restored.
    void on_reconnect(std::function<void(bool resumed)> fn);
    // Someone joined a room we are in, changed their presence there (present), or left it
    // (not present). Our own departure (kicked, banned, the room destroyed) comes here too,
    // with our nick.
    void on_occupant(
        std::function<void(const std::string& room, const Occupant&, bool present)> fn);

    // Connects, checks the certificate, logs in (SCRAM), binds and enables stream
    // management. Sends no presence: call send_presence() to appear online.
    asio::awaitable<Result<void>> connect();
    // Creates the account (XEP-0077) on a connection of its own, then closes it. An
    // account that exists already is an Error with condition "conflict".
    asio::awaitable<Result<void>> register_account();
    // Sends </stream:stream> and waits for the server's (RFC 6120 §4.4).
    asio::awaitable<Result<void>> disconnect();

    // The full JID the server bound (after connect()).
    std::string jid() const;

    // Sends a stanza; completes when the server has it: acknowledged (XEP-0198), or after
    // a ping round trip on servers without stream management. An error stanza for it that
    // comes back first is the Error.
    asio::awaitable<Result<void>> send(xml::Element stanza);
    // An iq get or set; the result iq, or the error as an Error of kind stanza.
    asio::awaitable<Result<xml::Element>> request(xml::Element iq);
    // XEP-0199 to the server: a round trip.
    asio::awaitable<Result<void>> ping();

    asio::awaitable<Result<void>> send_message(std::string to, std::string body,
                                               std::string type = "chat");
    // RFC 6121 §4.2 and §4.7: show is "", away, chat, dnd or xa.
    asio::awaitable<Result<void>> send_presence(std::string show = {}, std::string status = {},
                                                int priority = 0);

    // RFC 6121 §2
    asio::awaitable<Result<std::vector<RosterItem>>> roster();
    asio::awaitable<Result<void>> set_contact(std::string jid, std::string name = {},
                                              std::vector<std::string> groups = {});
    asio::awaitable<Result<void>> remove_contact(std::string jid);
    // RFC 6121 §3: ask to see the contact's presence; let them see ours; refuse or revoke.
    asio::awaitable<Result<void>> subscribe(std::string jid);
    asio::awaitable<Result<void>> approve(std::string jid);
    asio::awaitable<Result<void>> deny(std::string jid);

    // XEP-0313: one page of the archive.
    asio::awaitable<Result<HistoryPage>> history(HistoryQuery query);
    // Every archived message after `after_id` (with one contact, or all when `with` is
    // empty), paging by itself. An empty `after_id` gives the newest page.
    asio::awaitable<Result<CatchUp>> catch_up(std::string with, std::string after_id,
                                              int page_size = 100);

    // XEP-0280: copies of the messages this account's other devices send and receive
    // arrive here too (Message::carbon).
    asio::awaitable<Result<void>> enable_carbons();

    // XEP-0191
    asio::awaitable<Result<std::vector<std::string>>> blocklist();
    asio::awaitable<Result<void>> block(std::string jid);
    asio::awaitable<Result<void>> unblock(std::string jid);

    // XEP-0045 rooms. join_room() completes when the room has sent its occupants, its
    // history and its subject (§7.2.15). A new room is configured as an instant room.
    // The room's messages arrive in on_message (type "groupchat", from room/nick), our own
    // reflected back. After a reconnect the client checks each room with a self-ping
    // (XEP-0410) and joins again where it is no longer an occupant, asking for the history
    // since the last message it saw; those messages then arrive in on_message.
    asio::awaitable<Result<Room>> join_room(std::string room, JoinOptions options = {});
    asio::awaitable<Result<void>> send_room_message(std::string room, std::string body);
    asio::awaitable<Result<void>> leave_room(std::string room);
    asio::awaitable<std::vector<Occupant>> occupants(std::string room);

    // XEP-0054: a contact's vCard, or ours with an empty JID. No vCard is an empty one.
    asio::awaitable<Result<VCard>> vcard(std::string jid = {});
    // Publishes our vCard: card.element (from vcard()) with the fields above put in it, so
    // fields this struct does not know are kept. An empty field removes it.
    asio::awaitable<Result<void>> set_vcard(VCard card);

    // Whether XEP-0198 is on for this connection.
    bool stream_management() const;

    struct Impl;

  private:
    std::shared_ptr<Impl> impl_;
};

}  // namespace hongyan::client
