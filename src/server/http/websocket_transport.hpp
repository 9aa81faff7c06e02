// The WebSocket transport (RFC 7395): one XML element per text message, the stream opened
// and closed with <open/> and <close/> in urn:ietf:params:xml:ns:xmpp-framing, no
// STARTTLS (TLS, if any, is the HTTPS listener's), WebSocket pings as keepalives. The
// HTTP listener (http_listener.cpp) does the upgrade and hands the stream over.
#pragma once

#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>
#include <boost/beast/websocket/stream.hpp>

#include "server/net/transport.hpp"

namespace hongyan::http {

using PlainStream = boost::beast::tcp_stream;
using TlsStream = boost::beast::ssl_stream<boost::beast::tcp_stream>;

template <class Stream>
class WebSocketTransport final : public net::Transport {
  public:
    // `see_other_uri`: when set, the stream is redirected there on <open/> (RFC 7395
    // §3.6.1) instead of being served.
    WebSocketTransport(boost::beast::websocket::stream<Stream> ws, bool secure,
                       const xml::ParserLimits& limits, std::string see_other_uri);
    ~WebSocketTransport() override;

    std::string_view kind() const override { return "websocket"; }
    boost::asio::any_io_executor executor() override { return ws_.get_executor(); }
    const boost::asio::ip::address& remote_address() const override { return remote_; }
    std::string remote_string() const override;
    bool secure() const override { return secure_; }
    bool ready() const override { return true; }
    bool is_open() const override { return open_; }

    boost::asio::awaitable<bool> handshake() override { co_return open_; }
    boost::asio::awaitable<net::StreamEvent> next_event() override;
    void restart_stream(bool) override { opened_ = false; }
    void set_limits(const xml::ParserLimits& limits) override;

    std::string open_stream(std::string_view from, std::string_view id) const override;
    std::string close_stream() const override;
    std::string_view stream_prefix_declaration() const override;

    boost::asio::awaitable<bool> write(std::span<const net::OutUnit> units) override;
    void close() override;

    std::uint64_t bytes_read() const override { return bytes_read_; }
    void release_idle_memory() override;

  private:
    net::StreamEvent error(StreamErrorCondition c, std::string text);
    boost::asio::awaitable<void> redirect();
    boost::asio::awaitable<void> close_handshake();

    boost::beast::websocket::stream<Stream> ws_;
    boost::asio::ip::address remote_;
    unsigned short remote_port_ = 0;
    bool secure_;
    bool open_ = true;
    bool opened_ = false;  // the client's <open/> for the current stream has arrived
    xml::XmlStreamParser parser_;
    boost::beast::flat_buffer buffer_;
    std::uint64_t bytes_read_ = 0;
    std::string see_other_uri_;
    std::string frame_;  // a stanza with its namespace declared, being written
};

extern template class WebSocketTransport<PlainStream>;
extern template class WebSocketTransport<TlsStream>;

}  // namespace hongyan::http
