#include "tools/bench/client_connection.hpp"

#include <netinet/in.h>
#include <openssl/ssl.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/connect.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>

#include "xmpp/crypto.hpp"
#include "xmpp/namespaces.hpp"
#include "xmpp/scram.hpp"

namespace hongyan::bench {

namespace {

using boost::system::error_code;
using Event = xml::XmlStreamParser::Event;
constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);

// Linux: let connect() pick the source port, so bound sockets share ports across
// destinations instead of each holding one for itself (ip(7), IP_BIND_ADDRESS_NO_PORT).
#ifndef IP_BIND_ADDRESS_NO_PORT
#define IP_BIND_ADDRESS_NO_PORT 24
#endif

std::string stream_header(const std::string& domain) {
    return "<?xml version='1.0'?><stream:stream to='" + xml::escape(domain) +
           "' version='1.0' xmlns='jabber:client' xmlns:stream='" + std::string(ns::streams) + "'>";
}

// RFC 6120 §4.9.3 / §6.5 / §8.3.3: the defined condition is the first child element in the
// given namespace; <text/> says more.
std::string condition_of(const xml::Element& el, std::string_view cond_ns) {
    for (const auto* c : el.children())
        if (c->xmlns() == cond_ns && c->name() != "text") return c->name();
    if (const auto* c = el.first_child(); c && c->name() != "text") return c->name();
    return "undefined-condition";
}

std::string text_of(const xml::Element& el, std::string_view text_ns) {
    return el.child_text("text", text_ns);
}

Outcome stream_error(const char* step, const xml::Element& el) {
    return Outcome::failure(step, "stream error <" + condition_of(el, ns::streams_error) + "/>",
                            text_of(el, ns::streams_error));
}

std::string sasl_element(std::string_view name, std::string_view payload) {
    std::string out = "<";
    out += name;
    out += " xmlns='";
    out += ns::sasl;
    out += "'>";
    out += crypto::base64_encode(payload);
    out += "</";
    out += name;
    out += ">";
    return out;
}

std::optional<std::string> decode_sasl(const xml::Element& el) {
    std::string text = el.text();
    if (text == "=" || text.empty()) return std::string();  // RFC 6120 §6.4.2: empty response
    return crypto::base64_decode(text);
}

}  // namespace

std::optional<std::string> SaltedPasswordCache::find(const std::string& key) const {
    std::lock_guard lock(mutex_);
    auto it = map_.find(key);
    if (it == map_.end()) return std::nullopt;
    return it->second;
}

void SaltedPasswordCache::store(const std::string& key, std::string salted) {
    std::lock_guard lock(mutex_);
    map_[key] = std::move(salted);
}

ClientConnection::ClientConnection(asio::any_io_executor ex, asio::ssl::context& tls_context,
                                   const Target& target)
    : target_(target),
      tls_context_(tls_context),
      socket_(ex),
      deadline_(ex),
      // A server's stanza limit is for what it reads; what it sends may be larger: a roster
      // of 10,000 items is about 800 KB in one <iq/>.
      parser_(xml::ParserLimits{.max_stanza_size = 64 * 1024 * 1024}) {}

ClientConnection::~ClientConnection() {
    deadline_.cancel();
    abort();
}

void ClientConnection::arm_deadline(double seconds) {
    timed_out_ = false;
    deadline_.expires_after(std::chrono::milliseconds(static_cast<long>(seconds * 1000)));
    // The handler may run after the connection is gone (cancelled, or fired just before).
    deadline_.async_wait([this, alive = std::weak_ptr<char>(alive_)](const error_code& ec) {
        if (ec || alive.expired()) return;
        timed_out_ = true;
        abort();
    });
}

void ClientConnection::disarm_deadline() {
    deadline_.cancel();
}

void ClientConnection::abort() {
    error_code ignored;
    socket_.shutdown(asio::ip::tcp::socket::shutdown_both, ignored);
    socket_.close(ignored);
}

