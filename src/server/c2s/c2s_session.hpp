// One client connection and its XMPP session: stream negotiation (RFC 6120 §4-§7:
// STARTTLS, SASL, resource binding), then stanzas in and out.
//
// A session lives on the I/O thread that accepted it for its whole life; its state is
// touched only there. Other threads reach it through Router::deliver(), which posts to
// the session's executor.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "server/net/transport.hpp"
#include "xmpp/jid.hpp"
#include "xmpp/scram.hpp"
#include "xmpp/stanza_error.hpp"
#include "xmpp/xml_stream_parser.hpp"

namespace hongyan {
struct ServerContext;
}

namespace hongyan::c2s {

class C2SSession : public std::enable_shared_from_this<C2SSession> {
  public:
    using Clock = std::chrono::steady_clock;

    C2SSession(ServerContext& server, boost::asio::ip::tcp::socket socket, bool direct_tls,
               std::string ip);
    ~C2SSession();

    void start();

    // All of the following run on the session's own executor.
    void send(const xml::Element& stanza);
    void send_raw(std::string_view bytes);
    // As send_raw; `done(true)` runs once the bytes are written to the socket, `done(false)`
    // if the session ends first (offline messages are deleted only when written).
    void send_raw_tracked(std::string_view bytes, std::function<void(bool)> done);
    // Ends the stream, with a stream error when `cond` is not none (RFC 6120 §4.9).
    void close(StreamErrorCondition cond = StreamErrorCondition::none, std::string_view text = {});
    // Called about once a second by the owning thread: timeouts and keepalives.
    void tick(Clock::time_point now);

    boost::asio::any_io_executor executor() { return transport_.executor(); }
    bool bound() const { return bound_; }
    bool authenticated() const { return authenticated_; }
    bool secure() const { return transport_.secure(); }
    bool closing() const { return closing_; }
    const Jid& jid() const { return jid_; }
    const std::string& ip() const { return ip_; }
    const std::string& username() const { return username_; }

    // Presence state of this resource (RFC 6121 §4), kept by the IM core.
    bool available() const { return available_; }
    void set_available(bool a) { available_ = a; }
    // Remembers (or, for unavailable, forgets) a directed-presence recipient (§4.6).
    void note_directed(const std::string& to, bool unavailable);
    std::vector<std::string> take_directed() { return std::move(directed_); }
    void set_last_status(std::string s) { last_status_ = std::move(s); }

  private:
    enum class After { nothing, restart };

    boost::asio::awaitable<void> run();
    boost::asio::awaitable<void> process(std::string_view data);
    boost::asio::awaitable<After> on_stanza(xml::Element stanza);
    void on_stream_open(const xml::Element& header);
    void send_stream_header();
    void send_features();
    boost::asio::awaitable<After> handle_starttls();
    boost::asio::awaitable<After> handle_sasl(const xml::Element& el);
    boost::asio::awaitable<After> sasl_step(std::string_view mechanism, std::string_view data);
    void sasl_failure(sasl::Failure f, std::string_view text = {});
    // Answers a stanza the router never saw (negotiation, binding) with a stanza error.
    void reply_error(const xml::Element& request, StanzaErrorCondition c, std::string text);
    boost::asio::awaitable<void> handle_bind(const xml::Element& iq);
    boost::asio::awaitable<void> handle_pre_auth_iq(xml::Element iq);
    void flush();
    // Leaves the session registry and tells the IM core (once).
    void unbind();
    void finish_written(std::vector<std::function<void(bool)>>& done, bool ok);
    boost::asio::awaitable<void> write_loop(std::shared_ptr<C2SSession> self);
    boost::asio::awaitable<void> drain();
    boost::asio::awaitable<void> throttle_reads(std::size_t n);
    void log_auth_failure(std::string_view why);

    ServerContext& server_;
    net::Transport transport_;
    xml::XmlStreamParser parser_;
    std::string ip_;
    bool counted_ = false;  // holds a slot in the per-IP connection limit
    bool direct_tls_;

    bool header_sent_ = false;
    bool authenticated_ = false;
    bool bound_ = false;
    bool closing_ = false;
    bool writing_ = false;
    std::string stream_id_;
    std::string username_;
    Jid jid_;
    std::string close_reason_;

    // SASL exchange in progress (RFC 6120 §6.4).
    std::unique_ptr<sasl::ScramServer> scram_;
    std::string mechanism_;
    int auth_failures_ = 0;

    std::string out_;   // bytes waiting to be written (coalesced)
    std::string wbuf_;  // bytes being written
    std::vector<std::function<void(bool)>> out_done_, wbuf_done_;

    bool available_ = false;
    bool unbound_ = false;
    std::vector<std::string> directed_;
    std::string last_status_;
    boost::asio::steady_timer* drain_waiter_ = nullptr;

    Clock::time_point created_, last_read_, last_write_;
    double read_tokens_ = 0;
    Clock::time_point tokens_at_;
};

}  // namespace hongyan::c2s
