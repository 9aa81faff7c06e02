// hongyan: an XMPP client for the terminal and for scripts, on the Hongyan client library.
// Every subcommand logs in, does one thing and logs out (watch and status stay until
// interrupted). `hongyan --help` and `hongyan CMD --help` describe each; docs/client.md
// lists the exit codes and the JSON output.
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <CLI/CLI.hpp>
#include <fstream>
#include <iostream>
#include <iterator>
#include <map>
#include <nlohmann/json.hpp>
#include <set>

#include <termios.h>
#include <unistd.h>

#include <clocale>

#include "tools/hongyan/config.hpp"
#include "tools/hongyan/line_editor.hpp"
#include "xmpp/datetime.hpp"
#include "xmpp/jid.hpp"

namespace {

namespace asio = boost::asio;
using hongyan::client::Client;
using hongyan::client::Error;
using hongyan::client::ErrorKind;
using nlohmann::json;

// Documented in docs/client.md and in `hongyan --help`.
enum Exit : int {
    ok = 0,
    failed = 1,
    usage = 2,
    unreachable = 3,
    certificate = 4,
    auth = 5,
    not_found = 6,
    server_error = 7,
    timeout = 8,
};

int exit_code(const Error& e) {
    switch (e.kind) {
        case ErrorKind::usage:
            return usage;
        case ErrorKind::unreachable:
        case ErrorKind::tls:
        case ErrorKind::closed:
            return unreachable;
        case ErrorKind::certificate:
            return certificate;
        case ErrorKind::auth:
            return auth;
        case ErrorKind::stanza:
            return e.condition == "item-not-found" ? not_found : server_error;
        case ErrorKind::stream:
            return server_error;
        case ErrorKind::timeout:
            return timeout;
        case ErrorKind::protocol:
            return failed;
    }
    return failed;
}

// What the user can do about it, where that is clear.
std::string hint(const Error& e) {
    if (e.kind == ErrorKind::auth && e.condition == "not-authorized")
        return "wrong password, or no such account (hongyan register creates one)";
    if (e.kind == ErrorKind::unreachable)
        return "check --host and --port, and that the server runs";
    return {};
}

struct Output {
    bool as_json = false;

    void line(const json& j, const std::string& text) const {
        if (as_json)
            std::cout << j.dump() << "\n";
        else
            std::cout << text << "\n";
        std::cout.flush();
    }

    int fail(const Error& e) const {
        int code = exit_code(e);
        std::string h = hint(e);
        std::cerr << "hongyan: " << e.describe() << (h.empty() ? "" : "\n  " + h) << "\n";
        if (as_json)
            std::cout << json{{"error",
                               {{"kind", std::string(hongyan::client::to_string(e.kind))},
                                {"condition", e.condition},
                                {"text", e.text},
                                {"step", e.step}}},
                              {"exit", code}}
                             .dump()
                      << "\n";
        return code;
    }

    void message(const hongyan::client::Message& m) const {
        json j{{"event", "message"},
               {"from", m.from},
               {"to", m.to},
               {"type", m.type},
               {"id", m.id},
               {"body", m.body},
               {"stanza_id", m.stanza_id},
               {"timestamp", m.timestamp},
               {"carbon", m.carbon},
               {"outgoing", m.outgoing}};
        std::string text = m.timestamp.empty() ? "" : m.timestamp + " ";
        if (m.carbon) text += "(other device) ";
        text += m.outgoing ? "to " + m.to : m.from;
        text += m.type == "error" ? " [error]: " : ": ";
        text += m.body;
        line(j, text);
    }

    void occupant(const std::string& room, const hongyan::client::Occupant& o, bool present) const {
        json j{{"event", "occupant"}, {"room", room},       {"nick", o.nick},
               {"jid", o.jid},        {"role", o.role},     {"affiliation", o.affiliation},
               {"show", o.show},      {"status", o.status}, {"present", present}};
        std::string who = room + "/" + o.nick + (o.jid.empty() ? "" : " (" + o.jid + ")");
        std::string state = !present ? "left" : o.show.empty() ? "online" : o.show;
        line(j, who + " " + state + (o.role.empty() || !present ? "" : " [" + o.role + "]"));
    }

