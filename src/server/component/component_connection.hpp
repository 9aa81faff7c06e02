// An external component's connection (XEP-0114, jabber:component:accept): the component
// opens a stream to its domain, proves it knows the domain's shared secret with
// <handshake/>, and then exchanges stanzas with the server. While connected it is the
// router's route for its domain and every subdomain of it: stanzas for them come here,
// and the stanzas it sends, whose 'from' must be in its domain, are routed like any other.
//
// The connection lives on the I/O thread that accepted it; deliver() posts to it from
// anywhere. Output is a queue of stanzas, bounded by limits.max_outbound_queue; what is
// still queued when the component goes away is answered with <service-unavailable/>.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <chrono>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "server/net/transport.hpp"
#include "server/router/route.hpp"
#include "xmpp/stanza_error.hpp"

namespace hongyan {
struct ServerContext;
}

namespace hongyan::component {

class ComponentConnection final : public Route,
                                  public std::enable_shared_from_this<ComponentConnection> {
  public:
    using Clock = std::chrono::steady_clock;

    ComponentConnection(ServerContext& server, std::unique_ptr<net::Transport> transport);
    ~ComponentConnection() override;

    void start();
    // About once a second from the owning thread: the handshake and close deadlines.
    void tick(Clock::time_point now);
    // Ends the stream with `cond` (none: a plain close). On the owning thread.
    void end_stream(StreamErrorCondition cond, std::string_view text);

    // Route
    std::string_view kind() const override { return "component"; }
    void deliver(xml::Element stanza) override;

  private:
    // A stanza waiting to be written, with what it takes to answer it if it never is.
    struct Pending {
        std::string bytes;
        std::string name, from, to, id, type;
    };

    boost::asio::awaitable<void> run();
    void on_open(const xml::Element& header);
    void on_handshake(const xml::Element& el);
    boost::asio::awaitable<void> on_stanza(xml::Element el);
    void queue(std::string bytes);
    void queue_stanza(const xml::Element& stanza);
    void write_soon();
    boost::asio::awaitable<void> write_loop(std::shared_ptr<ComponentConnection> self);
    void fail(StreamErrorCondition cond, std::string text, std::string reason);
    // Stanzas that were never written are answered with an error.
    void bounce_pending();

    ServerContext& server_;
    std::unique_ptr<net::Transport> transport_;
    std::string domain_;     // from the stream header
    std::string stream_id_;  // our header's id, which the handshake hashes
    bool header_sent_ = false;
    bool authenticated_ = false;
    bool routed_ = false;  // the router's route for domain_
    bool closing_ = false;
    bool writing_ = false;
    std::string close_reason_;
    std::vector<Pending> out_;
    std::size_t out_bytes_ = 0;
    Clock::time_point created_, closing_at_;
};

}  // namespace hongyan::component
