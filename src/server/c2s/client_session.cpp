#include "server/c2s/client_session.hpp"

#include <spdlog/spdlog.h>

#include <boost/asio/post.hpp>

#include "server/modules/module.hpp"
#include "server/router/session_registry.hpp"
#include "server/server_context.hpp"
#include "xmpp/namespaces.hpp"

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
    post([this, cond, text = std::move(text)] { close(cond, text); });
}

ClientSession::~ClientSession() {
    queue_.clear();
}

void ClientSession::set_bound(Jid full) {
    jid_ = std::move(full);
    bound_ = true;
}

void ClientSession::enqueue(OutUnit unit, WriteDone done) {
    if (ended_ || closing_) {
        if (done) done(false);
        return;
    }
    // Only what is already queued counts: one large answer (a big roster, the presence of
    // thousands of contacts at login) may pass; a client that does not read soon hits it.
    if (queue_.bytes() > server_.settings.max_outbound_queue) {
        spdlog::warn("c2s {} outbound queue over {} bytes; disconnecting", peer_,
                     server_.settings.max_outbound_queue);
        if (done) done(false);
        closing_ = true;
        if (sink_)
            sink_->abort("outbound queue full");
        else
            end();
        return;
    }
    if (unit.kind == OutUnit::Kind::stanza) ++stanzas_queued_;
    queue_.push(std::move(unit), std::move(done));
    if (sink_) sink_->output_ready();
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
    if (ended_ || closing_) return;
    queue_.add_source(std::move(source));
    if (sink_) sink_->output_ready();
}

void ClientSession::close(StreamErrorCondition cond, std::string_view text) {
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
    if (sink_ && !queue_.empty()) sink_->output_ready();
}

void ClientSession::detach() {
    sink_ = nullptr;
}

void ClientSession::take_output(std::vector<OutUnit>& out, std::size_t max_bytes) {
    std::shared_ptr<BulkSource> source;
    if (queue_.take(out, max_bytes, &source) != OutputQueue::Next::pull) return;
    std::weak_ptr<ClientSession> weak = weak_from_this();
    const BulkSource* key = source.get();
    source->next(kBulkBudget, [weak, ex = executor_, key](BulkBatch batch) {
        asio::post(ex, [weak, key, batch = std::move(batch)]() mutable {
            auto self = weak.lock();
            if (!self || self->ended_) {
                for (auto& e : batch.entries) e.finish(false);
                return;
            }
            for (const auto& e : batch.entries)
                if (e.kind == OutUnit::Kind::stanza) ++self->stanzas_queued_;
            self->queue_.filled(key, std::move(batch));
            if (self->sink_) self->sink_->output_ready();
        });
    });
}

void ClientSession::written(std::vector<OutUnit>& units, bool ok) {
    for (auto& e : units) {
        if (ok && e.kind == OutUnit::Kind::stanza) ++stanzas_written_;
        e.finish(ok);
    }
    units.clear();
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
    sink_ = nullptr;
    queue_.clear();
}

}  // namespace hongyan::c2s