    void presence(const hongyan::client::Presence& p) const {
        json j{{"event", "presence"}, {"from", p.from},     {"type", p.type},
               {"show", p.show},      {"status", p.status}, {"priority", p.priority}};
        std::string state = p.type.empty() ? (p.show.empty() ? "online" : p.show) : p.type;
        line(j, p.from + " " + state + (p.status.empty() ? "" : " \"" + p.status + "\""));
    }
};

// What one run of the command does, filled from the command line.
struct Command {
    std::string name;
    std::string jid;  // the contact
    std::vector<std::string> words;
    std::string contact_name;
    std::vector<std::string> groups;
    bool no_subscribe = false;
    bool each_line = false;  // send: every line of stdin is a message
    bool room = false;       // send: the JID is a room (XEP-0045)
    std::string nick, room_password;
    int limit = 20;
    std::string before, after, since;
    int count = 0;  // watch: stop after this many events (0: until interrupted)
    std::string show, status;
    // vcard: the fields to change (given empty: removed), the photo to publish or save
    std::optional<std::string> full_name, nickname, email, url, note, photo_file;
    std::string save_photo;
    double presence_wait = 1.0;  // roster: seconds to wait for contacts' presence
};

std::string bare(const std::string& jid) {
    auto parsed = hongyan::Jid::parse(jid);
    return parsed ? parsed->bare_str() : jid;
}

std::string resource_of(const std::string& jid) {
    auto parsed = hongyan::Jid::parse(jid);
    return parsed ? parsed->resource() : std::string();
}

asio::awaitable<int> show_roster(Client& c, const Command& cmd, const Output& out) {
    // Contacts' presence comes after our initial presence (RFC 6121 §4.2.2); priority -1
    // keeps offline messages and bare-JID chats away from this short session (§4.7.2.3).
    // The server answers for online contacts only and in its own time, so the list waits
    // until every contact we are subscribed to has answered, or --presence-wait seconds.
    std::map<std::string, std::map<std::string, hongyan::client::Presence>> online;
    std::vector<std::string> subscribed;
    asio::steady_timer settled(co_await asio::this_coro::executor);
    auto all_in = [&] {
        for (const auto& j : subscribed)
            if (online[j].empty()) return false;
        return true;
    };
    c.on_presence([&](const hongyan::client::Presence& p) {
        if (p.type.empty())
            online[bare(p.from)][resource_of(p.from)] = p;
        else if (p.type == "unavailable")
            online[bare(p.from)].erase(resource_of(p.from));
        if (all_in()) settled.cancel();
    });
    auto items = co_await c.roster();
    if (!items) co_return out.fail(items.error());
    for (const auto& item : *items)
        if (item.subscription == "to" || item.subscription == "both")
            subscribed.push_back(item.jid);
    if (auto r = co_await c.send_presence({}, {}, -1); !r) co_return out.fail(r.error());
    if (!all_in()) {
        settled.expires_after(
            std::chrono::milliseconds(static_cast<long>(cmd.presence_wait * 1000)));
        co_await settled.async_wait(asio::as_tuple(asio::use_awaitable));
    }
    for (const auto& item : *items) {
        json presences = json::array();
        std::string state = "offline";
        for (const auto& [resource, p] : online[item.jid]) {
            presences.push_back({{"resource", resource},
                                 {"show", p.show},
                                 {"status", p.status},
                                 {"priority", p.priority}});
            state = p.show.empty() ? "online" : p.show;
            if (!p.status.empty()) state += " \"" + p.status + "\"";
        }
        std::string groups;
        for (const auto& g : item.groups) groups += (groups.empty() ? "" : ", ") + g;
        std::string sub = item.subscription + (item.pending_out ? " (asked)" : "");
        out.line({{"jid", item.jid},
                  {"name", item.name},
                  {"groups", item.groups},
                  {"subscription", item.subscription},
                  {"pending_out", item.pending_out},
                  {"presence", presences}},
                 item.jid + "\t" + item.name + "\t" + groups + "\t" + sub + "\t" + state);
    }
    co_return ok;
}

// What watch and join wait for: ^C, SIGTERM, the connection lost for good, or N events.
struct UntilStopped {
    UntilStopped(asio::any_io_executor ex, Client& c, int count)
        : signals(ex, SIGINT, SIGTERM),
          done(ex, asio::steady_timer::time_point::max()),
          count(count) {
        c.on_disconnect([this](const Error& e) {
            lost = e;
            finish();
        });
        signals.async_wait([this](const boost::system::error_code& ec, int) {
            if (!ec) finish();
        });
    }
    void finish() {
        stop = true;  // a cancel before the wait starts would be lost
        done.cancel();
    }
    void counted() {
        if (count > 0 && ++events >= count) finish();
    }
    asio::awaitable<void> wait() {
        if (!stop) co_await done.async_wait(asio::as_tuple(asio::use_awaitable));
        signals.cancel();
    }

