#include "server/net/tcp_transport.hpp"

#include <openssl/err.h>
#include <spdlog/spdlog.h>

#include <array>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <memory>

#include "server/net/buffer_pool.hpp"
#include "xmpp/namespaces.hpp"

namespace hongyan::net {

namespace asio = boost::asio;
using asio::ip::tcp;

namespace {
thread_local std::array<char, kReadBufferSize> t_read_buffer;
}

TcpTransport::TcpTransport(tcp::socket socket, SSL_CTX* tls, bool direct_tls,
                           const xml::ParserLimits& limits, std::string_view stream_ns)
    : socket_(std::move(socket)),
      tls_(tls),
      direct_tls_(direct_tls),
      stream_ns_(stream_ns),
      parser_(limits) {
    boost::system::error_code ec;
    auto ep = socket_.remote_endpoint(ec);
    if (!ec) {
        remote_ = ep.address();
        if (remote_.is_v6() && remote_.to_v6().is_v4_mapped())
            remote_ = asio::ip::make_address_v4(asio::ip::v4_mapped, remote_.to_v6());
        remote_port_ = ep.port();
    }
    socket_.non_blocking(true, ec);
    socket_.set_option(tcp::no_delay(true), ec);
}

TcpTransport::~TcpTransport() {
    linger_ = {};  // the executor may be going away too: close at once
    close();
    if (ssl_) SSL_free(ssl_);
}

std::string TcpTransport::remote_string() const {
    return (remote_.is_v6() ? "[" + remote_.to_string() + "]" : remote_.to_string()) + ":" +
           std::to_string(remote_port_);
}

namespace {
// Reads and drops what the peer still sends until its end of stream, a failure or the
// deadline, then closes (see TcpTransport::close).
asio::awaitable<void> linger_close(std::shared_ptr<tcp::socket> s,
                                   std::chrono::steady_clock::duration limit) {
    asio::steady_timer deadline(s->get_executor(), limit);
    deadline.async_wait([s](boost::system::error_code ec) {
        if (!ec) s->close(ec);  // the peer kept the connection open: give up on it
    });
    boost::system::error_code ec;
    while (s->is_open()) {
        std::size_t n = s->read_some(asio::buffer(t_read_buffer), ec);
        if (!ec && n > 0) continue;
        if (ec != asio::error::would_block && ec != asio::error::try_again) break;
        auto [wec] =
            co_await s->async_wait(tcp::socket::wait_read, asio::as_tuple(asio::use_awaitable));
        if (wec) break;
    }
    deadline.cancel();
    s->close(ec);
}
}  // namespace

void TcpTransport::close() {
    if (!open_) return;
    open_ = false;
    boost::system::error_code ec;
    if (ssl_ && !tls_broken_ && SSL_is_init_finished(ssl_)) {
        // Best effort close_notify; the socket is non-blocking so this never waits.
        SSL_set_quiet_shutdown(ssl_, 0);
        SSL_shutdown(ssl_);
        ERR_clear_error();
    }
    if (linger_ <= std::chrono::steady_clock::duration::zero()) {
        socket_.shutdown(tcp::socket::shutdown_both, ec);
        socket_.close(ec);
        return;
    }
    socket_.shutdown(tcp::socket::shutdown_send, ec);
    socket_.cancel(ec);  // the session's pending read or write ends now
    auto s = std::make_shared<tcp::socket>(std::move(socket_));
    asio::co_spawn(s->get_executor(), linger_close(std::move(s), linger_), asio::detached);
}

std::optional<tcp::socket::wait_type> TcpTransport::tls_wait(int rc) {
    int err = SSL_get_error(ssl_, rc);
    if (err == SSL_ERROR_WANT_READ) return tcp::socket::wait_read;
    if (err == SSL_ERROR_WANT_WRITE) return tcp::socket::wait_write;
    // A clean close_notify is not a failure; anything else leaves the TLS state unusable.
    if (err != SSL_ERROR_ZERO_RETURN) tls_broken_ = true;
    ERR_clear_error();
    return std::nullopt;
}

asio::awaitable<bool> TcpTransport::wait(tcp::socket::wait_type w) {
    auto [ec] = co_await socket_.async_wait(w, asio::as_tuple(asio::use_awaitable));
    co_return !ec && open_;
}

TcpTransport::ReadStep TcpTransport::try_read() {
    auto& buf = t_read_buffer;
    if (!open_) return {};
    if (!ssl_) {
        boost::system::error_code ec;
        std::size_t n = socket_.read_some(asio::buffer(buf), ec);
        if (!ec && n > 0) return {std::string_view(buf.data(), n), std::nullopt};
        if (ec == asio::error::would_block || ec == asio::error::try_again)
            return {{}, tcp::socket::wait_read};
        return {};
    }
    ERR_clear_error();
    int n = SSL_read(ssl_, buf.data(), static_cast<int>(buf.size()));
    if (n > 0) return {std::string_view(buf.data(), static_cast<std::size_t>(n)), std::nullopt};
    return {{}, tls_wait(n)};
}

asio::awaitable<bool> TcpTransport::write(std::span<const OutUnit> units) {
    // One write (one TLS record where it fits) for everything queued together, from a
    // buffer the thread lends (net/buffer_pool.hpp). One coroutine per burst: no frame
    // for the write itself.
    using WriteBuffers = BufferPool<std::string, 64 * 1024>;
    std::string buf = WriteBuffers::take(4096);
    for (const auto& u : units) {
        if (u.kind == OutUnit::Kind::keepalive)
            buf += ' ';  // RFC 6120 §4.6.1 whitespace keepalive
        else
            buf.append(u.bytes());
    }
    std::string_view data = buf;
    bool ok = true;
    while (ok && open_ && !data.empty()) {
        if (!ssl_) {
            boost::system::error_code ec;
            std::size_t n = socket_.write_some(asio::buffer(data.data(), data.size()), ec);
            if (!ec) {
                data.remove_prefix(n);
                continue;
            }
            ok = (ec == asio::error::would_block || ec == asio::error::try_again) &&
                 co_await wait(tcp::socket::wait_write);
            continue;
        }
        ERR_clear_error();
        int n = SSL_write(ssl_, data.data(),
                          static_cast<int>(std::min<std::size_t>(data.size(), 1 << 30)));
        if (n > 0) {
            data.remove_prefix(static_cast<std::size_t>(n));
            continue;
        }
        auto w = tls_wait(n);
        ok = w && co_await wait(*w);
    }
    WriteBuffers::give(std::move(buf));
    co_return ok&& open_;
}

asio::awaitable<bool> TcpTransport::start_tls() {
    if (ssl_ || !open_ || !tls_) co_return false;
    ssl_ = SSL_new(tls_);
    if (!ssl_) co_return false;
    SSL_set_fd(ssl_, static_cast<int>(socket_.native_handle()));
    handshaking_ = true;
    bool ok = false;
    while (open_) {
        ERR_clear_error();
        int rc = SSL_accept(ssl_);
        if (rc == 1) {
            ok = true;
            break;
        }
        auto w = tls_wait(rc);
        if (!w || !co_await wait(*w)) break;
    }
    handshaking_ = false;
    if (ok)
        spdlog::debug("c2s {} TLS established: {} {}", remote_string(), SSL_get_version(ssl_),
                      SSL_get_cipher_name(ssl_));
    co_return ok&& open_;
}

asio::awaitable<bool> TcpTransport::handshake() {
    if (!direct_tls_) co_return open_;
    bool ok = co_await start_tls();
    co_return ok;
}

asio::awaitable<bool> TcpTransport::starttls() {
    bool ok = co_await start_tls();
    co_return ok;
}

std::string TcpTransport::open_stream(std::string_view from, std::string_view id) const {
    std::string h = "<?xml version='1.0'?><stream:stream xmlns='";
    h += stream_ns_;
    h += "' xmlns:stream='http://etherx.jabber.org/streams' id='";
    xml::escape_attr(id, h);
    h += "' from='";
    xml::escape_attr(from, h);
    // XEP-0114 streams have no version: no features follow the header.
    h += stream_ns_ == ns::client ? "' version='1.0' xml:lang='en'>" : "'>";
    return h;
}

StreamEvent TcpTransport::check_header(const xml::Element& header) const {
    StreamEvent ev;
    ev.kind = StreamEvent::Kind::error;
    ev.error = StreamErrorCondition::invalid_namespace;
    if (!header.is("stream", ns::streams)) {
        ev.text = "the stream element must be <stream:stream/> in http://etherx.jabber.org/streams";
        return ev;
    }
    if (header.attr("xmlns") != stream_ns_) {
        ev.text = "the default namespace must be " + std::string(stream_ns_);
        return ev;
    }
    ev.kind = StreamEvent::Kind::open;
    ev.error = StreamErrorCondition::none;
    ev.element = header;
    return ev;
}

void TcpTransport::restart_stream(bool keep_input) {
    std::size_t consumed = parser_.consumed_of_last_chunk();
    parser_.reset();
    parser_suspended_ = false;
    carried_.clear();
    if (keep_input && consumed < chunk_.size()) carried_ = chunk_.substr(consumed);
    // SASL success is the last restart of a client stream (RFC 6120 §6.4.6): from now on
    // input is parsed straight from the thread's read buffer.
    if (keep_input) keep_chunks_ = false;
    chunk_.clear();
    chunk_.shrink_to_fit();
}

asio::awaitable<StreamEvent> TcpTransport::next_event() {
    using Event = xml::XmlStreamParser::Event;
    for (;;) {
        Event ev;
        if (parser_suspended_) {
            ev = parser_.resume();
        } else {
            std::string_view data;
            if (!carried_.empty()) {
                chunk_ = std::move(carried_);
                carried_.clear();
                data = chunk_;
            } else {
                // Read here rather than in a coroutine of its own: an idle connection waits
                // in this frame, and frames are much of what it costs.
                for (;;) {
                    ReadStep r = try_read();
                    if (!r.data.empty()) {
                        data = r.data;
                        break;
                    }
                    if (!r.wait) co_return StreamEvent{};
                    auto [ec] =
                        co_await socket_.async_wait(*r.wait, asio::as_tuple(asio::use_awaitable));
                    if (ec || !open_) co_return StreamEvent{};
                }
                bytes_read_ += data.size();
                if (spdlog::should_log(spdlog::level::trace))
                    spdlog::trace("c2s {} <<< {}", remote_string(), data);
                if (keep_chunks_) {
                    chunk_.assign(data);
                    data = chunk_;
                }
            }
            // The view may point into the per-thread buffer: parse it before anything
            // else runs (the parser keeps what it has not consumed).
            ev = parser_.feed(data);
        }
        parser_suspended_ = ev != Event::need_more && ev != Event::error;
        if (ev == Event::need_more) continue;
        co_return translate(ev);
    }
}

std::optional<StreamEvent> TcpTransport::buffered_event() {
    using Event = xml::XmlStreamParser::Event;
    if (!parser_suspended_) return std::nullopt;
    Event ev = parser_.resume();
    parser_suspended_ = ev != Event::need_more && ev != Event::error;
    if (ev == Event::need_more) return std::nullopt;
    return translate(ev);
}

StreamEvent TcpTransport::translate(xml::XmlStreamParser::Event ev) {
    using Event = xml::XmlStreamParser::Event;
    if (ev == Event::error)
        return StreamEvent{StreamEvent::Kind::error, {}, parser_.error(), parser_.error_text()};
    if (ev == Event::stream_close) {
        parser_suspended_ = false;
        return StreamEvent{StreamEvent::Kind::close, {}, {}, {}};
    }
    if (ev == Event::stream_open) return check_header(parser_.header());
    return StreamEvent{StreamEvent::Kind::element, parser_.take_stanza(), {}, {}};
}

void TcpTransport::release_idle_memory() {
    if (!parser_suspended_ && parser_.can_release()) parser_.release();
}

}  // namespace hongyan::net
