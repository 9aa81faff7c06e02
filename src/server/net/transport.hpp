// What a client session needs from the connection that carries its XML stream, whatever
// that connection is: the TCP transport (RFC 6120 streams over TCP, STARTTLS or direct
// TLS) or WebSocket (RFC 7395, one element per message). Stream negotiation, SASL,
// binding and everything after them (src/server/c2s) are shared by every transport; the
// framing of the stream (its header, its close, how elements are delimited), its
// security and the checks of the stream header belong to the transport.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/address.hpp>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "xmpp/stanza_error.hpp"
#include "xmpp/xml.hpp"
#include "xmpp/xml_stream_parser.hpp"

namespace hongyan::net {

// One thing read from the client's stream.
struct StreamEvent {
    enum class Kind {
        open,     // the stream (re)opens: `element` holds its attributes (to, version, xml:lang)
        element,  // a top-level element: a stanza or stream data (SASL, STARTTLS, ...)
        close,    // the client closed the stream
        error,    // the input broke a rule: answer with stream error `error`
        eof,      // the connection ended
    };
    Kind kind = Kind::eof;
    xml::Element element;
    StreamErrorCondition error = StreamErrorCondition::none;
    std::string text;
};

// One unit of output, serialised once: a stanza (counted one by one, so that stream
// management can acknowledge and resend), other stream data (features, SASL, errors, the
// stream's own open and close), or a keepalive. The bytes are either owned or shared by
// every session the same stanza goes to (a presence broadcast is serialised once).
// A unit may carry `done`, run once it was written (true) or could not be (false); the
// transport only writes the bytes.
struct OutUnit {
    enum class Kind : std::uint8_t { stanza, stream_data, keepalive };
    using Done = std::function<void(bool written)>;
    Kind kind = Kind::stanza;
    std::string own;
    std::shared_ptr<const std::string> shared;
    std::unique_ptr<Done> done;

    static OutUnit stanza(std::string bytes) { return make(Kind::stanza, std::move(bytes), {}); }
    static OutUnit stanza(std::shared_ptr<const std::string> bytes) {
        return make(Kind::stanza, {}, std::move(bytes));
    }
    static OutUnit data(std::string bytes) { return make(Kind::stream_data, std::move(bytes), {}); }
    static OutUnit keepalive() { return make(Kind::keepalive, {}, {}); }
    std::string_view bytes() const { return shared ? std::string_view(*shared) : own; }
    // Runs `done` (once), if any.
    void finish(bool written) {
        if (!done) return;
        auto d = std::move(done);
        (*d)(written);
    }

  private:
    static OutUnit make(Kind k, std::string own, std::shared_ptr<const std::string> shared) {
        OutUnit u;
        u.kind = k;
        u.own = std::move(own);
        u.shared = std::move(shared);
        return u;
    }
};

class Transport {
  public:
    virtual ~Transport() = default;

    // "tcp", "tls" or "websocket": for logs and, later, metrics.
    virtual std::string_view kind() const = 0;
    virtual boost::asio::any_io_executor executor() = 0;
    virtual const boost::asio::ip::address& remote_address() const = 0;
    virtual std::string remote_string() const = 0;
    // The connection is encrypted (TLS underneath).
    virtual bool secure() const = 0;
    // No handshake of the transport's own (TLS) is under way: XMPP data can be written.
    // A stream error cannot be sent while one is, so closing then is immediate.
    virtual bool ready() const = 0;
    virtual bool is_open() const = 0;

    // The transport's own handshake before any XMPP data (TLS on the direct-TLS port);
    // false when it failed and the connection is gone.
    virtual boost::asio::awaitable<bool> handshake() = 0;
    // The next event of the client's stream.
    virtual boost::asio::awaitable<StreamEvent> next_event() = 0;
    // An event already read and buffered, if any, without waiting: several stanzas often
    // arrive in one read, and taking them this way costs no coroutine per stanza.
    virtual std::optional<StreamEvent> buffered_event() { return std::nullopt; }
    // The stream restarts (RFC 6120 §4.3.3) after the element just read: input after it
    // belongs to the new stream when `keep_input` (SASL success, §6.4.6), and is
    // discarded otherwise (STARTTLS, §5.4.3.3).
    virtual void restart_stream(bool keep_input) = 0;
    virtual void set_limits(const xml::ParserLimits& limits) = 0;

    // STARTTLS (RFC 6120 §5) where the transport can add TLS itself.
    virtual bool can_starttls() const { return false; }
    // The TLS handshake after <proceed/> was written; false when it failed.
    virtual boost::asio::awaitable<bool> starttls() { co_return false; }

    // Our side of the stream, in the transport's framing.
    virtual std::string open_stream(std::string_view from, std::string_view id) const = 0;
    virtual std::string close_stream() const = 0;
    // What an element with the 'stream:' prefix (features, errors) must declare: nothing
    // on a TCP stream, whose header declares it; the prefix itself on WebSocket, where
    // every message is a document of its own (RFC 7395 §3.3.3).
    virtual std::string_view stream_prefix_declaration() const = 0;

    // Writes the units in order; false when the connection failed.
    virtual boost::asio::awaitable<bool> write(std::span<const OutUnit> units) = 0;
    // Ends the connection now: pending reads and writes fail.
    virtual void close() = 0;

    // Bytes received so far (for read throttling).
    virtual std::uint64_t bytes_read() const = 0;
    // The connection has been quiet for a while: give up what can be rebuilt (the parser,
    // buffers).
    virtual void release_idle_memory() {}
};

}  // namespace hongyan::net
