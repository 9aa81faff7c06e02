// XEP-0160 offline messages with XEP-0203 delay stamps: a deliver hook takes the messages
// no session takes and stores them (in the recipient's job, in order with their initial
// presence: docs/architecture.md, "Ordering"); at initial presence with a non-negative
// priority the stored messages go out first, a page at a time as the client reads, and
// each is deleted once written. Disabled, such messages bounce with
// <service-unavailable/>, and what was stored before stays stored.
#include <spdlog/spdlog.h>

#include "server/c2s/output_queue.hpp"
#include "server/im/im.hpp"
#include "server/modules/module.hpp"
#include "server/server_context.hpp"
#include "server/storage/storage.hpp"
#include "xmpp/datetime.hpp"
#include "xmpp/message_kinds.hpp"
#include "xmpp/namespaces.hpp"

namespace hongyan::modules {

namespace {

// A stored message was written to a session (or could not be): deleted, or left for the
// next delivery. In the user's job.
void written(Host& host, const im::UserPtr& st, std::int64_t id, bool ok) {
    if (!ok) {
        st->offline_in_flight.erase(id);  // stays stored: delivered at the next login
        return;
    }
    // XEP-0160: removed only once written to the client's connection. Until the delete
    // succeeds (a locked database is retried) the id stays in flight, so the message is
    // neither lost nor delivered twice; the state that records it stays loaded till then,
    // or a login meanwhile would load a fresh one and read the message again.
    // (The cached state: the one `st` was may have gone with the session that took it.)
    auto held = host.im->state(st->user);
    held->offline_in_flight.insert(id);
    ++held->pins;  // given back by Im::release()
    host.storage->post_retrying("deleting a delivered offline message", [&host, held, id] {
        host.storage->offline().remove(held->user, {id});
        host.im->sequencer().post({held->user}, [held, id] { held->offline_in_flight.erase(id); });
        host.im->release(held->user);
    });
}

// The stored messages for a session that became available, read a page at a time as the
// session writes them: a backlog far larger than the outbound queue limit goes out at the
// pace of the client, in order, before anything delivered live after it.
class OfflineSource final : public c2s::BulkSource,
                            public std::enable_shared_from_this<OfflineSource> {
  public:
    OfflineSource(Host& host, im::UserPtr st) : host_(host), st_(std::move(st)) {}
    ~OfflineSource() override {
        host_.im->sequencer().post({st_->user}, [st = st_] { st->offline_delivering = false; });
    }

    void next(std::size_t budget, std::function<void(c2s::BulkBatch)> deliver) override {
        host_.im->sequencer().post(
            {st_->user},
            [self = shared_from_this(), budget, deliver] { deliver(self->page(budget)); },
            "reading offline messages");
    }

  private:
    static constexpr std::size_t kPage = 64;

    // In the user's job.
    c2s::BulkBatch page(std::size_t budget) {
        c2s::BulkBatch batch;
        std::vector<storage::OfflineMessage> msgs;
        try {
            msgs = host_.storage->offline().load_after(st_->user, after_, kPage);
        } catch (const std::exception& e) {
            // They stay stored, for the next login.
            spdlog::error("offline messages of {}: {}", st_->user, e.what());
            batch.last = true;
            return batch;
        }
        std::size_t bytes = 0;
        bool cut = false;
        for (auto& m : msgs) {
            if (bytes >= budget) {
                cut = true;
                break;
            }
            after_ = m.id;
            // Already queued for another session and not yet deleted.
            if (!st_->offline_in_flight.insert(m.id).second) continue;
            bytes += m.stanza.size();
            auto unit = c2s::OutUnit::stanza(std::move(m.stanza));
            unit.done =
                std::make_unique<c2s::WriteDone>([&host = host_, st = st_, id = m.id](bool ok) {
                    host.im->sequencer().post({st->user},
                                              [&host, st, id, ok] { written(host, st, id, ok); });
                });
            batch.entries.push_back(std::move(unit));
        }
        batch.last = !cut && msgs.size() < kPage;
        return batch;
    }

    Host& host_;
    im::UserPtr st_;
    std::int64_t after_ = 0;  // in the user's job
};

class OfflineModule final : public Module {
  public:
    std::string_view name() const override { return "offline"; }
    std::vector<ProtocolSupport> protocols() const override {
        return {{"XEP-0160", "Best Practices for Handling Offline Messages", "1.0.1", "complete",
                 "normal and chat messages (not chat states alone); offline.max_messages and "
                 "offline.max_bytes per user, then service-unavailable"},
                {"XEP-0203", "Delayed Delivery", "2.0", "complete", "stamped on offline messages"}};
    }
    std::vector<config::KeySpec> config_keys() const override {
        using config::ValueType;
        return {
            {"offline.max_messages", ValueType::integer, std::int64_t{1000},
             "Messages kept for a user who is offline (XEP-0160); past it senders get "
             "<service-unavailable/>. 0 keeps none.",
             0, 10000000},
            {"offline.max_bytes", ValueType::integer, std::int64_t{16777216},
             "Bytes of messages kept for a user who is offline, all stored stanzas together "
             "(XEP-0160); a message that would go past it gets <service-unavailable/>, like one "
             "past offline.max_messages.",
             1024, 4294967296},
        };
    }
    void start(ModuleContext& ctx) override {
        ctx.add_feature(ns::msgoffline);
        for (auto& h : ctx.server().hosts) {
            Host& host = *h;
            host.im->on_available([&host](const im::UserPtr& st) { return stored(host, st); });
        }
        ctx.on_deliver("message/bare", 0, store);
    }