    asio::signal_set signals;
    asio::steady_timer done;
    int count;
    int events = 0;
    bool stop = false;
    std::optional<Error> lost;
};

asio::awaitable<int> watch(Client& c, const Command& cmd, const Output& out) {
    UntilStopped until(co_await asio::this_coro::executor, c, cmd.count);
    c.on_message([&](const hongyan::client::Message& m) {
        if (until.stop) return;
        out.message(m);
        until.counted();
    });
    c.on_presence([&](const hongyan::client::Presence& p) {
        if (until.stop) return;
        out.presence(p);
        until.counted();
    });
    // Messages of the account's other devices show too (XEP-0280).
    if (auto r = co_await c.enable_carbons(); !r) co_return out.fail(r.error());
    if (auto r = co_await c.send_presence(cmd.show, cmd.status); !r) co_return out.fail(r.error());
    if (!until.stop)
        out.line({{"event", "online"}, {"jid", c.jid()}}, "online as " + c.jid() + "; ^C to stop");
    co_await until.wait();
    if (until.lost) co_return out.fail(*until.lost);
    co_return ok;
}

// Joins the room, prints who is there and the recent history, then its messages and
// occupants as they come, until ^C, SIGTERM or N events.
asio::awaitable<int> join(Client& c, const Command& cmd, const Output& out) {
    UntilStopped until(co_await asio::this_coro::executor, c, cmd.count);
    bool live = false;
    std::string my_nick;  // as the room gave it
    c.on_message([&](const hongyan::client::Message& m) {
        if (until.stop || !live) return;
        out.message(m);
        until.counted();
    });
    c.on_occupant([&](const std::string& room, const hongyan::client::Occupant& o, bool present) {
        if (until.stop || !live) return;
        out.occupant(room, o, present);
        until.counted();
        if (!present && room == bare(cmd.jid) && o.nick == my_nick) {
            until.lost = Error::make(ErrorKind::stanza, "join", "gone",
                                     "the room sent us away, or it was destroyed");
            until.finish();
        }
    });
    if (auto r = co_await c.send_presence(); !r) co_return out.fail(r.error());
    auto room = co_await c.join_room(
        cmd.jid, {.nick = cmd.nick, .password = cmd.room_password, .history = cmd.limit});
    if (!room) co_return out.fail(room.error());
    for (const auto& o : room->occupants) out.occupant(room->jid, o, true);
    for (const auto& m : room->history) out.message(m);
    out.line({{"event", "joined"},
              {"room", room->jid},
              {"nick", room->nick},
              {"subject", room->subject},
              {"created", room->created}},
             "joined " + room->jid + " as " + room->nick +
                 (room->subject.empty() ? "" : "; subject: " + room->subject) +
                 (room->created ? " (new room)" : "") + "; ^C to leave");
    live = true;
    my_nick = room->nick;
    co_await until.wait();
    if (until.lost) co_return out.fail(*until.lost);
    co_await c.leave_room(room->jid);
    co_return ok;
}

// The terminal in raw mode while `chat` edits the line itself; restored however it ends.
class RawTerminal {
  public:
    RawTerminal() {
        if (::tcgetattr(STDIN_FILENO, &saved_) != 0) return;
        termios t = saved_;
        t.c_lflag &= ~static_cast<tcflag_t>(ICANON | ECHO | ISIG | IEXTEN);
        t.c_iflag &= ~static_cast<tcflag_t>(IXON | ICRNL);
        t.c_cc[VMIN] = 1;
        t.c_cc[VTIME] = 0;
        active_ = ::tcsetattr(STDIN_FILENO, TCSAFLUSH, &t) == 0;
    }
    ~RawTerminal() {
        if (active_) ::tcsetattr(STDIN_FILENO, TCSAFLUSH, &saved_);
    }
    RawTerminal(const RawTerminal&) = delete;
    RawTerminal& operator=(const RawTerminal&) = delete;

