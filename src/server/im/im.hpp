// The IM core (RFC 6121): rosters, presence and subscriptions, blocking (XEP-0191) and
// shared roster groups, with the in-memory user states. The modules that speak these
// protocols call into it (roster, presence, blocking, offline); the router does not.
//
// Threads: methods marked (io) run on the calling session's I/O thread. Work on a user's
// state (its roster, blocklist, offline messages, becoming available) runs as a job of the
// host's Sequencer keyed by the user, on the IM workers (server.im_threads), database
// calls included: the ordering rule of docs/architecture.md ("Ordering").
#pragma once

#include <atomic>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/steady_timer.hpp>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "server/im/shared_groups.hpp"
#include "server/im/subscription.hpp"
#include "server/im/user_state.hpp"
#include "server/router/session_registry.hpp"
#include "server/sequencer.hpp"
#include "xmpp/jid.hpp"
#include "xmpp/stanza_error.hpp"
#include "xmpp/xml.hpp"

namespace hongyan {
struct ServerContext;
struct Host;
namespace storage {
class Storage;
struct FeedWatch;
}  // namespace storage
namespace c2s {
class ClientSession;
class BulkSource;
}  // namespace c2s
}  // namespace hongyan

namespace hongyan::im {

using SessionPtr = std::shared_ptr<c2s::ClientSession>;
class OfflineSource;
class DeliveryBatch;

// A roster fetch (RFC 6121 §2.1.3, §2.6.3): the whole roster (items_xml, the <item/>s),
// or, for a client whose version is recent enough, nothing but the pushes to send after
// an empty result.
struct RosterFetch {
    bool incremental = false;
    std::string ver;
    std::string items_xml;
    std::vector<std::string> pushes;  // whole <iq/> stanzas, in order
};
enum class RosterUpdate { ok, not_found, full, shared_only };

// A blocklist change (XEP-0191 §3.3, §3.4): the JIDs it changed, or full.
struct BlocklistChange {
    bool full = false;
    std::vector<std::string> changed;
};

struct Limits {
    std::size_t roster_max_items = 10000;
    std::size_t roster_max_name = 1024;
    std::size_t roster_max_group = 1024;
    std::size_t roster_max_removed = 1000;
    std::size_t blocklist_max = 1000;
    bool blocking = false;  // the blocking module is on: blocklists are loaded and applied
};

// One per hosted domain (host.hpp): its users, their states and its shared groups. A
// contact at another domain, hosted here or not, is a remote contact: presence and
// subscriptions with it go through the router, as with a component's JIDs.
class Im {
  public:
    Im(ServerContext& server, Host& host);
    ~Im();

    // Loads the shared groups and starts following the directory change feed.
    void start();
    // Stops the feed and waits for every job in flight; later jobs are dropped.
    void stop();
    // Reads the change feed soon rather than at the next poll (after a local change).
    void poke();
    // Reads the change feed now and resumes once it is applied (before creating an
    // account, so that a deletion of the same name by hongyanctl is applied first).
    boost::asio::awaitable<void> sync_directory();

    // Session life (io). bound() loads and pins the user's state before the bind result;
    // release() gives the pin back for a session that never entered the registry.
    boost::asio::awaitable<void> bound(const Jid& full);
    void release(const std::string& user);
    // Enters a bound session into the registry. Returns the session it replaces (same
    // full JID, RFC 6120 §7.7.2.2), whose presence has ended; the caller closes it.
    RoutePtr bind(const Jid& full, SessionPtr session);
    // Takes the session out of the registry if the entry is still its own; contacts and
    // directed-presence recipients hear it is unavailable if it was available.
    void unbind(const Jid& full, const SessionRoute* session);

    // Roster (RFC 6121 §2, io). A fetch marks the resource as interested in pushes
    // (§2.1.6); `client_ver` is the 'ver' the client sent, if any.
    boost::asio::awaitable<RosterFetch> roster_fetch(Jid full, const SessionRoute* session,
                                                     std::optional<std::string> client_ver);
    // A client's roster set, checked by the caller (§2.3.3): adds or changes the item, or
    // removes it with the unsubscriptions that causes (§2.5.2); pushes follow.
    boost::asio::awaitable<RosterUpdate> roster_update(std::string user, std::string contact,
                                                       std::string name,
                                                       std::vector<std::string> groups,
                                                       bool remove);

