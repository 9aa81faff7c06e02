// One client's XMPP session: who it is (after SASL and binding), its place in the session
// registry, and its output queue. It is not its connection: a ClientConnection carries it
// while attached (an OutputSink), and the session can be detached from one connection and
// attached to another later (XEP-0198 resumption, BOSH requests), with its queue intact.
//
// A session lives on one I/O thread (its executor) and is touched only there; other
// threads reach it through its SessionRoute side (deliver(), terminate()), which posts to
// that executor.
#pragma once

#include <atomic>
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "server/c2s/output_queue.hpp"
#include "server/c2s/stream_management.hpp"
#include "server/router/session_route.hpp"
#include "xmpp/jid.hpp"
#include "xmpp/stanza_error.hpp"
#include "xmpp/xml.hpp"

namespace hongyan {
struct ServerContext;
struct Host;
}  // namespace hongyan

namespace hongyan::c2s {

// The connection a session's output currently goes to.
class OutputSink {
  public:
    virtual ~OutputSink() = default;
    // Units were queued: write them when the connection can.
    virtual void output_ready() = 0;
    // Ends the stream (with a stream error unless `cond` is none) and the connection.
    virtual void end_stream(StreamErrorCondition cond, std::string_view text) = 0;
    // Drops the connection at once, without a stream error (the client does not read).
    virtual void abort(std::string_view reason) = 0;
    // The session goes on with another stream (XEP-0198 resumption): closes the connection
    // now, leaving the session alone.
    virtual void release() = 0;
};

class ClientSession final : public SessionRoute,
                            public std::enable_shared_from_this<ClientSession> {
  public:
    // `peer` names the client in logs (address and port).
    ClientSession(ServerContext& server, boost::asio::any_io_executor executor, std::string ip,
                  std::string peer);
    ~ClientSession() override;
    ClientSession(const ClientSession&) = delete;
    ClientSession& operator=(const ClientSession&) = delete;

    boost::asio::any_io_executor executor() const { return executor_; }

    // Work for the session from anywhere goes through post(), which counts what is still
    // waiting: output may be queued directly (without a post) only on the session's own
    // thread when nothing posted to it is waiting, or it could overtake what was posted
    // earlier (the stored offline messages queued from an IM worker, say).
    template <class F>
    void post(F f) {
        add_pending_post();
        boost::asio::post(executor_, [self = shared_from_this(), f = std::move(f)]() mutable {
            self->pending_post_ran();
            f();
        });
    }
    bool can_queue_now() const;

    // SessionRoute: from any thread. Queued directly when that keeps the order (on the
    // session's own thread, nothing posted to it waiting: can_queue_now()), else posted.
    void deliver(std::string stanza) override;
    void deliver(std::shared_ptr<const std::string> stanza) override;
    void deliver(std::vector<std::shared_ptr<const std::string>> stanzas) override;
    void terminate(StreamErrorCondition cond, std::string text) override;
    ClientSession* local() override { return this; }
    // For posters that carry work for many sessions in one handler (DeliveryBatch): one
    // add before posting, one ran() in the handler, per session.
    void add_pending_post() { pending_posts_.fetch_add(1, std::memory_order_relaxed); }
    void pending_post_ran() { pending_posts_.fetch_sub(1, std::memory_order_relaxed); }
    const std::string& ip() const { return ip_; }
    const std::string& peer() const { return peer_; }
    // The host the stream named (its 'to'; the first host until then). Fixed once
    // authenticated.
    Host& host() const { return *host_; }
    ServerContext& server() const { return server_; }
    void set_host(Host& h) { host_ = &h; }
    // After SASL success: the account's username (nodeprepped).
    bool authenticated() const { return !username_.empty(); }
    const std::string& username() const { return username_; }
    void set_authenticated(std::string username) { username_ = std::move(username); }
    // After resource binding: the full JID, in the session registry.
    bool bound() const { return bound_; }
    const Jid& jid() const { return jid_; }
    void set_bound(Jid full);

    // Output; all on the session's executor. A stanza unit holds exactly one stanza (so
    // WebSocket can frame it and stream management count it).
    void send(const xml::Element& stanza);
    void send_stanza(std::string bytes);
    void send_stanza(std::shared_ptr<const std::string> bytes);
    // As send_stanza; `done` runs once it was written (offline messages are deleted then).
    void send_tracked(std::string bytes, WriteDone done);
    // Stream data that is not a stanza (features, SASL, stream open and close).
    void send_stream_data(std::string bytes);
    void send_keepalive();
    void add_source(std::shared_ptr<BulkSource> source);
    // The stream is ending: bulk output not written yet stays where it came from.
    void drop_bulk_output() { queue_.drop_sources(); }
    // Ends the stream (with a stream error unless `cond` is none) and the session.
    void close(StreamErrorCondition cond = StreamErrorCondition::none, std::string_view text = {});
    bool closing() const { return closing_; }
    // The stream's last output is queued: nothing more is accepted.
    void seal() { closing_ = true; }

    // The connection side.
    void attach(OutputSink* sink);
    void detach();
    bool attached() const { return sink_ != nullptr; }
    // Moves up to about `max_bytes` of what can be written now into `out` (asking a bulk
    // source for more when it is next in line).
    void take_output(std::vector<OutUnit>& out, std::size_t max_bytes);
    // The units taken were written (`ok`) or the connection failed.
    void written(std::vector<OutUnit>& units, bool ok);
    bool output_empty() const { return queue_.empty(); }
    std::size_t output_bytes() const { return queue_.bytes(); }
    // Stanzas queued and written so far (what stream management will count).
    std::uint64_t stanzas_queued() const { return stanzas_queued_; }
    std::uint64_t stanzas_written() const { return stanzas_written_; }

    // Leaves the session registry (the IM core hears of it: contacts get unavailable);
    // output still queued can be written.
    void leave();
    // Ends the session: leave() and queued output is dropped. Called once its connection
    // is gone for good. With stream management, what the client did not acknowledge and
    // what was still queued is routed as if sent to a resource that went away (offline
    // storage, or an error to its sender; XEP-0198 §5, RFC 6121 §8.5.3.2).
    void end();
    bool ended() const { return ended_; }

    // ---- stream management (XEP-0198) ----
    // Null until the client enabled it.
    StreamManagement* sm() const { return sm_.get(); }
    // Enables it; with a non-empty `id` the session can be resumed for `timeout`.
    void enable_sm(std::string id, std::chrono::seconds timeout);
    // The client handled `h` of our stanzas: false when that is more than were sent.
    bool acknowledge(std::uint32_t h);
    // Runs `f` on this session's thread once everything the server took from any client
    // so far is durable (archived, stored): the modules' ack barriers (an <a/> or
    // <resumed/> never acknowledges a message before that).
    void after_durable(std::function<void()> f);
    // Its connection is gone but the stream was not closed: the session stays bound and
    // keeps what arrives, waiting sm()->timeout for a resume, then end()s.
    void hibernate();
    bool hibernating() const { return hibernating_; }
    // What a resuming stream takes over.
    struct Handover {
        Jid jid;
        std::unique_ptr<StreamManagement> sm;
        OutputQueue queue;
        bool inactive = false;
        std::vector<std::pair<std::string, OutUnit>> held;
    };
    // On this session's thread: stops it for a stream that resumes it (its connection, if
    // still there, is closed), takes the client's `h`, and hands everything over; routes
    // and work that still reach this session go on to `next`. Nothing when the session
    // ended meanwhile or `h` is wrong.
    boost::asio::awaitable<std::optional<Handover>> hand_over(std::uint32_t h,
                                                              std::shared_ptr<ClientSession> next);
    // On the resuming session's thread: takes over. `resumed` (the <resumed/> element)
    // goes out first, then what the client did not acknowledge, then what was queued,
    // then what arrived here meanwhile.
    void adopt(Handover h, std::string resumed);
    // While set, nothing is written (a resume is being arranged).
    void hold_output(bool hold);
    bool handed_over() const { return successor_ != nullptr; }

    // ---- client state indication (XEP-0352) ----
    // While inactive, presence is held (the latest per sender) and chat states are
    // dropped; anything else goes out at once, after the presence held before it.
    void set_inactive(bool inactive);
    bool inactive() const { return inactive_; }

  private:
    void enqueue(OutUnit unit, WriteDone done = {});
    // A bulk source's answer for this session's queue.
    void filled(const BulkSource* source, BulkBatch batch);
    // Gives a unit that reached this session after hand_over() to its successor.
    void forward(OutUnit unit);
    void reroute_unacknowledged();
    void stop_waiting();  // no longer hibernating
    // Tells the registry whether this resource is asleep (inactive or hibernating).
    void publish_asleep();
    // While inactive: true when `unit` was held back or dropped; otherwise what was held
    // is queued first.
    bool hold_back(OutUnit& unit);
    void release_held();
    // Runs `f` at once when can_queue_now(), else posts it.
    template <class F>
    void now_or_posted(F f);

    ServerContext& server_;
    Host* host_ = nullptr;
    boost::asio::any_io_executor executor_;
    std::string ip_;
    std::string peer_;
    std::string username_;
    Jid jid_;
    bool bound_ = false;
    bool closing_ = false;
    bool ended_ = false;
    bool left_ = false;
    OutputSink* sink_ = nullptr;
    OutputQueue queue_;
    // Ordered before reading by the registry's mutex: a poster counts, then publishes what
    // makes others deliver here (the resource becoming available).
    std::atomic<std::uint32_t> pending_posts_{0};
    std::uint64_t stanzas_queued_ = 0;
    std::uint64_t stanzas_written_ = 0;
    bool hold_ = false;
    bool hibernating_ = false;
    bool in_flight_ = false;  // units taken by the connection are being written
    boost::asio::steady_timer* flight_waiter_ = nullptr;
    std::unique_ptr<StreamManagement> sm_;
    std::unique_ptr<boost::asio::steady_timer> timer_;  // resumption timeout
    std::shared_ptr<ClientSession> successor_;
    bool inactive_ = false;
    std::vector<std::pair<std::string, OutUnit>> held_;  // presence, by sender
    std::size_t held_bytes_ = 0;
};

using SessionPtr = std::shared_ptr<ClientSession>;

}  // namespace hongyan::c2s
