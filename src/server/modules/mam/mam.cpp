// XEP-0313 Message Archive Management for user archives, with XEP-0359 stanza-ids and
// XEP-0059 paging. Every chat message, and every normal message with a body, that a user
// receives is stamped with a stanza-id of the user's archive just before delivery
// (pre_deliver) and archived; every one a user's client sends is archived in the
// sender's archive (pre_route, after blocking). Writes are queued per host and written in
// batches, in one transaction each, on the host's storage thread; queries run there too,
// after whatever was queued before them, so a client sees what it just sent.
// Preferences (§6) are kept in memory for the users who set any (loaded at start), so
// the decision is made where the message is stamped; retention (mam.retention) runs
// hourly on each host's storage thread. Not yet: full-text search.
#include <openssl/rand.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <atomic>
#include <charconv>
#include <chrono>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <unordered_map>

#include "server/c2s/client_session.hpp"
#include "server/host.hpp"
#include "server/im/im.hpp"
#include "server/modules/mam/prefs.hpp"
#include "server/modules/module.hpp"
#include "server/server_context.hpp"
#include "server/storage/archive_store.hpp"
#include "server/storage/storage.hpp"
#include "server/storage/storage_error.hpp"
#include "xmpp/data_form.hpp"
#include "xmpp/datetime.hpp"
#include "xmpp/message_kinds.hpp"
#include "xmpp/namespaces.hpp"
#include "xmpp/xml_stream_parser.hpp"