    // Presence from a local client with `from` stamped (io).
    boost::asio::awaitable<void> presence(SessionPtr sender, xml::Element p, std::optional<Jid> to);
    // Presence from another domain's JID (a component) for a local user (io): the
    // subscription stanzas of §3 change the user's roster as a local contact's would,
    // probes are answered (§4.3.2), and other presence goes to the user's resources.
    boost::asio::awaitable<void> remote_presence(xml::Element p, Jid from, Jid to);
    // What goes to a resource first when it becomes available with a non-negative priority,
    // ahead of everything delivered live after it (the offline module's stored messages,
    // XEP-0160): called in the user's job, before the resource is marked available; null
    // for nothing. Set at start, before any session.
    using AvailableSource = std::function<std::shared_ptr<c2s::BulkSource>(const UserPtr&)>;
    void on_available(AvailableSource f) { available_source_ = std::move(f); }
    // Called when local user `watcher` starts to see `user`'s presence (an approved
    // subscription, RFC 6121 §3.1.6; a new shared group; an unblock), after the presence
    // went out: PEP's implicit subscription sends the last items then (XEP-0163 §4.3.2).
    // Called in the user's job: listeners must not block. Set at start, before any session.
    using SharedListener = std::function<void(const std::string& user, const std::string& watcher)>;
    void on_presence_shared(SharedListener f) { shared_listeners_.push_back(std::move(f)); }

    // In a job holding the user's key (sequencer()): the user's state, loaded if need be,
    // and given back once done (it stays loaded while a session is bound).
    UserPtr state(const std::string& user);
    void release_state(const UserPtr& st);

    // Blocking (XEP-0191, io). The list, sorted; the resource now gets pushes (§3.5).
    boost::asio::awaitable<std::vector<std::string>> blocklist(Jid full,
                                                               const SessionRoute* session);
    // Blocks or unblocks `jids` (an empty unblock: everyone), with the presence that
    // stops or resumes (§3.3.3, §3.4.3); the pushes are the caller's.
    boost::asio::awaitable<BlocklistChange> change_blocklist(std::string user,
                                                             std::vector<std::string> jids,
                                                             bool block);
    // True when local user `user` blocks `other` (false when the user is not loaded:
    // users are loaded while online, and the offline path loads them).
    bool blocks(const std::string& user, const Jid& other) const;

    // True when `viewer` may see `user`'s presence (RFC 6121: 'from' or 'both'; a shared
    // group; the user themself) and is not blocked (io; loads the user if needed).
    boost::asio::awaitable<bool> may_see_presence(const std::string& user, const Jid& viewer);
    // True when `viewer` is in `user`'s roster in one of `groups` (personal groups or
    // shared ones) and not blocked (io; loads the user if needed): PEP's roster access
    // model (XEP-0060 §4.5).
    boost::asio::awaitable<bool> in_roster_groups(const std::string& user, const Jid& viewer,
                                                  std::vector<std::string> groups);
    // Local usernames that see `user`'s presence ('from', 'both' or a shared group), or,
    // with `watchers` false, whose presence `user` sees; from the loaded state (empty for a
    // user that is not loaded: users are loaded while online).
    std::vector<std::string> presence_contacts(const std::string& user, bool watchers) const {
        return contacts(user, watchers);
    }
    // Whether `bare` is in `user`'s roster (a personal item or a shared group), from the
    // loaded state; nothing when the user is not loaded (io).
    std::optional<bool> in_roster(const std::string& user, const std::string& bare) const;
    // Whether `user` shares presence with `viewer` through the roster: a subscription of
    // type 'from' or 'both', or a shared group (RFC 6121 §8.5.3.1); from the loaded state,
    // nothing when the user is not loaded.
    std::optional<bool> shares_presence(const std::string& user, const Jid& viewer) const;
    // True when the user has an available resource.
    bool online(const std::string& user) const;
    // The user went offline (their last available resource sent unavailable, its
    // connection staying): last activity (XEP-0012) is now, with `status`, unless a
    // resource came up meanwhile.
    void record_last_activity(const std::string& user, std::string status);
    // RFC 6121 §4.3.2: what answers a probe of `user` while no resource is available: an
    // unavailable presence with the status and time (XEP-0203) of the last one, if known.
    boost::asio::awaitable<xml::Element> last_unavailable(const std::string& user,
                                                          const std::string& to);

