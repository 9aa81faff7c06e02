// One client-to-server XMPP stream (RFC 6120): TCP to the server, TLS (STARTTLS or direct,
// XEP-0368) with the certificate checked, SASL SCRAM, resource binding, in-band
// registration (XEP-0077), then stanzas written and read as they are. hongyan::client::Client
// builds the IM protocols on it; hongyan-bench drives it directly, thousands at a time.
//
// A Stream is not thread-safe: use it from one strand (Client does).
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/address.hpp>
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

#include "hongyan/error.hpp"
#include "xmpp/crypto.hpp"
#include "xmpp/xml.hpp"
#include "xmpp/xml_stream_parser.hpp"

namespace hongyan::client {

namespace asio = boost::asio;

enum class TlsMode {
    none,      // plain TCP: only for servers on loopback that allow it
    starttls,  // RFC 6120 §5: TLS negotiated on the plain port (5222)
    direct,    // XEP-0368: TLS from the first byte (5223)
};

// Whom to trust for the server's certificate. By default: the system's CA store, with
// the certificate's names checked against the XMPP domain (RFC 6125, RFC 7590 §3.2).
struct Trust {
    // A PEM file of certificates trusted besides the system store; a self-signed server
    // certificate in it is trusted as it is.
    std::string ca_file;
    // The SHA-256 of the server certificate (hex, colons allowed): if set, exactly that
    // certificate is accepted and nothing else is checked.
    std::string fingerprint;
    // Accept any certificate. For load generators and tests only.
    bool insecure = false;
};

// A TLS context for Streams that trust `trust` (a context can be shared by any number of
// Streams, as the bench does).
Result<std::shared_ptr<asio::ssl::context>> make_tls_context(const Trust& trust);

struct ConnectOptions {
    std::string domain;      // the XMPP domain: JIDs' domain part, SNI and certificate name
    std::string host;        // where to connect; empty means the domain
    std::uint16_t port = 0;  // 0: 5222, or 5223 with TlsMode::direct
    TlsMode tls = TlsMode::starttls;
    Trust trust;
    // SCRAM hash to insist on; unset: the strongest the server offers.
    std::optional<crypto::Hash> hash;

    std::string connect_host() const { return host.empty() ? domain : host; }
    std::uint16_t connect_port() const {
        return port ? port : (tls == TlsMode::direct ? 5223 : 5222);
    }
};

// SaltedPassword per account and salt: RFC 5802 §5.1 lets a client skip PBKDF2 on later
// logins. One cache may serve many Streams on many threads.
class SaltedPasswordCache {
  public:
    std::optional<std::string> find(const std::string& key) const;
    void store(const std::string& key, std::string salted);

  private:
    mutable std::mutex mutex_;
    std::map<std::string, std::string> map_;
};

class Stream {
  public:
    Stream(asio::any_io_executor ex, asio::ssl::context& tls_context, ConnectOptions options);
    ~Stream();
    Stream(const Stream&) = delete;
    Stream& operator=(const Stream&) = delete;

    asio::any_io_executor executor() { return socket_.get_executor(); }
    const ConnectOptions& options() const { return options_; }
    // The last <stream:features/> the server sent.
    const xml::Element& features() const { return features_; }

    // After `seconds`, whatever is running fails with a timeout and the socket closes.
    void arm_deadline(double seconds);
    void disarm_deadline();

    // TCP (each resolved address in turn, from `source` if given), TLS as the options ask,
    // and the stream header with features.
    asio::awaitable<Result<void>> connect(std::optional<asio::ip::address> source = {});
    // SASL SCRAM (RFC 6120 §6, RFC 5802), then the stream restart. `cache` may be null.
    asio::awaitable<Result<void>> authenticate(const std::string& user, const std::string& password,
                                               SaltedPasswordCache* cache);
    // RFC 6120 §7: binds `resource` (empty: the server picks) and returns the full JID.
    asio::awaitable<Result<std::string>> bind(const std::string& resource);
    // XEP-0077 §3.1, before authenticating. Returns true when the account existed already
    // (the server answered <conflict/>).
    asio::awaitable<Result<bool>> register_account(const std::string& user,
                                                   const std::string& password);

    // Writes `data` (serialized stanzas). At most one write at a time; it may run beside
    // read().
    asio::awaitable<Result<void>> write(std::string data);
    // The next top-level element. When the stream ends after request_close(), this
    // succeeds with an element without a name.
    asio::awaitable<Result<xml::Element>> read();

    // Sends </stream:stream>, waits (bounded) for the server's, then closes the socket.
    asio::awaitable<Result<void>> close_stream(double seconds = 5.0);
    // Reads, discarding stanzas, until the stream or socket ends; success when the end
    // followed request_close().
    asio::awaitable<Result<void>> wait_for_end();
    // Asks the server to end the stream while a read is running; the socket is closed
    // after `seconds` whatever happens.
    asio::awaitable<void> request_close(double seconds = 10.0);
    void abort();
    bool is_open() const { return socket_.is_open(); }

    std::uint64_t bytes_received() const { return bytes_received_; }
    // When the first read after mark_reads() returned data.
    void mark_reads() { first_read_at_.reset(); }
    std::optional<std::chrono::steady_clock::time_point> first_read_at() const {
        return first_read_at_;
    }

  private:
    asio::awaitable<Result<void>> connect_tcp(std::optional<asio::ip::address> source);
    asio::awaitable<Result<void>> handshake();
    asio::awaitable<Result<void>> open_stream();
    asio::awaitable<Result<xml::Element>> request(const char* step, std::string iq,
                                                  const std::string& id);
    asio::awaitable<xml::XmlStreamParser::Event> next_event(boost::system::error_code& ec);
    asio::awaitable<Result<xml::Element>> next_stanza(const char* step);
    Error io_failure(const char* step, const boost::system::error_code& ec) const;

    ConnectOptions options_;
    asio::ssl::context& tls_context_;
    asio::ip::tcp::socket socket_;
    std::unique_ptr<asio::ssl::stream<asio::ip::tcp::socket&>> tls_;
    asio::steady_timer deadline_;
    // Expires with the stream, so a deadline handler already queued can tell.
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

}  // namespace hongyan::client