  private:
    termios saved_{};
    bool active_ = false;
};

// "HH:MM" of an XEP-0082 time, or of now for a live message.
std::string clock_of(const std::string& stamp) {
    auto us = stamp.empty() ? std::optional<std::int64_t>(hongyan::datetime::now_us())
                            : hongyan::datetime::parse_us(stamp);
    std::string full = us ? hongyan::datetime::format_us(*us) : std::string();
    return full.size() >= 16 ? full.substr(11, 5) : "--:--";
}

// An interactive conversation with one contact or one room: the recent history, messages
// as they arrive, a line editor for what to send; /quit, ^C or ^D on an empty line end it.
// Without a terminal it reads lines from standard input and sends each.
asio::awaitable<int> chat(Client& c, const Command& cmd, const Output& out) {
    auto ex = co_await asio::this_coro::executor;
    const bool tty = ::isatty(STDIN_FILENO) && ::isatty(STDOUT_FILENO) && !out.as_json;
    const std::string peer = bare(cmd.jid);
    std::optional<RawTerminal> raw;
    if (tty) {
        std::setlocale(LC_CTYPE, "");
        raw.emplace();
    }
    hongyan::cli::LineEditor editor(hongyan::Jid::parse(peer) ? peer + "> " : "> ");
    bool live = false;
    std::string my_nick;
    std::set<std::string> shown;  // archive ids of the history shown
    auto show = [&](const std::string& text, const json& j) {
        if (tty)
            std::cout << editor.clear() << text << "\n" << editor.render() << std::flush;
        else
            out.line(j, text);
    };
    auto show_message = [&](const hongyan::client::Message& m) {
        if (m.body.empty()) {
            if (cmd.room && !m.subject.empty())
                show("* subject: " + m.subject, {{"event", "subject"}, {"subject", m.subject}});
            return;
        }
        std::string who = cmd.room         ? resource_of(m.from)
                          : m.outgoing     ? std::string("me")
                          : m.from.empty() ? peer
                                           : bare(m.from);
        if (!tty) {
            out.message(m);
            return;
        }
        show(clock_of(m.timestamp) + " " + who + ": " + m.body, {});
    };
    std::optional<Error> lost;
    // A terminal or a pipe is read as it comes; a file (or /dev/null) cannot be polled, so
    // it is read line by line at once.
    std::optional<asio::posix::stream_descriptor> in;
    try {
        in.emplace(ex, ::dup(STDIN_FILENO));
    } catch (const boost::system::system_error&) {
    }
    auto stop_reading = [&] {
        if (in) in->cancel();
    };
    c.on_message([&](const hongyan::client::Message& m) {
        if (!live) return;
        bool ours = cmd.room
                        ? bare(m.from) == peer && m.type == "groupchat"
                        : bare(m.from) == peer || (m.carbon && m.outgoing && bare(m.to) == peer);
        if (ours && (m.stanza_id.empty() || shown.insert(m.stanza_id).second)) show_message(m);
    });
    c.on_occupant([&](const std::string& room, const hongyan::client::Occupant& o, bool present) {
        if (!live || room != peer) return;
        show("* " + o.nick + (present ? " is here" : " left"),
             {{"event", "occupant"}, {"nick", o.nick}, {"present", present}});
        if (!present && o.nick == my_nick) {
            lost = Error::make(ErrorKind::stanza, "chat", "gone", "the room sent us away");
            stop_reading();
        }
    });
    c.on_disconnect([&](const Error& e) {
        lost = e;
        stop_reading();
    });
    asio::signal_set signals(ex, SIGINT, SIGTERM);
    signals.async_wait([&](const boost::system::error_code& ec, int) {
        if (!ec) stop_reading();
    });
    if (cmd.room) {
        if (auto r = co_await c.send_presence(); !r) co_return out.fail(r.error());
        auto room = co_await c.join_room(
            peer, {.nick = cmd.nick, .password = cmd.room_password, .history = cmd.limit});
        if (!room) co_return out.fail(room.error());
        my_nick = room->nick;
        for (const auto& m : room->history) show_message(m);
        std::string who;
        for (const auto& o : room->occupants) who += (who.empty() ? "" : ", ") + o.nick;
        show("* in " + peer + " as " + my_nick + " with " + who, {{"event", "joined"}});
    } else if (cmd.limit > 0) {
        auto page = co_await c.history({.with = peer, .max = cmd.limit});
        if (!page) co_return out.fail(page.error());
        for (const auto& m : page->messages) {
            show_message(m);
            shown.insert(m.stanza_id);
        }
    }
    live = true;
    if (!cmd.room) {
        // Online only now: offline messages come after the history, and those already in it
        // (the same archive id, XEP-0359) are not shown twice.
        if (auto r = co_await c.enable_carbons(); !r) co_return out.fail(r.error());
        if (auto r = co_await c.send_presence(); !r) co_return out.fail(r.error());
    }
    if (tty) std::cout << editor.render() << std::flush;
    std::string pending;  // without a terminal: the line read so far
    bool quit = false;
    auto send_line = [&](std::string text) -> asio::awaitable<void> {
        if (text == "/quit") {
            quit = true;
            co_return;
        }
        if (text.empty()) co_return;
        auto r = cmd.room ? co_await c.send_room_message(peer, text)
                          : co_await c.send_message(peer, text);
        if (!r)
            show("! not sent: " + r.error().describe(), {{"event", "error"}});
        else if (!cmd.room && tty)  // a room shows our message when it comes back
            show(clock_of({}) + " me: " + text, {});
    };
    if (!in)
        for (std::string line; !quit && !lost && std::getline(std::cin, line);)
            co_await send_line(line);
    char buf[512];
    while (in && !quit && !lost) {
        auto [ec, n] =
            co_await in->async_read_some(asio::buffer(buf), asio::as_tuple(asio::use_awaitable));
        if (ec || n == 0) break;  // end of input, a signal, or the connection gone
        for (std::size_t i = 0; i < n && !quit; ++i) {
            if (!tty) {
                if (buf[i] != '\n') {
                    pending += buf[i];
                    continue;
                }
                co_await send_line(std::exchange(pending, {}));
                continue;
            }
            auto ev = editor.feed(buf[i]);
            if (!ev) continue;
            if (ev->kind == hongyan::cli::LineEditor::Event::quit) {
                quit = true;
                break;
            }
            std::cout << editor.render() << std::flush;
            co_await send_line(ev->text);
        }
        if (tty && !quit) std::cout << editor.render() << std::flush;
    }
    if (!tty && !pending.empty() && !quit && !lost) co_await send_line(pending);
    signals.cancel();
    live = false;
    if (tty) std::cout << editor.clear() << std::flush;
    raw.reset();
    if (lost) co_return out.fail(*lost);
    if (cmd.room) co_await c.leave_room(peer);
    co_return ok;
}

// Shows a vCard (XEP-0054), or changes fields of our own: read, change, write back, so that
// fields the command does not know stay as they were.
asio::awaitable<int> vcard(Client& c, const Command& cmd, const Output& out) {
    bool change =
        cmd.full_name || cmd.nickname || cmd.email || cmd.url || cmd.note || cmd.photo_file;
    if (change && !cmd.jid.empty())
        co_return out.fail(Error::make(ErrorKind::usage, "vcard", "not yours",
                                       "only your own vCard can be changed: leave out the JID"));
    auto card = co_await c.vcard(cmd.jid);
    if (!card) co_return out.fail(card.error());
    if (change) {
        auto v = std::move(*card);
        if (cmd.full_name) v.full_name = *cmd.full_name;
        if (cmd.nickname) v.nickname = *cmd.nickname;
        if (cmd.email) v.email = *cmd.email;
        if (cmd.url) v.url = *cmd.url;
        if (cmd.note) v.note = *cmd.note;
        if (cmd.photo_file) {
            v.photo.clear();
            v.photo_type.clear();
            if (!cmd.photo_file->empty()) {
                std::ifstream f(*cmd.photo_file, std::ios::binary);
                if (!f)
                    co_return out.fail(Error::make(ErrorKind::usage, "vcard", "no such file",
                                                   "cannot read " + *cmd.photo_file));
                v.photo.assign(std::istreambuf_iterator<char>(f), {});
                std::string name = *cmd.photo_file;
                v.photo_type = name.ends_with(".jpg") || name.ends_with(".jpeg") ? "image/jpeg"
                               : name.ends_with(".gif")                          ? "image/gif"
                               : name.ends_with(".webp")                         ? "image/webp"
                                                                                 : "image/png";
            }
        }
        if (auto r = co_await c.set_vcard(v); !r) co_return out.fail(r.error());
        card = co_await c.vcard();
        if (!card) co_return out.fail(card.error());
    }
    if (!cmd.save_photo.empty() && !card->photo.empty()) {
        std::ofstream f(cmd.save_photo, std::ios::binary);
        f.write(card->photo.data(), static_cast<std::streamsize>(card->photo.size()));
        if (!f)
            co_return out.fail(Error::make(ErrorKind::usage, "vcard", "cannot write",
                                           "cannot write " + cmd.save_photo));
    }
    std::string whose = cmd.jid.empty() ? bare(c.jid()) : bare(cmd.jid);
    std::string text = whose;
    for (const auto& [label, value] :
         {std::pair<const char*, const std::string&>{"name", card->full_name},
          {"nickname", card->nickname},
          {"email", card->email},
          {"url", card->url},
          {"note", card->note}})
        if (!value.empty()) text += std::string("\n  ") + label + ": " + value;
    if (!card->photo.empty())
        text +=
            "\n  photo: " + card->photo_type + ", " + std::to_string(card->photo.size()) + " bytes";
    out.line({{"jid", whose},
              {"full_name", card->full_name},
              {"nickname", card->nickname},
              {"email", card->email},
              {"url", card->url},
              {"note", card->note},
              {"photo_type", card->photo_type},
              {"photo_bytes", card->photo.size()}},
             text);
    co_return ok;
}

asio::awaitable<int> history(Client& c, const Command& cmd, const Output& out) {
    hongyan::client::HistoryQuery q{.with = cmd.jid, .max = cmd.limit};
    q.before = cmd.before;
    q.after = cmd.after;
    q.last = cmd.after.empty();
    if (!cmd.since.empty()) {
        if (!hongyan::datetime::parse_us(cmd.since))
            co_return out.fail(Error::make(ErrorKind::usage, "history", "bad --since",
                                           "give a time as 2026-12-06T10:00:00Z (XEP-0082)"));
        q.start = cmd.since;
        if (cmd.before.empty()) q.last = false;  // from that time on
    }
    auto page = co_await c.history(q);
    if (!page) co_return out.fail(page.error());
    for (const auto& m : page->messages) out.message(m);
    if (out.as_json)
        out.line({{"event", "page"},
                  {"first", page->first},
                  {"last", page->last},
                  {"complete", page->complete}},
                 "");
    co_return ok;
}

std::string read_stdin() {
    std::string text{std::istreambuf_iterator<char>(std::cin), std::istreambuf_iterator<char>()};
    while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) text.pop_back();
    return text;
}