    // The blocking module turns blocklists on (before any user is loaded); with it off,
    // no blocklist is loaded or applied anywhere.
    void enable_blocking() { limits_.blocking = true; }
    SharedGroups& shared() { return shared_; }
    const Limits& limits() const { return limits_; }
    std::string full_bare(const std::string& user) const;
    // The jobs on this host's users (the ordering rule).
    Sequencer& sequencer() { return seq_; }
    // To the user's resources that fetched the roster (or, with `blocklist`, the
    // blocklist): pushes.
    void send_to_interested(const std::string& user, const std::string& bytes,
                            bool blocklist = false) const;
    // A push id unique on this server.
    std::uint64_t next_push_id() const { return push_id_.fetch_add(1); }

  private:
    // A registry entry went away: broadcasts unavailable if it was available (to
    // directed-presence recipients too) and releases the state. Caller holds the user's
    // presence lock.
    void ended(const Jid& full, const SessionRegistry::Resource& r);

    ServerContext& server_;
    Host& host_;
    // Stores last activity now (inside a job of the user).
    void store_last_activity(const std::string& user, const std::string& status);
    storage::Storage& storage_;
    Limits limits_;
    AvailableSource available_source_;
    std::vector<SharedListener> shared_listeners_;
    mutable UserCache cache_;
    SharedGroups shared_;
    std::string domain_;
    std::string everyone_;
    std::size_t shared_log_limit_ = 100000;
    mutable std::atomic<std::uint64_t> push_id_{1};
    // Orders resources becoming available (ResourceState::available_since).
    std::atomic<std::uint64_t> activations_{0};
    Sequencer seq_;

    // The feed position applied (written by barrier jobs, read anywhere).
    std::atomic<std::int64_t> feed_seq_{0};
    std::atomic<bool> poll_queued_{false};
    // Storage thread only: the poll timer.
    std::uint64_t polls_ = 0;
    std::unique_ptr<boost::asio::steady_timer> poll_timer_;
    std::chrono::milliseconds poll_interval_{1000};  // shared_groups.poll_interval
    std::unique_ptr<storage::FeedWatch> watch_;      // the backend's feed notifications
    bool stopping_ = false;

    // -- in a job holding the user's key (or a barrier) --
    // The user's state from the cache, or loaded from the database into it. Throws
    // std::logic_error when the calling job does not hold the user's key: two jobs could
    // otherwise load the same user at once and one state replace the other.
    UserPtr load_state(const std::string& user);
    void release_if_unpinned(const UserPtr& st);
    // `pred` of the user's state, under its mutex (loaded for the call if need be); false
    // when there is no such account.
    bool state_allows(const std::string& user, const std::function<bool(const UserState&)>& pred);
    // Applies the feed's new events (a barrier job).
    void poll_feed();
    // True when the feed has events not applied yet (a failure to read it says false, and
    // the next poll reads it); `user` names the job in the log.
    bool feed_moved(const std::string& user);
    void schedule_poll();
    // The keys of a job on `user` and, when `contact` is a local user, on them too.
    Sequencer::Keys keys_with(const std::string& user, const std::string& contact) const;
    void apply_event(const DirectoryEvent& e);
    void forget_contact(const std::string& contact);
    std::vector<std::string> bound_users() const;
    // Roster changes made together (the two sides of a subscription between local users,
    // a removal with the unsubscriptions it causes) are written in one database
    // transaction; memory, roster pushes and the presence they cause follow only once it
    // has committed. In a job holding every user it changes.
    struct RosterTxn {
        struct Change {
            UserPtr st;
            RosterItem item;
        };
        std::vector<Change> changes;
        std::vector<std::function<void()>> effects;  // after the commit, in order
        std::vector<UserPtr> loaded;                 // released once done
        // The item for `jid` as this transaction sees it (removed ones included).
        std::optional<RosterItem> find(const UserState& st, const std::string& jid) const;
        std::int64_t next_ver(const UserState& st) const;
    };
    UserPtr load_for(RosterTxn& txn, const std::string& user);
    // Records `item` for `st` at the next version; pushes it to interested resources once
    // committed (when `push`).
    void commit(RosterTxn& txn, const UserPtr& st, RosterItem item, bool push = true);
    // Writes the transaction, then applies it to memory and runs its effects. Throws, with
    // nothing applied, when the write fails.
    void finish(RosterTxn& txn);
    void remove_item(RosterTxn& txn, const UserPtr& st, RosterItem item);
    // RFC 6121 §3 / Appendix A. False when `contact` is a local user that does not exist.
    bool outbound_subscription(RosterTxn& txn, const std::string& user, const std::string& contact,
                               SubType t, const std::string& stanza);
    // `other_jid` is the bare JID the stanza came from: a local user or another domain's.
    void inbound_subscription(RosterTxn& txn, const std::string& owner,
                              const std::string& other_jid, SubType t, const std::string& stanza);