Outcome ClientConnection::io_failure(const char* step, const error_code& ec) const {
    if (timed_out_) return Outcome::failure(step, "timed out");
    if (ec == asio::error::eof || ec == asio::ssl::error::stream_truncated ||
        ec == asio::error::connection_reset)
        return Outcome::failure(step, "connection closed by server", ec.message());
    if (ec == asio::error::connection_refused)
        return Outcome::failure(step, "connection refused",
                                "is the server running on " + target_.host.to_string() + ":" +
                                    std::to_string(target_.port_for_tls_mode()) + "?");
    return Outcome::failure(step, ec.message());
}

asio::awaitable<error_code> ClientConnection::write(std::string data) {
    error_code ec;
    if (tls_)
        std::tie(ec, std::ignore) =
            co_await asio::async_write(*tls_, asio::buffer(data), use_tuple);
    else
        std::tie(ec, std::ignore) =
            co_await asio::async_write(socket_, asio::buffer(data), use_tuple);
    co_return ec;
}

asio::awaitable<Event> ClientConnection::next_event(error_code& ec) {
    for (;;) {
        Event ev = Event::need_more;
        if (resume_pending_) {
            resume_pending_ = false;
            ev = parser_.resume();
        }
        if (ev == Event::need_more) {
            std::size_t n = 0;
            if (tls_)
                std::tie(ec, n) = co_await tls_->async_read_some(asio::buffer(buffer_), use_tuple);
            else
                std::tie(ec, n) =
                    co_await socket_.async_read_some(asio::buffer(buffer_), use_tuple);
            if (ec) co_return Event::error;
            bytes_received_ += n;
            if (!first_read_at_) first_read_at_ = std::chrono::steady_clock::now();
            ev = parser_.feed(buffer_.data(), n);
        }
        if (ev == Event::need_more) continue;
        if (ev != Event::error) resume_pending_ = true;
        co_return ev;
    }
}

asio::awaitable<Outcome> ClientConnection::next_stanza(const char* step, xml::Element& out) {
    error_code ec;
    for (;;) {
        Event ev = co_await next_event(ec);
        if (ec) co_return io_failure(step, ec);
        switch (ev) {
            case Event::stanza:
                out = parser_.take_stanza();
                if (out.is("error", ns::streams)) co_return stream_error(step, out);
                co_return Outcome{};
            case Event::stream_close:
                co_return Outcome::failure(step, "server closed the stream");
            case Event::error:
                co_return Outcome::failure(step, "bad XML from server", parser_.error_text());
            case Event::stream_open:
                co_return Outcome::failure(step, "unexpected stream header");
            case Event::need_more:
                break;
        }
    }
}

asio::awaitable<Outcome> ClientConnection::connect(asio::ip::address_v4 source) {
    asio::ip::tcp::endpoint local(source, 0);
    error_code ec;
    socket_.open(asio::ip::tcp::v4(), ec);
    if (ec) co_return Outcome::failure("connect", "socket: " + ec.message());
    int one = 1;
    ::setsockopt(socket_.native_handle(), IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof one);
    socket_.bind(local, ec);
    if (ec)
        co_return Outcome::failure("connect",
                                   "bind to " + source.to_string() + ": " + ec.message());
    asio::ip::tcp::endpoint remote(target_.host, target_.port_for_tls_mode());
    std::tie(ec) = co_await socket_.async_connect(remote, use_tuple);
    if (ec) co_return io_failure("connect", ec);
    socket_.set_option(asio::ip::tcp::no_delay(true), ec);
    co_return Outcome{};
}

asio::awaitable<Outcome> ClientConnection::handshake() {
    tls_ = std::make_unique<asio::ssl::stream<asio::ip::tcp::socket&>>(socket_, tls_context_);
    // Servers pick the certificate by SNI; the benchmark trusts any (self-signed) certificate.
    SSL_set_tlsext_host_name(tls_->native_handle(), target_.domain.c_str());
    auto [ec] = co_await tls_->async_handshake(asio::ssl::stream_base::client, use_tuple);
    if (ec) co_return io_failure("tls", ec);
    co_return Outcome{};
}

