#include "server/http/websocket_transport.hpp"

#include <spdlog/spdlog.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/buffers_to_string.hpp>

#include "xmpp/namespaces.hpp"

namespace hongyan::http {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace websocket = beast::websocket;
using net::StreamEvent;

namespace {

// Frames are parsed as children of a stream the client never sends: its namespaces are
// the defaults a frame inherits (a stanza without xmlns is in jabber:client).
constexpr std::string_view kFrameContext =
    "<stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams'>";
constexpr std::string_view kStreamPrefix = " xmlns:stream=\"http://etherx.jabber.org/streams\"";
// Written exactly so: some clients (Strophe) compare the whole message.
constexpr std::string_view kClose = "<close xmlns=\"urn:ietf:params:xml:ns:xmpp-framing\" />";

std::string_view trim(std::string_view v) {
    while (!v.empty() &&
           (v.front() == ' ' || v.front() == '\t' || v.front() == '\r' || v.front() == '\n'))
        v.remove_prefix(1);
    while (!v.empty() &&
           (v.back() == ' ' || v.back() == '\t' || v.back() == '\r' || v.back() == '\n'))
        v.remove_suffix(1);
    return v;
}

// RFC 7395 §3.3.3: every message is a document of its own, so a stanza (serialised for a
// stream whose default namespace is jabber:client) declares its namespace.
void with_client_namespace(std::string_view stanza, std::string& out) {
    out.clear();
    auto name_end = stanza.find_first_of(" \t\r\n/>", 1);
    auto tag_end = stanza.find('>');
    if (stanza.empty() || stanza[0] != '<' || name_end == std::string_view::npos ||
        (tag_end != std::string_view::npos &&
         stanza.substr(0, tag_end).find(" xmlns=") != std::string_view::npos)) {
        out.assign(stanza);
        return;
    }
    out.reserve(stanza.size() + 24);
    out.append(stanza.substr(0, name_end));
    out.append(" xmlns=\"jabber:client\"");
    out.append(stanza.substr(name_end));
}

}  // namespace

template <class Stream>
WebSocketTransport<Stream>::WebSocketTransport(websocket::stream<Stream> ws, bool secure,
                                               const xml::ParserLimits& limits,
                                               std::string see_other_uri)
    : ws_(std::move(ws)),
      secure_(secure),
      parser_(limits),
      see_other_uri_(std::move(see_other_uri)) {
    boost::system::error_code ec;
    auto ep = beast::get_lowest_layer(ws_).socket().remote_endpoint(ec);
    if (!ec) {
        remote_ = ep.address();
        if (remote_.is_v6() && remote_.to_v6().is_v4_mapped())
            remote_ = asio::ip::make_address_v4(asio::ip::v4_mapped, remote_.to_v6());
        remote_port_ = ep.port();
    }
    ws_.text(true);
    set_limits(limits);
    parser_.feed(kFrameContext);  // the stream_open event
    parser_.resume();
}

template <class Stream>
WebSocketTransport<Stream>::~WebSocketTransport() {
    close();
}

template <class Stream>
std::string WebSocketTransport<Stream>::remote_string() const {
    return (remote_.is_v6() ? "[" + remote_.to_string() + "]" : remote_.to_string()) + ":" +
           std::to_string(remote_port_);
}

template <class Stream>
void WebSocketTransport<Stream>::set_limits(const xml::ParserLimits& limits) {
    parser_.set_limits(limits);
    // A message is one stanza: past the stanza limit (and a little framing) it is refused
    // before it is buffered whole.
    ws_.read_message_max(limits.max_stanza_size + 1024);
}

template <class Stream>
std::string WebSocketTransport<Stream>::open_stream(std::string_view from,
                                                    std::string_view id) const {
    // RFC 7395 §3.4
    std::string out = "<open xmlns=\"urn:ietf:params:xml:ns:xmpp-framing\" from=\"";
    xml::escape_attr(from, out);
    out += "\" id=\"";
    xml::escape_attr(id, out);
    out += "\" version=\"1.0\" xml:lang=\"en\"/>";
    return out;
}

template <class Stream>
std::string WebSocketTransport<Stream>::close_stream() const {
    return std::string(kClose);
}

template <class Stream>
std::string_view WebSocketTransport<Stream>::stream_prefix_declaration() const {
    return kStreamPrefix;
}

template <class Stream>
StreamEvent WebSocketTransport<Stream>::error(StreamErrorCondition c, std::string text) {
    return StreamEvent{StreamEvent::Kind::error, {}, c, std::move(text)};
}

template <class Stream>
asio::awaitable<void> WebSocketTransport<Stream>::close_handshake() {
    // RFC 6455 §7.1.2: our close frame, then the peer's; one that never answers is not
    // waited for long.
    websocket::stream_base::timeout t{};
    t.handshake_timeout = std::chrono::seconds(2);
    t.idle_timeout = websocket::stream_base::none();
    t.keep_alive_pings = false;
    ws_.set_option(t);
    co_await ws_.async_close(websocket::close_code::normal, asio::as_tuple(asio::use_awaitable));
    close();
}

template <class Stream>
asio::awaitable<void> WebSocketTransport<Stream>::redirect() {
    // RFC 7395 §3.6.1: the answer to <open/> is a <close/> naming where to go instead.
    std::string out = "<close xmlns=\"urn:ietf:params:xml:ns:xmpp-framing\" see-other-uri=\"";
    xml::escape_attr(see_other_uri_, out);
    out += "\" />";
    co_await ws_.async_write(asio::buffer(out), asio::as_tuple(asio::use_awaitable));
    co_await close_handshake();
}

template <class Stream>
asio::awaitable<StreamEvent> WebSocketTransport<Stream>::next_event() {
    using Event = xml::XmlStreamParser::Event;
    while (open_) {
        auto [ec, n] = co_await ws_.async_read(buffer_, asio::as_tuple(asio::use_awaitable));
        if (ec) {
            if (ec == websocket::error::message_too_big)
                co_return error(StreamErrorCondition::policy_violation, "stanza too large");
            open_ = false;
            co_return StreamEvent{};
        }
        bytes_read_ += n;
        if (!ws_.got_text()) {
            buffer_.consume(buffer_.size());
            co_return error(StreamErrorCondition::bad_format,
                            "XMPP travels in text messages (RFC 7395 §3.2)");
        }
        std::string data = beast::buffers_to_string(buffer_.data());
        buffer_.consume(buffer_.size());
        // Keep no large buffer after a large message (between reads, never during one).
        if (buffer_.capacity() > 16384) buffer_ = beast::flat_buffer();
        if (spdlog::should_log(spdlog::level::trace))
            spdlog::trace("c2s {} <<< {}", remote_string(), data);
        std::string_view frame = trim(data);
        if (frame.starts_with("<?xml")) {
            // RFC 7395 §3.3.3: not recommended, but allowed.
            auto end = frame.find("?>");
            if (end == std::string_view::npos)
                co_return error(StreamErrorCondition::not_well_formed,
                                "unterminated XML declaration");
            frame = trim(frame.substr(end + 2));
        }
        if (frame.empty()) continue;
        Event ev = parser_.feed(frame);
        if (ev == Event::error) co_return error(parser_.error(), parser_.error_text());
        if (ev != Event::stanza)
            co_return error(StreamErrorCondition::not_well_formed,
                            "a WebSocket message holds one complete XML element (RFC 7395 "
                            "§3.3.3)");
        xml::Element el = parser_.take_stanza();
        Event after = parser_.resume();
        if (after == Event::error) co_return error(parser_.error(), parser_.error_text());
        if (after != Event::need_more || parser_.depth() != 1)
            co_return error(StreamErrorCondition::not_well_formed,
                            "a WebSocket message holds exactly one XML element (RFC 7395 "
                            "§3.3.3)");
        if (el.xmlns() == ns::framing && el.name() == "open") {
            opened_ = true;
            if (!see_other_uri_.empty()) {
                co_await redirect();
                co_return StreamEvent{
                    StreamEvent::Kind::eof, {}, {}, "redirected to " + see_other_uri_};
            }
            co_return StreamEvent{StreamEvent::Kind::open, std::move(el), {}, {}};
        }
        if (el.xmlns() == ns::framing && el.name() == "close")
            co_return StreamEvent{StreamEvent::Kind::close, {}, {}, {}};
        if (!opened_) {
            // RFC 7395 §3.3.2, §3.4: the stream opens with <open/> in the framing namespace.
            co_return error(StreamErrorCondition::invalid_namespace,
                            "open the stream with <open "
                            "xmlns='urn:ietf:params:xml:ns:xmpp-framing'/> (RFC 7395 §3.4)");
        }
        if (el.xmlns() == ns::framing)
            co_return error(StreamErrorCondition::unsupported_stanza_type,
                            "unknown framing element <" + el.name() + "/>");
        co_return StreamEvent{StreamEvent::Kind::element, std::move(el), {}, {}};
    }
    co_return StreamEvent{};
}

template <class Stream>
asio::awaitable<bool> WebSocketTransport<Stream>::write(std::span<const net::OutUnit> units) {
    for (const auto& u : units) {
        if (!open_) co_return false;
        boost::system::error_code ec;
        if (u.kind == net::OutUnit::Kind::keepalive) {
            // RFC 7395 §3.8: no whitespace keepalives; a WebSocket ping instead.
            std::tie(ec) = co_await ws_.async_ping({}, asio::as_tuple(asio::use_awaitable));
        } else {
            std::string_view bytes = u.bytes();
            if (u.kind == net::OutUnit::Kind::stanza) {
                with_client_namespace(bytes, frame_);
                bytes = frame_;
            }
            std::size_t n = 0;
            std::tie(ec, n) = co_await ws_.async_write(asio::buffer(bytes.data(), bytes.size()),
                                                       asio::as_tuple(asio::use_awaitable));
            if (!ec && u.bytes() == kClose) {
                // RFC 7395 §3.6: who sends <close/> starts the WebSocket closing handshake.
                // The stream is over: nothing after its close is written.
                co_await close_handshake();
                co_return true;
            }
        }
        if (ec) {
            close();
            co_return false;
        }
    }
    if (frame_.capacity() > 4096) std::string().swap(frame_);
    co_return true;
}

template <class Stream>
void WebSocketTransport<Stream>::close() {
    if (!open_ && !beast::get_lowest_layer(ws_).socket().is_open()) return;
    open_ = false;
    boost::system::error_code ec;
    auto& socket = beast::get_lowest_layer(ws_).socket();
    socket.shutdown(asio::ip::tcp::socket::shutdown_both, ec);
    socket.close(ec);
}

template <class Stream>
void WebSocketTransport<Stream>::release_idle_memory() {
    // The read buffer belongs to the read under way; only the parser can go.
    if (parser_.can_release()) parser_.release();
}

template class WebSocketTransport<PlainStream>;
template class WebSocketTransport<TlsStream>;

}  // namespace hongyan::http