  private:
    // At initial presence (the user's job): a source of the stored messages, if any.
    static std::shared_ptr<c2s::BulkSource> stored(Host& host, const im::UserPtr& st) {
        if (st->offline_delivering) return nullptr;  // another resource is taking them
        try {
            if (host.storage->offline().count(st->user) == 0) return nullptr;
        } catch (const std::exception& e) {
            spdlog::error("offline messages of {}: {}", st->user, e.what());
            return nullptr;
        }
        st->offline_delivering = true;
        return std::make_shared<OfflineSource>(host, st);
    }

    // A normal or chat message for a local user none of whose resources takes it now.
    static boost::asio::awaitable<HookResult> store(const StanzaEvent& ev) {
        enum class Outcome { delivered, stored, no_user, full, off, dropped };
        Host& host = *ev.host;
        const std::string user = ev.to.local();
        const auto max = static_cast<std::size_t>(host.config.integer("offline.max_messages"));
        const auto max_bytes = static_cast<std::size_t>(host.config.integer("offline.max_bytes"));
        auto outcome = co_await host.im->sequencer().run(
            {user}, [&host, &server = ev.server, user, from = ev.from, bare = ev.to.bare_str(), max,
                     max_bytes, m = ev.stanza]() mutable {
                auto& store = *host.storage;
                // Checked again here, in the user's order with initial presence: either the
                // user became available before this point and takes the message now, or
                // the message is stored before their offline messages are read.
                auto targets = server.registry->message_targets(bare);
                if (!targets.empty()) {
                    auto bytes = std::make_shared<const std::string>(m.to_string(ns::client));
                    for (auto& s : targets) s->deliver(bytes);
                    return Outcome::delivered;
                }
                if (!store.accounts().exists(user)) return Outcome::no_user;
                auto st = host.im->state(user);
                bool blocked = host.im->limits().blocking && st->blocks(from);
                host.im->release_state(st);
                // XEP-0191 §3.7: a blocked sender learns nothing more than about a stranger.
                if (blocked) return Outcome::no_user;
                // XEP-0160 §3: chat states alone are not worth keeping.
                if (message_kinds::only_chat_state(m)) return Outcome::dropped;
                if (max == 0) return Outcome::off;
                auto& delay = m.add_child("delay", std::string(ns::delay));
                delay.set_attr("from", host.domain);
                delay.set_attr("stamp", datetime::format_us(datetime::now_us()));
                delay.add_text("Offline Storage");
                if (!store.offline().add(user, m.to_string(ns::client), max, max_bytes))
                    return Outcome::full;
                return Outcome::stored;
            });
        switch (outcome) {
            case Outcome::no_user:
                ev.error(StanzaError{StanzaErrorCondition::service_unavailable, {}, {}});
                co_return HookResult::refused;
            case Outcome::full:
                ev.error(StanzaError{StanzaErrorCondition::service_unavailable,
                                     "the recipient's offline storage is full",
                                     {}});
                co_return HookResult::refused;
            case Outcome::off:
                ev.error(StanzaError{StanzaErrorCondition::service_unavailable,
                                     "the recipient is offline and this server keeps no messages",
                                     {}});
                co_return HookResult::refused;
            default:
                co_return HookResult::handled;
        }
    }
};
}  // namespace

std::unique_ptr<Module> make_offline_module() {
    return std::make_unique<OfflineModule>();
}

}  // namespace hongyan::modules