namespace hongyan::modules {

namespace {

using storage::ArchivedMessage;
using storage::ArchiveQuery;
constexpr std::size_t kMaxIds = 100;  // stanza-ids in one #extended query

// §5.1.1: chat messages and normal ones with a body; not errors, headlines, groupchat,
// carbons (the original is archived) or what XEP-0334 says not to store. Without a body
// too: what asks to be stored (XEP-0334 <store/>), an encrypted message (OMEMO, whose
// body may be only in the payload) and a retraction (XEP-0424 §4: the other devices
// learn of it from the archive). A chat state or a receipt alone is not kept.
bool archivable(const xml::Element& m) {
    const std::string_view type = m.attr("type");
    if (type != "chat" && type != "normal" && !type.empty()) return false;
    if (!m.child("body", ns::client) && !m.child("store", ns::hints) &&
        !m.child("encrypted", "eu.siacs.conversations.axolotl") &&
        !m.child("encrypted", "urn:xmpp:omemo:2") &&
        !m.child("retract", "urn:xmpp:message-retract:1"))
        return false;
    return !m.child("no-store", ns::hints) && !m.child("no-permanent-store", ns::hints) &&
           !message_kinds::is_carbon(m);
}

// XEP-0359 §3.3 wants ids that are unique and not guessable: 96 random bits.
std::string new_stanza_id() {
    unsigned char raw[12];
    if (RAND_bytes(raw, sizeof raw) != 1) throw std::runtime_error("RAND_bytes failed");
    static const char alphabet[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    std::string out;
    for (std::size_t i = 0; i < sizeof raw; i += 3) {
        const unsigned v = (raw[i] << 16) | (raw[i + 1] << 8) | raw[i + 2];
        for (int k = 18; k >= 0; k -= 6) out += alphabet[(v >> k) & 63];
    }
    return out;
}

// The archive's writes for one host: queued by the I/O threads, written in batches on
// the host's storage thread. mam.max_pending bounds what waits, including batches that
// failed and wait to be tried again (a locked or full database): past it, messages are
// refused before they are delivered (full()), so none is delivered unarchived.
class Writer {
  public:
    Writer(Host& host, std::size_t max_pending) : host_(host), max_(max_pending) {}

    // The archive's clock goes on from the last message archived before (a restart with
    // the system clock set back does not archive new messages before old ones).
    void start_clock_at(std::int64_t time_us) {
        std::lock_guard lock(mu_);
        last_us_ = std::max(last_us_, time_us);
    }

    bool full() const {
        std::lock_guard lock(mu_);
        return pending_.size() + *in_flight_ >= max_;
    }

    // Queues `m` for `user`'s archive, stamping its time. Past twice the bound (only
    // messages admitted just before the queue filled get there) it is dropped, with a log
    // line at most every 10 seconds.
    void add(std::string user, ArchivedMessage m) {
        std::lock_guard lock(mu_);
        if (pending_.size() + *in_flight_ >= 2 * max_) {
            ++dropped_;
            const auto now = std::chrono::steady_clock::now();
            if (now - last_warning_ >= std::chrono::seconds(10)) {
                spdlog::warn(
                    "archive of {}: {} messages not archived (mam.max_pending = {} are "
                    "waiting for the database)",
                    host_.domain, dropped_, max_);
                dropped_ = 0;
                last_warning_ = now;
            }
            return;
        }
        // Archive order and time agree, even if the clock steps back.
        m.time_us = std::max(datetime::now_us(), last_us_);
        last_us_ = m.time_us;
        pending_.emplace_back(std::move(user), std::move(m));
        ++submitted_;
        if (!posted_) {
            posted_ = true;
            host_.storage->post([this] { flush(); });
        }
    }

    // Calls `done` once every message added so far is written (or, after
    // storage.retry_attempts, given up with an error in the log): stream management
    // acknowledges nothing before (XEP-0198 <a/>).
    void after_settled(std::function<void()> done) {
        {
            std::lock_guard lock(mu_);
            if (settled_ < submitted_) {
                waiting_.emplace_back(submitted_, std::move(done));
                return;
            }
        }
        done();
    }

  private:
    using Batch = std::vector<std::pair<std::string, ArchivedMessage>>;
    // A batch being written: counted in full() until it is written or given up, when it
    // settles its place in the order of additions, [first, first + size).
    struct InFlight {
        InFlight(Writer& w, Batch b, std::uint64_t first)
            : writer(w), count(w.in_flight_), batch(std::move(b)), first(first) {
            *count += batch.size();
        }
        ~InFlight() {
            *count -= batch.size();
            writer.settle(first, first + batch.size());
            // Written or given up: what queued behind it goes now.
            writer.host_.storage->post([&w = writer] { w.flush(); });
        }
        Writer& writer;
        std::shared_ptr<std::atomic<std::size_t>> count;
        Batch batch;
        std::uint64_t first;
    };

    // Batches settle out of order (one retried, the next written): the barrier passes
    // what is settled without a gap.
    void settle(std::uint64_t first, std::uint64_t end) {
        std::vector<std::function<void()>> ready;
        {
            std::lock_guard lock(mu_);
            settled_ranges_[first] = end;
            for (auto it = settled_ranges_.begin();
                 it != settled_ranges_.end() && it->first == settled_;) {
                settled_ = it->second;
                it = settled_ranges_.erase(it);
            }
            while (!waiting_.empty() && waiting_.front().first <= settled_) {
                ready.push_back(std::move(waiting_.front().second));
                waiting_.pop_front();
            }
        }
        for (auto& f : ready) f();
    }

    void flush() {  // storage thread
        Batch batch;
        std::uint64_t first = 0;
        {
            std::lock_guard lock(mu_);
            posted_ = false;
            // A batch that failed is tried again first; the rest waits behind it, so that
            // archive order stays the order of the messages' times (the time filters of
            // queries rely on it).
            if (!stalled_.expired()) return;
            batch.swap(pending_);
            first = flushed_;
            flushed_ += batch.size();
        }
        if (batch.empty()) return;
        auto job = std::make_shared<InFlight>(*this, std::move(batch), first);
        try {
            write(job->batch);
        } catch (const std::exception&) {
            // A locked or full database: the batch waits and is tried again
            // (storage.retry_attempts); it ends, written or given up, when the retry's
            // function goes.
            {
                std::lock_guard lock(mu_);
                stalled_ = job;
            }
            host_.storage->post_retrying(
                "archiving " + std::to_string(job->batch.size()) + " messages",
                [this, job] { write(job->batch); });
        }
    }

    void write(const Batch& batch) {
        auto& st = *host_.storage;
        try {
            st.transaction([&] { st.archive().add_many(batch); });
        } catch (const storage::StorageError& e) {
            if (e.kind() != storage::StorageError::Kind::other) throw;  // busy, full: later
            // One message the database refuses for good (its account was deleted
            // meanwhile) must not keep the others out: one at a time, that one dropped.
            for (const auto& [user, m] : batch) {
                try {
                    st.archive().add(user, m);
                } catch (const storage::StorageError& one) {
                    if (one.kind() != storage::StorageError::Kind::other) throw;
                    spdlog::warn("not archived for {}: {}", user, one.what());
                }
            }
        }
    }

    Host& host_;
    const std::size_t max_;
    mutable std::mutex mu_;
    Batch pending_;
    std::shared_ptr<std::atomic<std::size_t>> in_flight_ =
        std::make_shared<std::atomic<std::size_t>>(0);
    bool posted_ = false;
    // Additions counted in order: submitted, taken into batches, settled without a gap.
    std::uint64_t submitted_ = 0, flushed_ = 0, settled_ = 0;
    std::map<std::uint64_t, std::uint64_t> settled_ranges_;
    std::deque<std::pair<std::uint64_t, std::function<void()>>> waiting_;
    std::int64_t last_us_ = 0;
    std::size_t dropped_ = 0;
    std::weak_ptr<InFlight> stalled_;  // the batch being retried, if any
    std::chrono::steady_clock::time_point last_warning_{};
};

constexpr const char* kPrefsTable = "mam_prefs";
constexpr const char* kPrefsKey = "prefs";

// The preferences of one host's users who set any; the others archive everything.
struct PrefsTable {
    mutable std::mutex mu;
    std::unordered_map<std::string, mam::Prefs> by_user;
    std::atomic<bool> any{false};

    std::optional<mam::Prefs> find(const std::string& user) const {
        if (!any.load(std::memory_order_relaxed)) return std::nullopt;
        std::lock_guard lock(mu);
        auto it = by_user.find(user);
        if (it == by_user.end()) return std::nullopt;
        return it->second;
    }
    // Whether `user`'s archive keeps a message with `with` (each message: no copy).
    template <class InRoster>
    bool keeps(const std::string& user, const std::string& with, InRoster in_roster) const {
        if (!any.load(std::memory_order_relaxed)) return true;
        std::lock_guard lock(mu);
        auto it = by_user.find(user);
        return it == by_user.end() || it->second.keeps(with, in_roster);
    }
    void put(const std::string& user, mam::Prefs p) {
        std::lock_guard lock(mu);
        by_user[user] = std::move(p);
        any = true;
    }
};

// A query's answer, made on the storage thread.
struct Answer {
    std::optional<StanzaError> error;
    storage::ArchivePage page;
};

class MamModule final : public Module {
  public:
    std::string_view name() const override { return "mam"; }
    std::vector<ProtocolSupport> protocols() const override {
        return {{"XEP-0313", "Message Archive Management", "1.1.3", "partial",
                 "user archives: chat and normal messages with a body, sent and received; "
                 "with/start/end, after-id/before-id/ids (#extended), RSM paging both ways, "
                 "flip-page; mam.default_page, mam.max_page; preferences (§6: always, "
                 "never, roster, per JID); archive metadata (§7); mam.retention; "
                 "hongyanctl archive. Not yet: full text"},
                {"XEP-0359", "Unique and Stable Stanza IDs", "0.7.0", "complete",
                 "<stanza-id/> of the recipient's archive on every archived message; "
                 "stanza-ids claiming to be by the archive are removed"},
                {"XEP-0334", "Message Processing Hints", "0.3.0", "complete",
                 "<store/>, <no-store/> and <no-permanent-store/> decide what the archive keeps; "
                 "<no-copy/> keeps a message out of carbons (carbons module)"},
                {"XEP-0308", "Last Message Correction", "1.2.1", "complete",
                 "passes through; a correction has a body and is archived like any message"},
                {"XEP-0424", "Message Retraction", "0.4.2", "complete",
                 "passes through; a retraction is archived even without a body (§4), the "
                 "retracted message stays in the archive"},
                {"XEP-0184", "Message Delivery Receipts", "1.4.0", "complete",
                 "pass through; archived only with a body or <store/>"},
                {"XEP-0085", "Chat State Notifications", "2.1", "complete",
                 "pass through; never archived alone (§5.1.1), dropped for CSI-inactive "
                 "clients and never stored offline"},
                {"XEP-0393", "Message Styling", "1.1.0", "complete",
                 "the body is kept and passed as it is"},
                {"XEP-0059", "Result Set Management", "1.0", "partial",
                 "max, after, before (empty: the last page), first/last; count only for an "
                 "empty result"}};
    }
    std::vector<config::KeySpec> config_keys() const override {
        using config::ValueType;
        return {
            {"mam.default_page", ValueType::integer, std::int64_t{50},
             "Messages in an archive page when the query gives no <max/> (XEP-0313).", 1, 10000},
            {"mam.max_page", ValueType::integer, std::int64_t{250},
             "Most messages in one archive page; a larger <max/> gets this many.", 1, 10000},
            {"mam.retention", ValueType::integer, std::int64_t{0},
             "Days a message stays in the archive (XEP-0313); older ones are deleted every "
             "hour. 0 keeps everything.",
             0, 36500},
            {"mam.max_pref_jids", ValueType::integer, std::int64_t{1000},
             "JIDs one user's archiving preferences (XEP-0313 §6) may list, always and never "
             "together; more is refused with <not-acceptable/>.",
             0, 100000},
            {"mam.max_pending", ValueType::integer, std::int64_t{100000},
             "Messages waiting to be archived, per host (also while the database is locked "
             "or full); past it messages are refused with <resource-constraint/> until the "
             "archive catches up.",
             1, 100000000},
        };
    }
    std::vector<std::string> migrations(std::string_view backend) const override {
        auto m = storage::archive_migrations(backend);
        m.push_back(storage::xml_store_migration(backend, kPrefsTable));
        return m;
    }
    void start(ModuleContext& ctx) override {
        for (auto& h : ctx.server().hosts) {
            writers_[h.get()] = std::make_unique<Writer>(
                *h, static_cast<std::size_t>(h->config.integer("mam.max_pending")));
            // Before the storage thread starts: read here, on the starting thread.
            writers_[h.get()]->start_clock_at(h->storage->archive().latest_time());
            auto& table = prefs_[h.get()];
            table = std::make_unique<PrefsTable>();
            for (const auto& [user, doc] : h->storage->xml_store(kPrefsTable).all(kPrefsKey)) {
                auto e = xml::parse_stanza(doc, ns::mam);
                mam::Prefs p;
                if (e && !mam::Prefs::parse(*e, SIZE_MAX, p)) table->put(user, std::move(p));
            }
            if (const auto days = h->config.integer("mam.retention"); days > 0) keep_for(*h, days);
        }
        // A message is archived by the sender's host and the recipient's, which may be
        // another one: the barrier waits for every host's writer.
        ctx.add_ack_barrier([this](Host&, std::function<void()> done) {
            auto left = std::make_shared<std::atomic<std::size_t>>(writers_.size());
            auto fn = std::make_shared<std::function<void()>>(std::move(done));
            for (auto& [host, writer] : writers_)
                writer->after_settled([left, fn] {
                    if (left->fetch_sub(1) == 1) (*fn)();
                });
        });
        ctx.add_account_feature(ns::mam);
        ctx.add_account_feature(ns::mam_extended);
        ctx.add_account_feature(ns::sid);
        ctx.on_iq(IqType::set, IqTarget::account, ns::mam, [this](IqRequest& iq) {
            return iq.payload().name() == "prefs" ? set_prefs(iq) : query(iq);
        });
        ctx.on_iq(IqType::get, IqTarget::account, ns::mam, [this](IqRequest& iq) {
            const auto& n = iq.payload().name();
            return n == "prefs" ? get_prefs(iq) : n == "metadata" ? metadata(iq) : form(iq);
        });
        ctx.on_stanza(Phase::pre_route, "message/*", -200,
                      [this](const StanzaEvent& ev) { return outgoing(ev); });
        for (const char* route : {"message/bare", "message/full"})
            ctx.on_stanza(Phase::pre_deliver, route, 0,
                          [this](const StanzaEvent& ev) { return incoming(ev); });
    }

  private:
    void archive(Host& host, std::string user, ArchivedMessage m) {
        writers_.at(&host)->add(std::move(user), std::move(m));
    }

    // §6: whether `user`'s archive keeps a message with `with` (a bare JID).
    bool keeps(Host& host, const std::string& user, const std::string& with) const {
        return prefs_.at(&host)->keeps(user, with, [&] { return host.im->in_roster(user, with); });
    }

    // mam.retention: every hour (and at start), what is older goes, a batch at a time so
    // that other storage work runs in between.
    static void keep_for(Host& host, std::int64_t days) {
        const std::int64_t age_us = days * 86400 * std::int64_t{1000000};
        auto total = std::make_shared<std::size_t>(0);
        host.storage->every(
            "archive retention", std::chrono::hours(1), [&host, age_us, days, total] {
                constexpr std::size_t kBatch = 1000;
                const auto gone =
                    host.storage->archive().remove_before(datetime::now_us() - age_us, kBatch);
                *total += gone;
                if (gone == kBatch) return true;
                if (*total > 0)
                    spdlog::info("archive retention on {}: {} messages older than {} days deleted",
                                 host.domain, *total, days);
                *total = 0;
                return false;
            });
    }

    // §6.1: the user's preferences (the default when none were set).
    boost::asio::awaitable<void> get_prefs(IqRequest& iq) {
        auto p = prefs_.at(&iq.host)->find(iq.from->local()).value_or(mam::Prefs{});
        iq.reply(p.to_element());
        co_return;
    }

    // §6.1: new preferences, stored, then applied; the answer repeats them.
    boost::asio::awaitable<void> set_prefs(IqRequest& iq) {
        mam::Prefs p;
        const auto max = static_cast<std::size_t>(iq.host.config.integer("mam.max_pref_jids"));
        if (auto err = mam::Prefs::parse(iq.payload(), max, p)) {
            iq.error(err->starts_with("at most") ? StanzaErrorCondition::not_acceptable
                                                 : StanzaErrorCondition::bad_request,
                     *err);
            co_return;
        }
        auto& st = *iq.host.storage;
        const std::string user = iq.from->local();
        co_await st.run([&st, user, doc = p.to_element().to_string(ns::client)] {
            st.xml_store(kPrefsTable).set(user, kPrefsKey, doc);
            return 0;
        });
        prefs_.at(&iq.host)->put(user, p);
        iq.reply(p.to_element());
    }

    // §7 (archive metadata): the first and the last message, after what is queued.
    static boost::asio::awaitable<void> metadata(IqRequest& iq) {
        auto& st = *iq.host.storage;
        auto ends = co_await st.run([&st, user = iq.from->local()] {
            return std::make_pair(st.archive().first(user), st.archive().last(user));
        });
        xml::Element md("metadata", std::string(ns::mam));
        for (const auto* m : {&ends.first, &ends.second})
            if (*m)
                md.add_child(m == &ends.first ? "start" : "end", std::string(ns::mam))
                    .set_attr("id", (*m)->id)
                    .set_attr("timestamp", datetime::format_us((*m)->time_us));
        iq.reply(std::move(md));
    }

    // Before a message is routed: refused while an archive it would go to is full (so it
    // is never delivered unarchived), and what a local client sends goes into the
    // sender's archive.
    HookResult outgoing(const StanzaEvent& ev) {
        if (!archivable(ev.stanza)) return HookResult::pass;
        const bool to_local_user =
            ev.host && (ev.target == TargetKind::bare || ev.target == TargetKind::full);
        if ((ev.session && writers_.at(&ev.session->host())->full()) ||
            (to_local_user && writers_.at(ev.host)->full())) {
            // RFC 6120 §8.3.3.18: the sender may try again later.
            ev.error(StanzaError{StanzaErrorCondition::resource_constraint,
                                 "the server's message archive is busy; try again",
                                 {}});
            return HookResult::refused;
        }
        if (!ev.session) return HookResult::pass;
        // To the user's own bare JID it is archived as received.
        if (ev.to.bare_str() == ev.from.bare_str()) return HookResult::pass;
        if (!keeps(ev.session->host(), ev.from.local(), ev.to.bare_str())) return HookResult::pass;
        ArchivedMessage m;
        m.id = new_stanza_id();
        m.with = ev.to.bare_str();
        m.with_resource = ev.to.resource();
        m.outgoing = true;
        m.stanza = ev.stanza.to_string();
        archive(ev.session->host(), ev.from.local(), std::move(m));
        return HookResult::pass;
    }

    // A message for a local user: stamped with a stanza-id of the user's archive, and
    // archived, before it goes to the sessions (or offline storage).
    HookResult incoming(const StanzaEvent& ev) {
        if (!ev.owned || !archivable(ev.stanza)) return HookResult::pass;
        xml::Element& m = *ev.owned;
        const std::string archive_jid = ev.to.bare_str();
        // XEP-0359 §5: nobody else may speak for this archive.
        m.remove_children([&](const xml::Element& c) {
            return c.is("stanza-id", ns::sid) && c.attr("by") == archive_jid;
        });
        // Not archived (§6), so no stanza-id of this archive either.
        if (!keeps(*ev.host, ev.to.local(), ev.from.bare_str())) return HookResult::pass;
        ArchivedMessage a;
        a.id = new_stanza_id();
        m.add_child("stanza-id", std::string(ns::sid))
            .set_attr("id", a.id)
            .set_attr("by", archive_jid);
        a.with = ev.from.bare_str();
        a.with_resource = ev.from.resource();
        a.stanza = m.to_string();
        archive(*ev.host, ev.to.local(), std::move(a));
        return HookResult::pass;
    }

    // §4.1.5 (XEP-0313 1.1: "Retrieving the form"): the fields a query may use.
    static boost::asio::awaitable<void> form(IqRequest& iq) {
        xml::Element q("query", std::string(ns::mam));
        q.add_child(forms::make("form", ns::mam, "", "",
                                {{"with", "jid-single", "", {}, false},
                                 {"start", "text-single", "", {}, false},
                                 {"end", "text-single", "", {}, false},
                                 {"after-id", "text-single", "", {}, false},
                                 {"before-id", "text-single", "", {}, false},
                                 {"ids", "text-multi", "", {}, false}}));
        iq.reply(std::move(q));
        co_return;
    }

    // §4: a query of the user's own archive.
    static boost::asio::awaitable<void> query(IqRequest& iq) {
        const auto& q = iq.payload();
        if (q.name() != "query") {
            iq.error(StanzaErrorCondition::bad_request, "expected <query/>");
            co_return;
        }
        if (!iq.session) {
            iq.error(StanzaErrorCondition::not_allowed);
            co_return;
        }
        ArchiveQuery aq;
        std::string after_id, before_id, rsm_after, rsm_before;
        bool rsm_backward = false;
        if (const auto* x = forms::find(q)) {
            for (const auto& [var, vals] : forms::values(x)) {
                const std::string v = vals.empty() ? std::string() : vals.front();
                if (var == "FORM_TYPE") {
                    if (v != ns::mam) {
                        iq.error(StanzaErrorCondition::bad_request,
                                 "FORM_TYPE is not " + std::string(ns::mam));
                        co_return;
                    }
                } else if (var == "with") {
                    auto jid = Jid::parse(v);
                    if (!jid) {
                        iq.error(StanzaErrorCondition::jid_malformed, "'with' is not a JID");
                        co_return;
                    }
                    aq.with = jid->bare_str();
                    aq.with_resource = jid->resource();
                } else if (var == "start" || var == "end") {
                    auto t = datetime::parse_us(v);
                    if (!t) {
                        iq.error(StanzaErrorCondition::bad_request,
                                 "'" + var + "' is not a XEP-0082 DateTime");
                        co_return;
                    }
                    (var == "start" ? aq.start_us : aq.end_us) = *t;
                } else if (var == "after-id") {
                    after_id = v;
                } else if (var == "before-id") {
                    before_id = v;
                } else if (var == "ids") {
                    aq.ids = vals;
                    if (aq.ids.size() > kMaxIds) {
                        iq.error(StanzaErrorCondition::policy_violation,
                                 "at most " + std::to_string(kMaxIds) + " ids in one query");
                        co_return;
                    }
                } else {
                    iq.error(StanzaErrorCondition::feature_not_implemented,
                             "this archive cannot filter on '" + var + "'");
                    co_return;
                }
            }
        }
        const auto& cfg = iq.host.config;
        aq.max = static_cast<std::size_t>(cfg.integer("mam.default_page"));
        if (const auto* set = q.child("set", ns::rsm)) {
            if (const auto* max = set->child("max", ns::rsm)) {
                const std::string t = max->text();
                std::size_t n = 0;
                auto [end, ec] = std::from_chars(t.data(), t.data() + t.size(), n);
                if (ec != std::errc() || end != t.data() + t.size()) {
                    iq.error(StanzaErrorCondition::bad_request, "<max/> is not a number");
                    co_return;
                }
                aq.max = n;
            }
            if (const auto* a = set->child("after", ns::rsm)) rsm_after = a->text();
            if (const auto* b = set->child("before", ns::rsm)) {
                rsm_backward = true;  // XEP-0059 §2.5: empty, the last page
                rsm_before = b->text();
            }
        }
        aq.max = std::min(aq.max, static_cast<std::size_t>(cfg.integer("mam.max_page")));
        aq.backward = rsm_backward;
        const bool flip = q.child("flip-page", ns::mam) != nullptr;
        const std::string user = iq.from->local();
        auto& st = *iq.host.storage;
        Answer answer =
            co_await st.run([&st, user, aq, after_id, before_id, rsm_after, rsm_before]() mutable {
                Answer a;
                // Every id named must be in the archive (§4.1.4 / XEP-0059 §2.6).
                auto seq_of = [&](const std::string& id) -> std::optional<std::int64_t> {
                    auto seq = st.archive().find(user, id);
                    if (!seq && !a.error)
                        a.error = StanzaError{StanzaErrorCondition::item_not_found,
                                              "no message '" + id + "' in this archive",
                                              {}};
                    return seq;
                };
                for (const auto* id : {&after_id, &rsm_after})
                    if (!id->empty())
                        if (auto s = seq_of(*id))
                            aq.after_seq = std::max(aq.after_seq.value_or(0), *s);
                for (const auto* id : {&before_id, &rsm_before})
                    if (!id->empty())
                        if (auto s = seq_of(*id))
                            aq.before_seq = std::min(aq.before_seq.value_or(*s), *s);
                if (!a.error) a.page = st.archive().query(user, aq);
                return a;
            });
        if (answer.error) {
            iq.error(*answer.error);
            co_return;
        }
        const auto& items = answer.page.items;
        const std::string queryid(q.attr("queryid"));
        auto send = [&](const ArchivedMessage& m) {
            std::string out = "<message to='";
            xml::escape(iq.from->str(), out);
            out += "' id='";
            xml::escape(m.id, out);
            out += "'><result xmlns='";
            out += ns::mam;
            out += "'";
            if (!queryid.empty()) {
                out += " queryid='";
                xml::escape(queryid, out);
                out += "'";
            }
            out += " id='";
            xml::escape(m.id, out);
            out += "'><forwarded xmlns='";
            out += ns::forward;
            out += "'><delay xmlns='";
            out += ns::delay;
            out += "' stamp='";
            out += datetime::format_us(m.time_us);
            out += "'/>";
            out += m.stanza;  // serialised by this server, with xmlns='jabber:client'
            out += "</forwarded></result></message>";
            iq.session->deliver(std::move(out));
        };
        if (flip)
            std::for_each(items.rbegin(), items.rend(), send);
        else
            std::for_each(items.begin(), items.end(), send);
        // §4.3: the end of the page, and whether it is the last one.
        xml::Element fin("fin", std::string(ns::mam));
        if (answer.page.complete) fin.set_attr("complete", "true");
        auto& set = fin.add_child("set", std::string(ns::rsm));
        if (items.empty()) {
            // XEP-0059 §2.7: an empty result says so; a page of <max>0</max> is not one.
            if (answer.page.complete) set.add_child("count", std::string(ns::rsm)).add_text("0");
        } else {
            set.add_child("first", std::string(ns::rsm)).add_text(items.front().id);
            set.add_child("last", std::string(ns::rsm)).add_text(items.back().id);
        }
        iq.reply(std::move(fin));
    }

    std::map<const Host*, std::unique_ptr<Writer>> writers_;
    std::map<const Host*, std::unique_ptr<PrefsTable>> prefs_;
};

}  // namespace

std::unique_ptr<Module> make_mam_module() {
    return std::make_unique<MamModule>();
}

}  // namespace hongyan::modules