asio::awaitable<Outcome> ClientConnection::open_stream() {
    parser_.reset();
    resume_pending_ = false;
    if (auto ec = co_await write(stream_header(target_.domain))) co_return io_failure("stream", ec);
    error_code ec;
    Event ev = co_await next_event(ec);
    if (ec) co_return io_failure("stream", ec);
    if (ev == Event::error)
        co_return Outcome::failure("stream", "bad XML from server", parser_.error_text());
    if (ev != Event::stream_open) co_return Outcome::failure("stream", "no stream header");
    // RFC 6120 §4.3.2: features follow the header when version='1.0'.
    Outcome got = co_await next_stanza("stream", features_);
    if (!got.ok()) co_return got;
    if (!features_.is("features", ns::streams))
        co_return Outcome::failure("stream", "expected <stream:features/>",
                                   "got <" + features_.name() + "/>");
    co_return Outcome{};
}

asio::awaitable<Outcome> ClientConnection::negotiate_tls() {
    if (target_.tls == TlsMode::direct) {
        Outcome hs = co_await handshake();
        if (!hs.ok()) co_return hs;
    }
    Outcome opened = co_await open_stream();
    if (!opened.ok() || target_.tls != TlsMode::starttls) co_return opened;

    // RFC 6120 §5.4.2
    if (!features_.child("starttls", ns::tls))
        co_return Outcome::failure("starttls", "not offered by the server");
    if (auto ec = co_await write("<starttls xmlns='" + std::string(ns::tls) + "'/>"))
        co_return io_failure("starttls", ec);
    xml::Element answer;
    Outcome got = co_await next_stanza("starttls", answer);
    if (!got.ok()) co_return got;
    if (!answer.is("proceed", ns::tls))
        co_return Outcome::failure("starttls", "refused", "<" + answer.name() + "/>");
    Outcome hs = co_await handshake();
    if (!hs.ok()) co_return hs;
    co_return co_await open_stream();
}

