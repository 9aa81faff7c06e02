#include "server/c2s/client_session.hpp"

#include <spdlog/spdlog.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "server/modules/module.hpp"
#include "server/router/router.hpp"
#include "server/router/session_registry.hpp"
#include "server/server_context.hpp"
#include "xmpp/message_kinds.hpp"
#include "xmpp/namespaces.hpp"
#include "xmpp/xml_stream_parser.hpp"

namespace hongyan::c2s {

namespace asio = boost::asio;

namespace {
// How much a bulk source produces per request: enough to keep the connection busy, small
// beside the queue limit.
constexpr std::size_t kBulkBudget = 64 * 1024;
}  // namespace

ClientSession::ClientSession(ServerContext& server, asio::any_io_executor executor, std::string ip,
                             std::string peer)
    : server_(server),
      host_(server.hosts.empty() ? nullptr : server.hosts.front().get()),
      executor_(std::move(executor)),
      ip_(std::move(ip)),
      peer_(std::move(peer)) {}

bool ClientSession::can_queue_now() const {
    auto* io = executor_.target<asio::io_context::executor_type>();
    return io && io->running_in_this_thread() &&
           pending_posts_.load(std::memory_order_relaxed) == 0;
}

template <class F>
void ClientSession::now_or_posted(F f) {
    if (can_queue_now())
        f();
    else
        post(std::move(f));
}

void ClientSession::deliver(std::string stanza) {
    now_or_posted([this, stanza = std::move(stanza)]() mutable { send_stanza(std::move(stanza)); });
}

void ClientSession::deliver(std::shared_ptr<const std::string> stanza) {
    now_or_posted([this, stanza = std::move(stanza)]() mutable { send_stanza(std::move(stanza)); });
}

void ClientSession::deliver(std::vector<std::shared_ptr<const std::string>> stanzas) {
    if (stanzas.empty()) return;
    now_or_posted([this, stanzas = std::move(stanzas)]() mutable {
        for (auto& s : stanzas) send_stanza(std::move(s));
    });
}

void ClientSession::terminate(StreamErrorCondition cond, std::string text) {
    post([this, cond, text = std::move(text)] {
        if (successor_)
            successor_->terminate(cond, text);
        else
            close(cond, text);
    });
}

ClientSession::~ClientSession() {
    if (sm_)
        for (auto& u : sm_->unacked) u.finish(false);
    queue_.clear();
}

void ClientSession::set_bound(Jid full) {
    jid_ = std::move(full);
    bound_ = true;
}

void ClientSession::enqueue(OutUnit unit, WriteDone done) {
    if (done) unit.done = std::make_unique<WriteDone>(std::move(done));
    if (successor_) {
        forward(std::move(unit));
        return;
    }
    if (ended_ || closing_) {
        unit.finish(false);
        return;
    }
    // Only what is already queued counts: one large answer (a big roster, the presence of
    // thousands of contacts at login) may pass; a client that does not read soon hits it.
    // What the client has not acknowledged yet (stream management) counts too.
    if (queue_.bytes() + held_bytes_ + (sm_ ? sm_->unacked_bytes : 0) >
        server_.settings.max_outbound_queue) {
        spdlog::warn("c2s {} outbound queue over {} bytes; disconnecting", peer_,
                     server_.settings.max_outbound_queue);
        // With stream management this one is routed again with the rest (end()).
        if (sm_ && unit.kind == OutUnit::Kind::stanza)
            queue_.push(std::move(unit));
        else
            unit.finish(false);
        closing_ = true;
        if (sink_)
            sink_->abort("outbound queue full");
        else
            end();
        return;
    }
    if (inactive_ && unit.kind == OutUnit::Kind::stanza && hold_back(unit)) return;
    if (unit.kind == OutUnit::Kind::stanza) ++stanzas_queued_;
    queue_.push(std::move(unit));
    if (sink_ && !hold_) sink_->output_ready();
}

void ClientSession::forward(OutUnit unit) {
    // Stream data (an <a/> for the old stream, a stream error) stays with the old stream.
    if (unit.kind != OutUnit::Kind::stanza) return;
    auto next = successor_;
    next->post([next, u = std::move(unit)]() mutable { next->enqueue(std::move(u)); });
}

void ClientSession::send(const xml::Element& stanza) {
    std::string bytes;
    stanza.serialize(bytes, ns::client);
    enqueue(OutUnit::stanza(std::move(bytes)));
}

void ClientSession::send_stanza(std::string bytes) {
    enqueue(OutUnit::stanza(std::move(bytes)));
}

void ClientSession::send_stanza(std::shared_ptr<const std::string> bytes) {
    enqueue(OutUnit::stanza(std::move(bytes)));
}

void ClientSession::send_tracked(std::string bytes, WriteDone done) {
    enqueue(OutUnit::stanza(std::move(bytes)), std::move(done));
}

void ClientSession::send_stream_data(std::string bytes) {
    enqueue(OutUnit::data(std::move(bytes)));
}

void ClientSession::send_keepalive() {
    enqueue(OutUnit::keepalive());
}

void ClientSession::add_source(std::shared_ptr<BulkSource> source) {
    if (successor_) {
        auto next = successor_;
        next->post(
            [next, source = std::move(source)]() mutable { next->add_source(std::move(source)); });
        return;
    }
    if (ended_ || closing_) return;
    queue_.add_source(std::move(source));
    if (sink_ && !hold_) sink_->output_ready();
}

void ClientSession::close(StreamErrorCondition cond, std::string_view text) {
    if (successor_) {
        successor_->terminate(cond, std::string(text));
        return;
    }
    if (closing_ || ended_) return;
    if (sink_) {
        sink_->end_stream(cond, text);  // queues the stream's last output, then seal()
        closing_ = true;
    } else {
        closing_ = true;
        end();
    }
}

void ClientSession::attach(OutputSink* sink) {
    sink_ = sink;
    if (sink_ && !hold_ && !queue_.empty()) sink_->output_ready();
}

void ClientSession::detach() {
    sink_ = nullptr;
}

void ClientSession::take_output(std::vector<OutUnit>& out, std::size_t max_bytes) {
    if (hold_) return;
    std::shared_ptr<BulkSource> source;
    auto next = queue_.take(out, max_bytes, &source);
    in_flight_ = !out.empty();
    if (next != OutputQueue::Next::pull) return;
    std::weak_ptr<ClientSession> weak = weak_from_this();
    const BulkSource* key = source.get();
    source->next(kBulkBudget, [weak, ex = executor_, key](BulkBatch batch) {
        asio::post(ex, [weak, key, batch = std::move(batch)]() mutable {
            auto self = weak.lock();
            if (!self) {
                for (auto& e : batch.entries) e.finish(false);
                return;
            }
            self->filled(key, std::move(batch));
        });
    });
}

void ClientSession::filled(const BulkSource* source, BulkBatch batch) {
    if (successor_) {
        // The source's segment went with the queue to the resumed session.
        auto next = successor_;
        next->post([next, source, batch = std::move(batch)]() mutable {
            next->filled(source, std::move(batch));
        });
        return;
    }
    if (ended_) {
        for (auto& e : batch.entries) e.finish(false);
        return;
    }
    for (const auto& e : batch.entries)
        if (e.kind == OutUnit::Kind::stanza) ++stanzas_queued_;
    queue_.filled(source, std::move(batch));
    if (sink_ && !hold_) sink_->output_ready();
}

void ClientSession::written(std::vector<OutUnit>& units, bool ok) {
    for (auto& e : units) {
        if (e.kind == OutUnit::Kind::stanza) {
            if (ok) ++stanzas_written_;
            if (sm_ && !ended_) {
                // Kept until the client acknowledges it (or, unwritten, for a resume).
                sm_->unacked_bytes += e.bytes().size();
                ++sm_->since_request;
                sm_->unacked.push_back(std::move(e));
                continue;
            }
        }
        e.finish(ok);
    }
    units.clear();
    in_flight_ = false;
    if (flight_waiter_) flight_waiter_->cancel();
}

void ClientSession::leave() {
    if (left_) return;
    left_ = true;
    if (!bound_) return;
    if (const auto* hooks = server_.modules->session_hooks())
        hooks->leave(*host_, jid_, this);
    else
        server_.registry->remove(jid_, this);
}

void ClientSession::end() {
    if (ended_) return;
    leave();
    ended_ = true;
    closing_ = true;
    stop_waiting();
    sink_ = nullptr;
    if (timer_) timer_->cancel();
    if (sm_ && !successor_) {
        if (!sm_->id.empty()) server_.resumptions->remove(sm_->id, this);
        reroute_unacknowledged();
    }
    held_.clear();  // presence: contacts' presence is sent afresh at the next login
    held_bytes_ = 0;
    queue_.clear();
}

// ---- stream management -----------------------------------------------------------------

void ClientSession::enable_sm(std::string id, std::chrono::seconds timeout) {
    sm_ = std::make_unique<StreamManagement>();
    sm_->id = std::move(id);
    sm_->timeout = timeout;
    if (!sm_->id.empty()) server_.resumptions->add(sm_->id, shared_from_this());
}

bool ClientSession::acknowledge(std::uint32_t h) {
    auto& sm = *sm_;
    // 'h' counts modulo 2^32 (XEP-0198 §4).
    const std::uint32_t n = h - sm.acked_out;
    if (n > sm.unacked.size()) return false;
    for (std::uint32_t i = 0; i < n; ++i) {
        auto& u = sm.unacked.front();
        sm.unacked_bytes -= u.bytes().size();
        u.finish(true);
        sm.unacked.pop_front();
    }
    sm.acked_out = h;
    sm.requested = false;
    return true;
}

void ClientSession::after_durable(std::function<void()> f) {
    const auto& barriers = server_.modules->ack_barriers();
    if (barriers.empty()) {
        f();
        return;
    }
    auto left = std::make_shared<std::atomic<std::size_t>>(barriers.size());
    auto fn = std::make_shared<std::function<void()>>(std::move(f));
    std::weak_ptr<ClientSession> weak = weak_from_this();
    for (const auto& barrier : barriers) {
        barrier(*host_, [left, fn, weak] {
            if (left->fetch_sub(1) != 1) return;
            if (auto self = weak.lock()) self->post([fn] { (*fn)(); });
        });
    }
}

void ClientSession::hibernate() {
    sink_ = nullptr;
    if (ended_ || closing_ || successor_ || !sm_ || sm_->id.empty()) {
        end();
        return;
    }
    if (!server_.resumptions->enter_waiting(jid_.bare_str(), server_.settings.sm_max_waiting)) {
        spdlog::info(
            "c2s {}: {} sessions of this account wait for a resume already "
            "(sm.max_waiting_per_user): this one ends",
            jid_.str(), server_.settings.sm_max_waiting);
        end();
        return;
    }
    hibernating_ = true;
    publish_asleep();
    if (!timer_) timer_ = std::make_unique<asio::steady_timer>(executor_);
    timer_->expires_after(sm_->timeout);
    timer_->async_wait([self = shared_from_this()](boost::system::error_code ec) {
        if (ec || !self->hibernating_) return;
        spdlog::info("c2s {} not resumed within {} s: session ends", self->jid_.str(),
                     self->sm_ ? self->sm_->timeout.count() : 0);
        self->end();
    });
}

asio::awaitable<std::optional<ClientSession::Handover>> ClientSession::hand_over(
    std::uint32_t h, std::shared_ptr<ClientSession> next) {
    if (ended_ || closing_ || !sm_ || successor_ || !bound_) co_return std::nullopt;
    stop_waiting();
    if (timer_) timer_->cancel();
    if (sink_) {
        // The client thinks this connection is dead; the server had not noticed yet.
        auto* old = sink_;
        sink_ = nullptr;
        old->release();
    }
    if (in_flight_) {
        // A write of the old connection is under way: it fails now that the connection is
        // closed, and what it carried joins the unacknowledged (written()).
        asio::steady_timer t(executor_, server_.settings.close_timeout);
        flight_waiter_ = &t;
        co_await t.async_wait(asio::as_tuple(asio::use_awaitable));
        flight_waiter_ = nullptr;
    }
    if (ended_ || in_flight_ || !acknowledge(h) || !server_.registry->replace(jid_, this, next)) {
        end();
        co_return std::nullopt;
    }
    left_ = true;  // the registry entry is the successor's now
    successor_ = std::move(next);
    Handover out{jid_, std::move(sm_), OutputQueue{}, inactive_, std::move(held_)};
    held_.clear();
    held_bytes_ = 0;
    out.queue.append(std::move(queue_));
    co_return out;
}

void ClientSession::adopt(Handover h, std::string resumed) {
    OutputQueue arrived;  // routed here since the registry entry became ours
    arrived.append(std::move(queue_));
    jid_ = std::move(h.jid);
    bound_ = true;
    sm_ = std::move(h.sm);
    queue_.push(OutUnit::data(std::move(resumed)));
    // §5: the server resends what the client has not handled, in order.
    for (auto& u : sm_->unacked) {
        ++stanzas_queued_;
        queue_.push(std::move(u));
    }
    sm_->unacked.clear();
    sm_->unacked_bytes = 0;
    sm_->since_request = 0;
    sm_->requested = false;
    queue_.append(std::move(h.queue));
    queue_.append(std::move(arrived));
    inactive_ = h.inactive;
    for (auto& [from, unit] : h.held) {
        held_bytes_ += unit.bytes().size();
        held_.emplace_back(std::move(from), std::move(unit));
    }
    publish_asleep();  // the entry came over asleep (waiting for this resume)
    hold_output(false);
}

void ClientSession::stop_waiting() {
    if (!hibernating_) return;
    hibernating_ = false;
    server_.resumptions->leave_waiting(jid_.bare_str());
    publish_asleep();
}

void ClientSession::publish_asleep() {
    if (!bound_ || left_) return;
    const bool asleep = inactive_ || hibernating_;
    server_.registry->update(jid_, this, [asleep](ResourceState& s) { s.asleep = asleep; });
}

// ---- client state indication -----------------------------------------------------------

void ClientSession::set_inactive(bool inactive) {
    if (inactive_ != inactive) {
        inactive_ = inactive;
        publish_asleep();
    }
    if (!inactive_) release_held();
}

bool ClientSession::hold_back(OutUnit& unit) {
    const std::string_view bytes = unit.bytes();
    const bool presence = bytes.starts_with("<presence");
    if (!presence && !bytes.starts_with("<message")) {
        release_held();
        return false;
    }
    auto el = xml::parse_stanza(bytes, ns::client);
    if (!el) return false;
    if (presence) {
        const std::string_view type = el->attr("type");
        if (!type.empty() && type != "unavailable") {  // subscriptions matter now
            release_held();
            return false;
        }
        // The latest presence of each sender replaces what was held for it.
        const std::string from(el->attr("from"));
        for (auto it = held_.begin(); it != held_.end(); ++it) {
            if (it->first != from) continue;
            held_bytes_ -= it->second.bytes().size();
            it->second.finish(false);
            held_.erase(it);
            break;
        }
        held_bytes_ += bytes.size();
        held_.emplace_back(from, std::move(unit));
        return true;
    }
    if (message_kinds::only_chat_state(*el)) {
        unit.finish(false);
        return true;  // dropped: it says nothing once the user looks again
    }
    release_held();
    return false;
}

void ClientSession::release_held() {
    if (held_.empty()) return;
    auto held = std::move(held_);
    held_.clear();
    held_bytes_ = 0;
    for (auto& [from, unit] : held) {
        ++stanzas_queued_;
        queue_.push(std::move(unit));
    }
    if (sink_ && !hold_) sink_->output_ready();
}

void ClientSession::hold_output(bool hold) {
    hold_ = hold;
    if (!hold_ && sink_ && !queue_.empty()) sink_->output_ready();
}

void ClientSession::reroute_unacknowledged() {
    std::vector<xml::Element> stanzas;
    auto take = [&stanzas](OutUnit& u) {
        if (u.kind != OutUnit::Kind::stanza) return;
        if (u.done) {
            u.finish(false);  // it came from storage (offline) and stays there
            return;
        }
        if (auto el = xml::parse_stanza(u.bytes(), ns::client)) stanzas.push_back(std::move(*el));
    };
    for (auto& u : sm_->unacked) take(u);
    sm_->unacked.clear();
    sm_->unacked_bytes = 0;
    auto queued = queue_.take_units();
    for (auto& u : queued) take(u);
    if (stanzas.empty()) return;
    spdlog::info("c2s {}: {} stanzas not acknowledged by the client are routed again", jid_.str(),
                 stanzas.size());
    auto& counter = server_.resumptions->rerouting;
    ++counter;
    asio::co_spawn(executor_, server_.router->undeliverable(std::move(stanzas)),
                   [&counter](std::exception_ptr e) {
                       --counter;
                       if (!e) return;
                       try {
                           std::rethrow_exception(e);
                       } catch (const std::exception& x) {
                           spdlog::error("routing unacknowledged stanzas: {}", x.what());
                       }
                   });
}

}  // namespace hongyan::c2s
