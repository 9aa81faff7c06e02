// One client-to-server XMPP connection for the load generator: just enough of RFC 6120
// (TLS, SASL SCRAM, resource binding, stream close) and XEP-0077 to log in, register and
// sit idle, driven step by step from a coroutine, plus raw send and receive for scenarios
// that exchange stanzas once logged in. Works against any XMPP server.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>

#include <array>
#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "tools/bench/target.hpp"
#include "xmpp/xml.hpp"
#include "xmpp/xml_stream_parser.hpp"

namespace hongyan::bench {

namespace asio = boost::asio;

// How a step went. `step` is empty on success; otherwise it names the step that failed
// ("connect", "tls", "sasl", ...) and `condition` is a short, countable reason.
struct Outcome {
    std::string step;
    std::string condition;
    std::string text;

    bool ok() const { return step.empty(); }
    static Outcome failure(std::string step, std::string condition, std::string text = {}) {
        return {std::move(step), std::move(condition), std::move(text)};
    }
    std::string kind() const { return step + ": " + condition; }
    std::string describe() const { return text.empty() ? kind() : kind() + " (" + text + ")"; }
};

// SaltedPassword per account and salt, shared by all connections: RFC 5802 §5.1 lets a
// client skip PBKDF2 on later logins, as real clients do; without it the load generator
// would spend more CPU per login than the servers it measures.
class SaltedPasswordCache {
  public:
    std::optional<std::string> find(const std::string& key) const;
    void store(const std::string& key, std::string salted);

  private:
    mutable std::mutex mutex_;
    std::map<std::string, std::string> map_;
};

class ClientConnection {
  public:
    ClientConnection(asio::any_io_executor ex, asio::ssl::context& tls_context,
                     const Target& target);
    ~ClientConnection();
    ClientConnection(const ClientConnection&) = delete;
    ClientConnection& operator=(const ClientConnection&) = delete;

    asio::any_io_executor executor() { return socket_.get_executor(); }

    // After `seconds`, whatever step is running fails with "timed out" and the socket closes.
    void arm_deadline(double seconds);
    void disarm_deadline();

    // Connect from `source`, negotiate TLS as the target asks, log in with SCRAM and bind
    // `resource`: the whole way from nothing to a usable session.
    asio::awaitable<Outcome> log_in(asio::ip::address_v4 source, const std::string& user,
                                    const std::string& password, const std::string& resource,
                                    SaltedPasswordCache* cache);
    // Connect, negotiate TLS and create the account in-band (XEP-0077). `existed` is set
    // when the server answered <conflict/>, which counts as success.
    asio::awaitable<Outcome> register_account(asio::ip::address_v4 source, const std::string& user,
                                              const std::string& password, bool& existed);

    // After log_in(): writes `data` (one or more stanzas, already serialized). At most one
    // send() at a time; it may run beside receive().
    asio::awaitable<Outcome> send(std::string data, const char* step);
    // After log_in(): the next stanza from the server. When the stream ends after
    // request_close(), this succeeds with `out` left without a name.
    asio::awaitable<Outcome> receive(const char* step, xml::Element& out);
    // Bytes read from the server so far (after TLS), for the size of a reply.
    std::uint64_t bytes_received() const { return bytes_received_; }
    // When the first read after mark_reads() returned data: for the time to the first byte
    // of a reply, which the client's own parsing of a large reply does not delay.
    void mark_reads() { first_read_at_.reset(); }
    std::optional<std::chrono::steady_clock::time_point> first_read_at() const {
        return first_read_at_;
    }

    // Sends </stream:stream> and waits (bounded) for the server's; then closes the socket.
    asio::awaitable<Outcome> close_stream(double seconds = 5.0);
    // For idle connections: reads (ignoring keepalives and stray stanzas) until the stream
    // or the socket ends. Returns success when the end followed request_close().
    asio::awaitable<Outcome> wait_for_end();
    // Asks the server to end the stream while wait_for_end() is reading; run it on
    // executor(). The socket is closed after `seconds` whatever happens.
    asio::awaitable<void> request_close(double seconds = 10.0);
    void abort();

  private:
    asio::awaitable<Outcome> connect(asio::ip::address_v4 source);
    asio::awaitable<Outcome> negotiate_tls();
    asio::awaitable<Outcome> handshake();
    asio::awaitable<Outcome> open_stream();
    asio::awaitable<Outcome> authenticate(const std::string& user, const std::string& password,
                                          SaltedPasswordCache* cache);
    asio::awaitable<Outcome> bind(const std::string& resource);

    asio::awaitable<boost::system::error_code> write(std::string data);
    // The next parser event; `ec` is set when reading failed first.
    asio::awaitable<xml::XmlStreamParser::Event> next_event(boost::system::error_code& ec);
    // The next top-level element, or why there is none (named after `step`).
    asio::awaitable<Outcome> next_stanza(const char* step, xml::Element& out);
    Outcome io_failure(const char* step, const boost::system::error_code& ec) const;

    const Target& target_;
    asio::ssl::context& tls_context_;
    asio::ip::tcp::socket socket_;
    std::unique_ptr<asio::ssl::stream<asio::ip::tcp::socket&>> tls_;
    asio::steady_timer deadline_;
    // Expires with the connection, so a deadline handler already queued can tell.
    std::shared_ptr<char> alive_ = std::make_shared<char>();
    bool timed_out_ = false;
    bool close_requested_ = false;
    xml::XmlStreamParser parser_;
    bool resume_pending_ = false;
    xml::Element features_;
    std::array<char, 4096> buffer_{};
    int next_id_ = 0;
    std::uint64_t bytes_received_ = 0;
    std::optional<std::chrono::steady_clock::time_point> first_read_at_;
};

}  // namespace hongyan::bench