asio::awaitable<Outcome> ClientConnection::authenticate(const std::string& user,
                                                        const std::string& password,
                                                        SaltedPasswordCache* cache) {
    const std::string mechanism = target_.mechanism();
    bool offered = false;
    std::string offers;
    if (const auto* mechs = features_.child("mechanisms", ns::sasl)) {
        for (const auto* m : mechs->children()) {
            offers += (offers.empty() ? "" : " ") + m->text();
            offered = offered || m->text() == mechanism;
        }
    }
    if (!offered && offers.empty() && features_.child("starttls", ns::tls))
        co_return Outcome::failure("sasl", "server requires TLS",
                                   "it offers only STARTTLS; use --tls starttls, or let the "
                                   "server authenticate without TLS");
    if (!offered)
        co_return Outcome::failure("sasl", mechanism + " not offered",
                                   offers.empty() ? "no SASL mechanisms" : "offered: " + offers);

    sasl::ScramClient scram(target_.hash, user, password);
    if (auto ec =
            co_await write("<auth xmlns='" + std::string(ns::sasl) + "' mechanism='" + mechanism +
                           "'>" + crypto::base64_encode(scram.client_first()) + "</auth>"))
        co_return io_failure("sasl", ec);

    xml::Element reply;
    std::string cache_key;
    bool sent_final = false;
    bool verified = false;
    for (;;) {
        Outcome got = co_await next_stanza("sasl", reply);
        if (!got.ok()) co_return got;
        if (reply.is("failure", ns::sasl))
            co_return Outcome::failure("sasl", condition_of(reply, ns::sasl),
                                       text_of(reply, ns::sasl));
        auto data = decode_sasl(reply);
        if (!data) co_return Outcome::failure("sasl", "bad base64 from server");
        if (reply.is("challenge", ns::sasl) && !sent_final) {
            // server-first-message (RFC 5802 §5.1): salt and iteration count key the cache.
            auto salt = sasl::scram_attr(*data, 's');
            auto iterations = sasl::scram_attr(*data, 'i');
            if (cache && salt && iterations) {
                cache_key = user + '\n' + mechanism + '\n' + std::string(*salt) + '\n' +
                            std::string(*iterations);
                auto raw_salt = crypto::base64_decode(*salt);
                if (auto hit = cache->find(cache_key); hit && raw_salt)
                    scram.reuse_salted_password(*raw_salt,
                                                std::atoi(std::string(*iterations).c_str()), *hit);
            }
            auto final_message = scram.client_final(*data);
            if (!final_message)
                co_return Outcome::failure("sasl", "bad server-first-message", *data);
            if (cache && !cache_key.empty()) cache->store(cache_key, scram.salted_password());
            if (auto ec = co_await write(sasl_element("response", *final_message)))
                co_return io_failure("sasl", ec);
            sent_final = true;
            continue;
        }
        if (!sent_final) co_return Outcome::failure("sasl", "unexpected <" + reply.name() + "/>");
        if (!data->empty()) {
            if (!scram.verify_server_final(*data))
                co_return Outcome::failure("sasl", "server signature mismatch", *data);
            verified = true;
        }
        if (reply.is("challenge", ns::sasl)) {
            // Some servers send server-final-message as a challenge (RFC 6120 §6.3.10 allows
            // it); the answer is an empty response.
            if (auto ec = co_await write("<response xmlns='" + std::string(ns::sasl) + "'/>"))
                co_return io_failure("sasl", ec);
            continue;
        }
        if (!reply.is("success", ns::sasl))
            co_return Outcome::failure("sasl", "unexpected <" + reply.name() + "/>");
        if (!verified) co_return Outcome::failure("sasl", "no server signature");
        co_return Outcome{};
    }
}

asio::awaitable<Outcome> ClientConnection::bind(const std::string& resource) {
    if (!features_.child("bind", ns::bind))
        co_return Outcome::failure("bind", "not offered by the server");
    std::string id = "bind" + std::to_string(++next_id_);
    // RFC 6120 §7.6
    if (auto ec =
            co_await write("<iq type='set' id='" + id + "'><bind xmlns='" + std::string(ns::bind) +
                           "'><resource>" + xml::escape(resource) + "</resource></bind></iq>"))
        co_return io_failure("bind", ec);
    xml::Element reply;
    for (;;) {
        Outcome got = co_await next_stanza("bind", reply);
        if (!got.ok()) co_return got;
        if (reply.name() != "iq" || reply.attr("id") != id) continue;
        if (reply.attr("type") == "result") co_return Outcome{};
        const auto* err = reply.child("error", ns::client);
        co_return Outcome::failure("bind", err ? condition_of(*err, ns::stanzas) : "error reply",
                                   err ? text_of(*err, ns::stanzas) : "");
    }
}

asio::awaitable<Outcome> ClientConnection::log_in(asio::ip::address_v4 source,
                                                  const std::string& user,
                                                  const std::string& password,
                                                  const std::string& resource,
                                                  SaltedPasswordCache* cache) {
    Outcome r = co_await connect(source);
    if (r.ok()) r = co_await negotiate_tls();
    if (r.ok()) r = co_await authenticate(user, password, cache);
    if (r.ok()) r = co_await open_stream();  // RFC 6120 §6.4.6: restart after SASL
    if (r.ok()) r = co_await bind(resource);
    co_return r;
}

