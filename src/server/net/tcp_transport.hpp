// The TCP transport: an RFC 6120 XML stream over a TCP socket, in the clear (with
// STARTTLS, §5) or with direct TLS (XEP-0368). It owns the stream parser, checks the
// stream header (§4.7) and writes our header and close.
//
// Memory per idle connection is kept small on purpose: reads land in one buffer per thread
// (parsed before anything else runs), and TLS runs OpenSSL directly on the non-blocking
// socket with SSL_MODE_RELEASE_BUFFERS, instead of Asio's ssl::stream, which keeps two
// 17 KiB buffers per connection.
#pragma once

#include <openssl/ssl.h>

#include <boost/asio/ip/tcp.hpp>
#include <chrono>
#include <optional>

#include "server/net/transport.hpp"

namespace hongyan::net {

class TcpTransport final : public Transport {
  public:
    // `tls` is the server context (nullptr: no TLS at all); `direct_tls` starts TLS
    // before any XMPP data. `stream_ns` is the stream's default namespace: jabber:client,
    // or jabber:component:accept for external components (XEP-0114).
    TcpTransport(boost::asio::ip::tcp::socket socket, SSL_CTX* tls, bool direct_tls,
                 const xml::ParserLimits& limits, std::string_view stream_ns = "jabber:client");
    ~TcpTransport() override;
    TcpTransport(const TcpTransport&) = delete;
    TcpTransport& operator=(const TcpTransport&) = delete;

    std::string_view kind() const override { return direct_tls_ ? "tls" : "tcp"; }
    std::string_view stream_namespace() const { return stream_ns_; }
    boost::asio::any_io_executor executor() override { return socket_.get_executor(); }
    const boost::asio::ip::address& remote_address() const override { return remote_; }
    std::string remote_string() const override;
    bool secure() const override { return ssl_ != nullptr && !handshaking_; }
    bool ready() const override { return !handshaking_; }
    bool is_open() const override { return open_; }

    boost::asio::awaitable<bool> handshake() override;
    boost::asio::awaitable<StreamEvent> next_event() override;
    std::optional<StreamEvent> buffered_event() override;
    void restart_stream(bool keep_input) override;
    void set_limits(const xml::ParserLimits& limits) override { parser_.set_limits(limits); }
    bool can_starttls() const override { return tls_ != nullptr && ssl_ == nullptr; }
    boost::asio::awaitable<bool> starttls() override;

    std::string open_stream(std::string_view from, std::string_view id) const override;
    std::string close_stream() const override { return "</stream:stream>"; }
    std::string_view stream_prefix_declaration() const override { return {}; }

    boost::asio::awaitable<bool> write(std::span<const OutUnit> units) override;
    // Ends the connection: after TLS's close_notify, our side is shut and the socket goes
    // on reading and discarding the peer's last bytes for up to the linger time (until
    // its end of stream), then closes. Closing a socket with unread input makes the
    // kernel send a reset, which can make the peer's kernel drop the last stanzas and
    // the stream's close before the peer reads them. A linger of zero closes at once.
    void close() override;
    void set_linger(std::chrono::steady_clock::duration d) { linger_ = d; }

    std::uint64_t bytes_read() const override { return bytes_read_; }
    void release_idle_memory() override;

  private:
    // One non-blocking read: bytes (in a per-thread buffer valid until the caller's next
    // suspension), or what to wait for before trying again, or neither when the peer
    // closed the connection or it failed.
    struct ReadStep {
        std::string_view data;
        std::optional<boost::asio::ip::tcp::socket::wait_type> wait;
    };
    ReadStep try_read();
    boost::asio::awaitable<bool> start_tls();
    // After an OpenSSL call returned `rc` <= 0: the socket readiness it asks for, or
    // nothing when the TLS connection failed or ended.
    std::optional<boost::asio::ip::tcp::socket::wait_type> tls_wait(int rc);
    // False when the wait failed or the transport was closed meanwhile.
    boost::asio::awaitable<bool> wait(boost::asio::ip::tcp::socket::wait_type w);
    // RFC 6120 §4.7: the stream header's namespaces.
    StreamEvent check_header(const xml::Element& header) const;
    // The event the parser just returned (anything but need_more).
    StreamEvent translate(xml::XmlStreamParser::Event ev);

    boost::asio::ip::tcp::socket socket_;
    boost::asio::ip::address remote_;
    unsigned short remote_port_ = 0;
    SSL_CTX* tls_;
    SSL* ssl_ = nullptr;
    bool direct_tls_;
    std::string_view stream_ns_;
    bool handshaking_ = false;
    bool tls_broken_ = false;  // after a fatal TLS error no close_notify may be sent
    bool open_ = true;
    std::chrono::steady_clock::duration linger_{};

    xml::XmlStreamParser parser_;
    bool parser_suspended_ = false;  // the parser stopped at an event; resume() goes on
    // Until the last stream restart (SASL success) the chunk being parsed is kept, since
    // what follows the element that restarts the stream belongs to the new stream.
    bool keep_chunks_ = true;
    std::string chunk_;
    std::string carried_;  // input for the new stream after a restart
    std::uint64_t bytes_read_ = 0;
};

// Size of the per-thread read buffer.
inline constexpr std::size_t kReadBufferSize = 16 * 1024;

}  // namespace hongyan::net