    // -- roster output (caller holds the state's mutex where it takes a state) --
    std::string version(const UserState& st) const;
    std::string version_of(std::int64_t personal, std::int64_t shared) const;
    std::string roster_items(const std::string& user, const UserState& st) const;
    void append_item_xml(std::string& out, const std::string& contact, const RosterItem* personal,
                         const std::vector<std::string>& shared_groups) const;
    // The effective item for `contact`, or subscription='remove' when there is none.
    void append_item(std::string& out, const std::string& user, const std::string& contact,
                     const UserState& st) const;
    void push_item(const std::string& user, const std::string& contact);
    std::string push_xml(const std::string& item_xml, const std::string& ver) const;

    // -- presence --
    std::optional<std::string> local_user(const std::string& bare) const;
    // Local users who see `user`'s presence (watchers) or whose presence `user` sees.
    std::vector<std::string> contacts(const std::string& user, bool watchers,
                                      std::vector<std::string>* remote = nullptr) const;
    // Routes the presence of each of `user`'s available resources to `to` (a JID of another
    // domain), or unavailable from each of them when `unavailable`.
    void route_presence_of(const std::string& user, const std::string& to, bool unavailable);
    bool may_see_locked(const UserState& st, const std::string& viewer) const;
    bool may_see(const UserState& st, const std::string& viewer) const;
    // Either side blocks the other.
    bool presence_blocked(const std::string& from_user, const std::string& to_user) const;
    // To the resources of the given full or bare JIDs that did not block `from`.
    void broadcast_directed(const Jid& from, const std::string& bytes,
                            const std::vector<std::string>& to, DeliveryBatch* batch = nullptr);
    // With `initial` (the sender's available_since at initial presence), contacts' resources
    // that became available after it are skipped: their own probe brings the presence.
    void broadcast(const Jid& from, const std::string& bytes,
                   const std::vector<std::string>& extra_full = {}, std::uint64_t initial = 0);
    using Stanzas = std::vector<std::shared_ptr<const std::string>>;
    // The current presence of each available resource of `user`, appended to `out`; with
    // `before`, only of resources that became available before that point.
    void presences_of(const std::string& user, Stanzas& out, std::uint64_t before = 0) const;
    void deliver_to_available(const std::string& user, const std::string& stanza) const;
    void deliver_to_available(const std::string& user, const Stanzas& stanzas) const;
    void send_current_presence(const std::string& from_user, const std::string& to_user);
    void send_unavailable(const std::string& from_user, const std::string& to_user);
    // In the user's job: the resource becomes available with this priority and presence, and
    // the presence is broadcast, as one step under the user's presence lock (so a resource
    // that left meanwhile is never shown online: unbind() takes the same lock). First, with
    // a non-negative priority, the on_available() source (stored offline messages) is
    // queued for the session, ahead of anything delivered to it live once it is available.
    // Returns the resource's available_since (0 when the session left the registry).
    std::uint64_t activate(const SessionPtr& sender, const Jid& from, const std::string& user,
                           int priority, const std::shared_ptr<const std::string>& bytes);
};

}  // namespace hongyan::im