asio::awaitable<Outcome> ClientConnection::register_account(asio::ip::address_v4 source,
                                                            const std::string& user,
                                                            const std::string& password,
                                                            bool& existed) {
    existed = false;
    Outcome r = co_await connect(source);
    if (r.ok()) r = co_await negotiate_tls();
    if (!r.ok()) co_return r;
    std::string id = "reg" + std::to_string(++next_id_);
    // XEP-0077 §3.1: registering with the fields the server needs in every case.
    if (auto ec = co_await write("<iq type='set' id='" + id + "'><query xmlns='" +
                                 std::string(ns::register_) + "'><username>" + xml::escape(user) +
                                 "</username><password>" + xml::escape(password) +
                                 "</password></query></iq>"))
        co_return io_failure("register", ec);
    xml::Element reply;
    for (;;) {
        Outcome got = co_await next_stanza("register", reply);
        if (!got.ok()) co_return got;
        if (reply.name() != "iq" || reply.attr("id") != id) continue;
        if (reply.attr("type") == "result") co_return Outcome{};
        const auto* err = reply.child("error", ns::client);
        std::string cond = err ? condition_of(*err, ns::stanzas) : "error reply";
        if (cond == "conflict") {
            existed = true;
            co_return Outcome{};
        }
        co_return Outcome::failure("register", cond, err ? text_of(*err, ns::stanzas) : "");
    }
}

asio::awaitable<Outcome> ClientConnection::close_stream(double seconds) {
    arm_deadline(seconds);
    Outcome result;
    if (auto ec = co_await write("</stream:stream>")) {
        result = io_failure("close", ec);
    } else {
        // RFC 6120 §4.4: wait for the server's close before dropping the connection.
        error_code ec2;
        for (;;) {
            Event ev = co_await next_event(ec2);
            if (ec2) {
                if (timed_out_) result = io_failure("close", ec2);
                break;  // the server closed the socket: also fine
            }
            if (ev == Event::stream_close) break;
            if (ev == Event::error) {
                result = Outcome::failure("close", "bad XML from server", parser_.error_text());
                break;
            }
        }
    }
    disarm_deadline();
    abort();
    co_return result;
}

asio::awaitable<Outcome> ClientConnection::wait_for_end() {
    error_code ec;
    Outcome how;
    for (;;) {
        Event ev = co_await next_event(ec);
        if (ec) {
            if (!close_requested_ || timed_out_) how = io_failure("idle", ec);
            break;
        }
        if (ev == Event::stanza) {
            xml::Element el = parser_.take_stanza();
            if (el.is("error", ns::streams)) {
                how = stream_error("idle", el);
                break;
            }
            continue;  // anything else an idle session may get (pings are not expected)
        }
        if (ev == Event::stream_close) {
            if (!close_requested_) how = Outcome::failure("idle", "server closed the stream");
            break;
        }
        if (ev == Event::error) {
            how = Outcome::failure("idle", "bad XML from server", parser_.error_text());
            break;
        }
    }
    disarm_deadline();
    abort();
    co_return how;
}

asio::awaitable<Outcome> ClientConnection::send(std::string data, const char* step) {
    if (auto ec = co_await write(std::move(data))) co_return io_failure(step, ec);
    co_return Outcome{};
}

asio::awaitable<Outcome> ClientConnection::receive(const char* step, xml::Element& out) {
    out = xml::Element();
    error_code ec;
    Event ev = co_await next_event(ec);
    if (ec) co_return (close_requested_ && !timed_out_) ? Outcome{} : io_failure(step, ec);
    switch (ev) {
        case Event::stanza:
            out = parser_.take_stanza();
            if (out.is("error", ns::streams)) co_return stream_error(step, out);
            co_return Outcome{};
        case Event::stream_close:
            if (close_requested_) co_return Outcome{};
            co_return Outcome::failure(step, "server closed the stream");
        case Event::error:
            co_return Outcome::failure(step, "bad XML from server", parser_.error_text());
        default:
            co_return Outcome::failure(step, "unexpected stream header");
    }
}

asio::awaitable<void> ClientConnection::request_close(double seconds) {
    if (!socket_.is_open()) co_return;
    close_requested_ = true;
    arm_deadline(seconds);
    co_await write("</stream:stream>");
}

}  // namespace hongyan::bench
