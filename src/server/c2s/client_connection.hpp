// One client connection, on any transport, carrying one XML stream at a time: stream
// negotiation (RFC 6120 §4-§7: STARTTLS where the transport offers it, SASL through
// SaslServer, resource binding), then the session's stanzas in (to the router) and out
// (from the session's queue). It also owns the connection's timers: the pre-auth and idle
// timeouts, keepalives, parser release, read throttling and the close deadline.
//
// The connection lives on the I/O thread that accepted it; its session (ClientSession) is
// created with it and, once bound, is what the rest of the server sees.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "server/c2s/client_session.hpp"
#include "server/net/token_bucket.hpp"
#include "server/net/transport.hpp"

namespace hongyan::sasl {
class SaslServer;
}

namespace hongyan::c2s {

class ClientConnection final : public OutputSink,
                               public std::enable_shared_from_this<ClientConnection> {
  public:
    using Clock = std::chrono::steady_clock;

    ClientConnection(ServerContext& server, std::unique_ptr<net::Transport> transport);
    ~ClientConnection() override;

    void start();
    // Called about once a second by the owning thread: timeouts and keepalives.
    void tick(Clock::time_point now);

    // OutputSink
    void output_ready() override;
    void end_stream(StreamErrorCondition cond, std::string_view text) override;
    void abort(std::string_view reason) override;
    void release() override;

    const SessionPtr& session() const { return session_; }

  private:
    enum class After { nothing, restart };

    boost::asio::awaitable<void> run();
    // Counts the connection against the per-IP limit (or refuses it).
    bool admit();
    void on_open(const xml::Element& header);
    void open_our_stream();
    boost::asio::awaitable<After> on_element(xml::Element el);
    boost::asio::awaitable<After> handle_starttls();
    boost::asio::awaitable<After> handle_sasl(const xml::Element& el);
    boost::asio::awaitable<void> handle_pre_auth_iq(xml::Element iq);
    // Stream management (XEP-0198): <enable/>, <r/>, <a/>, <resume/>.
    boost::asio::awaitable<void> handle_sm(const xml::Element& el);
    boost::asio::awaitable<void> handle_resume(const xml::Element& el);
    // Waits for the modules' ack barriers (ClientSession::after_durable()).
    boost::asio::awaitable<void> durable();
    // Asks the client for an acknowledgement when stanzas wait for one (`now`: any
    // number; otherwise sm.request_after of them).
    void request_ack(bool now);
    // The connection is gone without the stream being closed (or went silent): a
    // resumable session then waits for its client instead of ending.
    bool resumable_end() const;
    boost::asio::awaitable<void> write_loop(std::shared_ptr<ClientConnection> self);
    // Waits until everything queued was written, the connection failed or `limit` passed.
    boost::asio::awaitable<void> drain(Clock::duration limit);
    // Read throttling: how long to pause after what was read since the last check.
    Clock::duration read_pause();
    boost::asio::awaitable<void> pause_reading(Clock::duration pause);
    // Ends the stream with `cond` and records why, for the log.
    void fail(StreamErrorCondition cond, std::string text, std::string reason);

    ServerContext& server_;
    std::unique_ptr<net::Transport> transport_;
    std::string ip_;
    SessionPtr session_;
    std::unique_ptr<sasl::SaslServer> sasl_;
    net::TokenBucket read_bucket_;
    std::uint64_t throttled_bytes_ = 0;
    std::uint64_t bytes_seen_ = 0;                // bytes_read() at the last tick
    std::uint64_t writes_ = 0, writes_seen_ = 0;  // write bursts, and at the last tick

    bool counted_ = false;  // holds a slot in the per-IP connection limit
    bool header_sent_ = false;
    bool closing_ = false;
    bool writing_ = false;
    bool stream_ended_ = false;  // closed by the client or by us (not a dropped connection)
    bool released_ = false;      // the session went on with a resumed stream
    bool resume_tried_ = false;
    std::string close_reason_;
    boost::asio::steady_timer* drain_waiter_ = nullptr;

    Clock::time_point created_, last_read_, last_write_, closing_at_;
};

}  // namespace hongyan::c2s