// Every line of stdin as a message, all in flight together: the command ends when the server
// acknowledged each (XEP-0198), across a lost connection if the session resumes.
asio::awaitable<int> send_lines(Client& c, const Command& cmd, const Output& out) {
    std::vector<std::string> texts;
    for (std::string line; std::getline(std::cin, line);)
        if (!line.empty()) texts.push_back(line);
    auto ex = co_await asio::this_coro::executor;
    asio::steady_timer all_done(ex, asio::steady_timer::time_point::max());
    std::size_t left = texts.size();
    std::optional<Error> first_error;
    for (const auto& text : texts)
        asio::co_spawn(ex, c.send_message(cmd.jid, text), [&](std::exception_ptr, auto r) {
            if (!r && !first_error) first_error = r.error();
            if (--left == 0) all_done.cancel();
        });
    if (left > 0) co_await all_done.async_wait(asio::as_tuple(asio::use_awaitable));
    if (first_error) co_return out.fail(*first_error);
    out.line({{"ok", true}, {"command", "send"}, {"jid", cmd.jid}, {"messages", texts.size()}},
             "sent " + std::to_string(texts.size()) + " messages to " + cmd.jid);
    co_return ok;
}

asio::awaitable<int> run_connected(Client& c, const Command& cmd, const Output& out) {
    const std::string& n = cmd.name;
    auto done = [&](const hongyan::client::Result<void>& r, const std::string& text) {
        if (!r) return out.fail(r.error());
        out.line({{"ok", true}, {"command", n}, {"jid", cmd.jid}}, text);
        return int(ok);
    };
    if (n == "roster") co_return co_await show_roster(c, cmd, out);
    if (n == "watch" || n == "status") co_return co_await watch(c, cmd, out);
    if (n == "history") co_return co_await history(c, cmd, out);
    if (n == "join") co_return co_await join(c, cmd, out);
    if (n == "chat") co_return co_await chat(c, cmd, out);
    if (n == "vcard") co_return co_await vcard(c, cmd, out);
    if (n == "send" && cmd.each_line) co_return co_await send_lines(c, cmd, out);
    if (n == "send") {
        std::string text;
        for (const auto& w : cmd.words) text += (text.empty() ? "" : " ") + w;
        if (cmd.words.empty() || text == "-") text = read_stdin();
        if (text.empty())
            co_return out.fail(
                Error::make(ErrorKind::usage, "send", "empty message", "give TEXT or pipe it in"));
        if (cmd.room) {
            // Join without history, send, leave (XEP-0045 §7.2, §7.4, §7.14).
            auto room = co_await c.join_room(
                cmd.jid, {.nick = cmd.nick, .password = cmd.room_password, .history = 0});
            if (!room) co_return out.fail(room.error());
            auto sent = co_await c.send_room_message(room->jid, text);
            co_await c.leave_room(room->jid);
            co_return done(sent, "sent to " + room->jid);
        }
        co_return done(co_await c.send_message(cmd.jid, text), "sent to " + cmd.jid);
    }
    if (n == "add") {
        auto r = co_await c.set_contact(cmd.jid, cmd.contact_name, cmd.groups);
        if (r && !cmd.no_subscribe) r = co_await c.subscribe(cmd.jid);
        co_return done(r, "added " + cmd.jid +
                              (cmd.no_subscribe ? ""
                                                : "; asked to see their "
                                                  "presence"));
    }
    if (n == "remove") {
        auto items = co_await c.roster();
        if (!items) co_return out.fail(items.error());
        bool known = false;
        for (const auto& i : *items) known = known || i.jid == bare(cmd.jid);
        if (!known)
            co_return out.fail(Error::make(ErrorKind::stanza, "remove", "item-not-found",
                                           cmd.jid + " is not in the roster"));
        co_return done(co_await c.remove_contact(cmd.jid), "removed " + cmd.jid);
    }
    if (n == "approve") co_return done(co_await c.approve(cmd.jid), "approved " + cmd.jid);
    if (n == "deny") co_return done(co_await c.deny(cmd.jid), "denied " + cmd.jid);
    if (n == "block") co_return done(co_await c.block(cmd.jid), "blocked " + cmd.jid);
    if (n == "unblock") co_return done(co_await c.unblock(cmd.jid), "unblocked " + cmd.jid);
    if (n == "blocklist") {
        auto list = co_await c.blocklist();
        if (!list) co_return out.fail(list.error());
        for (const auto& j : *list) out.line({{"jid", j}}, j);
        co_return ok;
    }
    co_return out.fail(Error::make(ErrorKind::usage, n, "unknown command"));
}

asio::awaitable<int> run(Client& c, const Command& cmd, const Output& out) {
    if (cmd.name == "register") {
        auto r = co_await c.register_account();
        if (!r) co_return out.fail(r.error());
        out.line({{"ok", true}, {"command", "register"}}, "registered");
        co_return ok;
    }
    c.on_reconnect([](bool resumed) {
        std::cerr << "hongyan: connection restored"
                  << (resumed ? " (session resumed)" : " (new session)") << "\n";
    });
    if (auto r = co_await c.connect(); !r) co_return out.fail(r.error());
    int code = co_await run_connected(c, cmd, out);
    // The callbacks the command set refer to its own state, which is gone now.
    c.on_message({});
    c.on_presence({});
    c.on_occupant({});
    c.on_disconnect({});
    co_await c.disconnect();
    co_return code;
}

const char* const exit_codes =
    "Exit codes: 0 done; 1 other failure; 2 wrong usage or configuration; 3 server "
    "unreachable or connection lost; 4 certificate not trusted; 5 wrong password or no such "
    "account; 6 unknown contact or id (item-not-found); 7 the server refused (a stanza or "
    "stream error); 8 no answer in time.";

}  // namespace

int main(int argc, char** argv) {
    CLI::App app{
        "hongyan: an XMPP client for the terminal and for scripts.\n"
        "The account comes from --jid, HONGYAN_JID or ~/.config/hongyan/config.toml; "
        "the password from --password-file, --password-cmd, HONGYAN_PASSWORD, the "
        "config file, or a prompt."};
    app.footer(exit_codes);
    app.require_subcommand(1);
    app.fallthrough();
    hongyan::cli::Settings s;
    Output out;
    Command cmd;
    app.add_option("--config", s.config_file, "Config file (TOML) instead of the default");
    app.add_option("-j,--jid", s.jid, "Your account, user@domain");
    app.add_option("-r,--resource", s.resource, "Resource to bind (default: the server picks)");
    app.add_option("--password-file", s.password_file, "Read the password from this file");
    app.add_option("--password-cmd", s.password_cmd,
                   "Run this command; its first line of output is the password");
    app.add_option("--host", s.host, "Connect here instead of the JID's domain");
    app.add_option("-p,--port", s.port, "Port (default 5222; 5223 with --tls direct)");
    app.add_option("--tls", s.tls, "starttls (default), direct (XEP-0368) or none")
        ->check(CLI::IsMember({"starttls", "direct", "none"}));
    app.add_option("--trust-cert", s.trust_cert,
                   "PEM file with a CA or the server's own certificate to trust");
    app.add_option("--fingerprint", s.fingerprint,
                   "Accept only the certificate with this SHA-256 (hex)");
    app.add_flag("--insecure", s.insecure, "Accept any certificate (testing only)");
    app.add_option("--timeout", s.timeout, "Seconds to wait for the server (default 30)");
    app.add_flag("--json", out.as_json, "One JSON object per line on stdout");

    auto add = [&](const char* name, const char* what, bool with_jid) {
        auto* sub = app.add_subcommand(name, what);
        sub->footer(exit_codes);
        if (with_jid) sub->add_option("jid", cmd.jid, "The contact's JID")->required();
        sub->callback([&cmd, name] { cmd.name = name; });
        return sub;
    };
    add("register", "Create the account on the server (XEP-0077)", false);
    add("roster", "List your contacts: name, groups, subscription and presence", false)
        ->add_option("--presence-wait", cmd.presence_wait,
                     "Seconds to wait for contacts' presence (default 1; ends early when "
                     "all have answered)");
    auto* a = add("add", "Add a contact and ask to see their presence", true);
    a->add_option("-n,--name", cmd.contact_name, "The contact's name in your roster");
    a->add_option("-g,--group", cmd.groups, "A group for the contact (repeatable)");
    a->add_flag("--no-subscribe", cmd.no_subscribe, "Only add; do not ask for presence");
    add("remove", "Remove a contact (and both subscriptions)", true);
    add("approve", "Let a contact see your presence", true);
    add("deny", "Refuse (or revoke) a contact's request to see your presence", true);
    auto* send = add("send", "Send a chat message: TEXT, or standard input", true);
    send->add_option("text", cmd.words, "The message; - or nothing reads standard input");
    send->add_flag("--each-line", cmd.each_line,
                   "Every line of standard input is a message of its own; all are sent at "
                   "once and the command ends when the server has taken each");
    send->add_flag("--room", cmd.room, "JID is a room (XEP-0045): join it, send, leave");
    send->add_option("--nick", cmd.nick, "With --room: the nickname (default: your user name)");
    send->add_option("--room-password", cmd.room_password, "With --room: the room's password");
    auto* jn = add("join",
                   "Join a room (XEP-0045): who is there, recent history, then messages and "
                   "people as they come until ^C",
                   true);
    jn->add_option("--nick", cmd.nick, "Your nickname in the room (default: your user name)");
    jn->add_option("--room-password", cmd.room_password, "The room's password");
    jn->add_option("-n,--history", cmd.limit, "Messages of history to show (default 20)")
        ->check(CLI::Range(0, 1000));
    jn->add_option("-c,--count", cmd.count, "Leave after this many events");
    auto* ch = add("chat",
                   "Chat with a contact (or a room with --room): the history, messages as "
                   "they come, a line to type in; /quit, ^C or ^D to end",
                   true);
    ch->add_flag("--room", cmd.room, "JID is a room (XEP-0045)");
    ch->add_option("--nick", cmd.nick, "With --room: your nickname");
    ch->add_option("--room-password", cmd.room_password, "With --room: the room's password");
    ch->add_option("-n,--history", cmd.limit, "Messages of history to show first (default 20)")
        ->check(CLI::Range(0, 1000));
    auto* hist = add("history", "Show the chat history with a contact (XEP-0313)", true);
    hist->add_option("-n,--limit", cmd.limit, "Messages to show (default 20)")
        ->check(CLI::Range(1, 1000));
    hist->add_option("--before", cmd.before, "Messages before this archive id");
    hist->add_option("--after", cmd.after, "Messages after this archive id");
    hist->add_option("--since", cmd.since, "Messages from this time on (2026-12-06T10:00:00Z)");
    auto* w = add("watch", "Go online and print presence and messages as they come", false);
    w->add_option("-c,--count", cmd.count, "Stop after this many events");
    w->add_option("--show", cmd.show, "away, chat, dnd or xa")
        ->check(CLI::IsMember({"away", "chat", "dnd", "xa"}));
    w->add_option("--status", cmd.status, "Status text");
    auto* st = add("status", "Be online with this status until interrupted", false);
    st->add_option("show", cmd.show, "online, away, chat, dnd or xa")
        ->required()
        ->check(CLI::IsMember({"online", "away", "chat", "dnd", "xa"}));
    st->add_option("text", cmd.status, "Status text");
    st->add_option("-c,--count", cmd.count, "Stop after this many events");
    auto* vc = add("vcard", "Show a contact's vCard (XEP-0054), or yours; the options change yours",
                   false);
    vc->add_option("jid", cmd.jid, "The contact (default: you)");
    vc->add_option("--name", cmd.full_name, "Your full name (\"\" removes it)");
    vc->add_option("--nick", cmd.nickname, "Your nickname");
    vc->add_option("--email", cmd.email, "Your email address");
    vc->add_option("--url", cmd.url, "Your web page");
    vc->add_option("--note", cmd.note, "A line about you");
    vc->add_option("--photo", cmd.photo_file, "An image file for your avatar (\"\" removes it)");
    vc->add_option("--save-photo", cmd.save_photo, "Write the vCard's photo to this file");
    add("block", "Block a contact (XEP-0191)", true);
    add("unblock", "Unblock a contact", true);
    add("blocklist", "List blocked JIDs", false);

    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
        int rc = app.exit(e);
        return rc == 0 ? ok : usage;
    }
    if (cmd.show == "online") cmd.show.clear();

    std::string password;
    try {
        hongyan::cli::complete_settings(s);
        password = hongyan::cli::read_password(s);
    } catch (const hongyan::cli::UsageError& e) {
        std::cerr << "hongyan: " << e.what() << "\n";
        return usage;
    }

    asio::io_context io;
    Client client(io.get_executor(), hongyan::cli::client_options(s, std::move(password)));
    int code = failed;
    asio::co_spawn(io, run(client, cmd, out), [&](std::exception_ptr e, int rc) {
        code = rc;
        if (e) {
            try {
                std::rethrow_exception(e);
            } catch (const std::exception& ex) {
                std::cerr << "hongyan: " << ex.what() << "\n";
                code = failed;
            }
        }
    });
    io.run();
    return code;
}
