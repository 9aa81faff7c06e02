// The module interface: every feature (XEP) is a Module that registers its handlers, disco
// features and stream features with a ModuleContext when the server starts.
#pragma once

#include <array>
#include <boost/asio/awaitable.hpp>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <tuple>
#include <vector>

#include "server/config/config.hpp"
#include "server/router/session_route.hpp"
#include "server/storage/backend.hpp"
#include "xmpp/jid.hpp"
#include "xmpp/stanza_error.hpp"
#include "xmpp/xml.hpp"

namespace hongyan {
struct ServerContext;
struct Host;
namespace c2s {
class ClientSession;
}
}  // namespace hongyan

namespace hongyan::modules {

enum class IqType { get, set };
// Who an iq is addressed to: the server itself ('to' is the domain), the sender's own
// account ('to' is the sender's bare JID, or absent: RFC 6120 §10.3.3), or another local
// account's bare JID (answered by the server on that user's behalf, RFC 6121 §8.5.2.1.3).
enum class IqTarget { host, account, other_account };
// Stream features are offered before authentication or after it.
enum class StreamPhase { pre_auth, post_auth };

// One iq request handed to a module, with helpers to answer it. The answers go back the
// way the request came: to the local session, or routed to 'from' (a component).
struct IqRequest {
    ServerContext& server;
    // The host the request is for: the domain of its 'to', or the sender's own host when
    // it has no 'to' (host.hpp). Handlers read and write that host's storage.
    Host& host;
    // The local client that sent it; null for a request from a route (only host and
    // other_account handlers get those).
    std::shared_ptr<c2s::ClientSession> session;
    xml::Element iq;
    std::optional<Jid> from;  // the sender's full JID; empty before authentication
    std::optional<Jid> to;    // as addressed; empty when there was no 'to'

    const xml::Element& payload() const;
    // Sends type='result' with an optional payload.
    void reply(std::optional<xml::Element> payload = std::nullopt);
    // Sends type='result' around an already serialised payload (stored XML).
    void reply_raw(std::string_view payload_xml);
    // `app` is an application-specific condition added inside <error/> (RFC 6120 §8.3.2).
    void error(const StanzaError& err, std::optional<xml::Element> app = std::nullopt);
    void error(StanzaErrorCondition c, std::string text = {}) {
        error(StanzaError{c, std::move(text), {}});
    }

  private:
    void send(xml::Element reply);
};

using IqHandler = std::function<boost::asio::awaitable<void>(IqRequest&)>;

// ---- stanza hooks (docs/architecture.md, "Stanza hooks") ----------------------------
// Every message, presence and iq the router handles passes through fixed phases, and
// modules hook into them by stanza kind and target kind, as "message/bare" or "iq/*":
//   pre_route     checks and limits before the router looks at the target (blocking);
//                 a hook that answers "refused" (it told the sender) or "handled" stops
//                 the stanza.
//   route         the router's own choice of target by kind: iq handlers (on_iq) for
//                 the server and accounts, sessions for full and bare JIDs, routes for
//                 other domains. Presence is the exception: the router hands every
//                 presence from a client, and every presence for a hosted user from a
//                 route, to the route hooks (on_route, asynchronous), and the first that
//                 answers "handled" has taken it (the presence module: the IM core). With
//                 none, presence goes nowhere.
//   pre_deliver   a message for a local account, just before it goes to the sessions
//                 (or to deliver): the hook may add to it (`owned`: the archive's
//                 stanza-id); the result is ignored.
//   deliver       a message for a local account that no session takes now; the first
//                 hook that answers "handled" has taken it (offline storage), "refused"
//                 means it answered the sender with an error. With neither, the sender
//                 gets <service-unavailable/>.
//   post_deliver  after a message went to its sessions or was taken in deliver (the
//                 archive, carbons and push plug in here); the result is ignored.
// Hooks of a phase run in descending priority; registration is at start only.
enum class Phase : std::uint8_t { pre_route, route, pre_deliver, deliver, post_deliver };
enum class HookResult : std::uint8_t { pass, handled, refused };
enum class StanzaKind : std::uint8_t { message, presence, iq };
// Whom a stanza is for: the server or a local service ('to' is the server's domain), a
// local account's bare JID, a full JID, or a JID of another domain (a component; later
// remote servers).
enum class TargetKind : std::uint8_t { host, bare, full, other_domain };

struct StanzaEvent {
    ServerContext& server;
    Host* host;  // the host of 'to', or null when 'to' is at a domain not hosted here
    c2s::ClientSession* session;  // the local client that sent it, or null (from a route)
    const Jid& from;
    const Jid& to;  // with no 'to': the sender's bare JID (RFC 6120 §10.3)
    const xml::Element& stanza;
    StanzaKind kind;
    TargetKind target;
    // In the route phase: the stanza itself (`stanza` refers to it), which the hook that
    // answers "handled" may take by moving from it; in pre_deliver, the message, which a
    // hook may add to. Null in the other phases.
    xml::Element* owned = nullptr;
    // Answers the sender with an error (to the local session, or routed back to 'from');
    // never an error to an error. `app` goes inside <error/> (RFC 6120 §8.3.2).
    void error(const StanzaError& err, std::optional<xml::Element> app = std::nullopt) const;
};

using StanzaHook = std::function<HookResult(const StanzaEvent&)>;
using DeliverHook = std::function<boost::asio::awaitable<HookResult>(const StanzaEvent&)>;
// Calls `done` (from any thread) once everything the module took so far for `host` is
// durable: what stream management waits for before it acknowledges stanzas (XEP-0198
// <a/>), for modules that write asynchronously (the archive).
using AckBarrier = std::function<void(Host&, std::function<void()> done)>;

// What happens to a client session as it binds and ends beyond the session registry: the
// IM core loads the user's state before the bind result and ends the resource's presence
// when it goes (RFC 6121 §4.5.2). One module registers them (presence); without them a
// session only enters and leaves the registry.
struct SessionHooks {
    // Before the bind result; a throw fails the bind with <internal-server-error/>.
    std::function<boost::asio::awaitable<void>(Host&, const Jid& full)> binding;
    // binding() ran, but the session closed before it entered the registry.
    std::function<void(Host&, const Jid& full)> abandoned;
    // Enters the session into the registry; returns the session it replaces (same full
    // JID, RFC 6120 §7.7.2.2), for the caller to close.
    std::function<RoutePtr(Host&, const Jid& full, std::shared_ptr<c2s::ClientSession>)> enter;
    // Takes the session out of the registry if the entry is still its own.
    std::function<void(Host&, const Jid& full, const SessionRoute* session)> leave;
};

// How far a module implements a specification (docs/protocols.md is generated from this).
struct ProtocolSupport {
    std::string_view spec;  // "RFC 6120", "XEP-0199"
    std::string_view title;
    std::string_view version;  // version of the spec implemented, or "" for RFCs
    std::string_view status;   // "complete", "partial", "planned"
    std::string_view notes;
};

class ModuleContext;

class Module {
  public:
    virtual ~Module() = default;
    virtual std::string_view name() const = 0;
    virtual std::vector<ProtocolSupport> protocols() const = 0;
    // The configuration keys the module reads ("<module>.<key>"); docs/configuration.md
    // lists them with the core's keys (config::schema()).
    virtual std::vector<config::KeySpec> config_keys() const { return {}; }
    // The tables the module keeps its data in: migrations for storage backend `backend`
    // ("sqlite"), applied in order when a database opens, each once; append-only.
    virtual std::vector<std::string> migrations(std::string_view /*backend*/) const { return {}; }
    virtual void start(ModuleContext& ctx) = 0;
    // Called at shutdown in reverse start order, after the server stopped routing and
    // before its registrations are removed.
    virtual void stop() {}
};

struct Identity {
    std::string category, type, name;
};

// A disco node of the server (XEP-0030 §3.2, §4.2) a module answers for, such as the
// ad-hoc command list (XEP-0050). Each function returns the <query/> children for the
// requester; `allowed` says whether the requester may know of the node at all.
struct DiscoNode {
    std::function<std::vector<xml::Element>(const IqRequest&)> items;
    std::function<std::vector<xml::Element>(const IqRequest&)> info;
};

// Everything modules registered, looked up by the router and the c2s stream.
class ModuleHost {
  public:
    struct Entry {
        IqHandler handler;
        bool pre_auth = false;
        std::string module;
    };
    const Entry* find_iq(IqType type, IqTarget target, std::string_view ns) const;
    // The handler for a request's payload: one registered for its namespace and its one
    // child's namespace (ModuleContext::on_iq_child), else the one for its namespace.
    const Entry* find_iq(IqType type, IqTarget target, const xml::Element& payload) const;
    const std::vector<std::string>& features() const { return features_; }
    const std::vector<std::string>& account_features() const { return account_features_; }
    const std::vector<Identity>& identities() const { return identities_; }
    // Identities of every account beside account/registered (the PEP service, XEP-0163
    // §6.1), shown to whoever may see the account.
    const std::vector<Identity>& account_identities() const { return account_identities_; }
    // The disco node `node` answers for, or nullptr (also for nodes under a prefix entry
    // ending in '#').
    const DiscoNode* disco_node(std::string_view node) const;
    const std::vector<xml::Element>& stream_features(StreamPhase phase) const {
        return phase == StreamPhase::pre_auth ? pre_auth_features_ : post_auth_features_;
    }
    // XEP-0115 §5.1 verification string of the server's identities and features, and the
    // <c/> stream feature (§6.3) that carries it; computed once, after every module started.
    const std::string& caps_ver() const;
    std::string caps_node_ver() const;
    const xml::Element& caps_feature() const;
    static constexpr std::string_view caps_node = "https://hongyan.im/server";

    // Stanza hooks. hooked() is the cheap test the router makes before building an event.
    bool hooked(Phase phase, StanzaKind kind, TargetKind target) const {
        return !hooks_[slot(phase, kind, target)].empty();
    }
    // Runs the hooks of a phase until one answers other than pass, and returns that
    // answer (pass when none did).
    HookResult run_hooks(Phase phase, const StanzaEvent& ev) const;
    // The same for the asynchronous phases (route, deliver).
    boost::asio::awaitable<HookResult> run_async_hooks(Phase phase, const StanzaEvent& ev) const;
    // Drops everything module `name` registered (its iq handlers, hooks, features,
    // identities, stream features and disco nodes). Not while stanzas are routed.
    void remove_module(std::string_view name);
    // The session hooks a module registered, or null (ModuleContext::set_session_hooks()).
    const SessionHooks* session_hooks() const {
        return session_hooks_owner_.empty() ? nullptr : &session_hooks_;
    }
    // The modules that registered anything, in start order.
    const std::vector<std::string>& module_names() const { return module_names_; }
    const std::vector<AckBarrier>& ack_barriers() const { return ack_barriers_; }

  private:
    friend class ModuleContext;
    struct Hook {
        int priority;
        std::string module;
        StanzaHook sync;
        DeliverHook async;
    };
    static constexpr std::size_t kinds = 3, targets = 4;
    static constexpr std::size_t slot(Phase p, StanzaKind k, TargetKind t) {
        return (static_cast<std::size_t>(p) * kinds + static_cast<std::size_t>(k)) * targets +
               static_cast<std::size_t>(t);
    }
    std::array<std::vector<Hook>, 5 * kinds * targets> hooks_;
    std::vector<std::string> module_names_;
    SessionHooks session_hooks_;
    std::string session_hooks_owner_;
    // Who registered what, parallel to the vectors below.
    std::vector<std::string> feature_owner_, identity_owner_, pre_auth_owner_, post_auth_owner_;
    std::vector<AckBarrier> ack_barriers_;
    std::vector<std::string> ack_barrier_owner_;
    std::map<std::string, std::string, std::less<>> disco_node_owner_;
    std::map<std::tuple<IqType, IqTarget, std::string>, Entry, std::less<>> iq_;
    bool has_child_handlers_ = false;
    std::vector<std::string> features_;
    std::vector<std::string> account_features_, account_feature_owner_;
    std::vector<Identity> identities_;
    std::vector<Identity> account_identities_;
    std::vector<std::string> account_identity_owner_;
    std::vector<xml::Element> pre_auth_features_, post_auth_features_;
    std::map<std::string, DiscoNode, std::less<>> disco_nodes_;
    mutable std::once_flag caps_once_;
    mutable std::string caps_ver_;
    mutable xml::Element caps_feature_;
};

class ModuleContext {
  public:
    ModuleContext(ServerContext& server, ModuleHost& host) : server_(server), host_(host) {}
    ServerContext& server() { return server_; }

    // Adds a disco#info feature of the server (XEP-0030).
    void add_feature(std::string_view ns);
    // Adds a disco#info feature of every account, shown to the account's own clients
    // (XEP-0313: the archive is the account's, not the server's).
    void add_account_feature(std::string_view ns);
    void add_identity(std::string category, std::string type, std::string name);
    void add_account_identity(std::string category, std::string type, std::string name);
    // Handles iq of `type` whose payload is in `ns`. `pre_auth` handlers may also run
    // before the client has authenticated (in-band registration).
    void on_iq(IqType type, IqTarget target, std::string_view ns, IqHandler handler,
               bool pre_auth = false);
    // Handles iq of `type` whose payload is in `ns` and holds one child in `child_ns`,
    // ahead of the handler for `ns`: one kind of private XML fragment (XEP-0049) that
    // another module keeps (bookmarks, XEP-0402 §5).
    void on_iq_child(IqType type, IqTarget target, std::string_view ns, std::string_view child_ns,
                     IqHandler handler);
    void add_stream_feature(StreamPhase phase, xml::Element feature);
    void add_disco_node(std::string node, DiscoNode handlers);
    // Hooks `handler` into a phase for the stanzas `route` names: "<kind>/<target>" with
    // kind message, presence, iq or * and target host, bare, full, domain (another
    // domain) or *. Throws std::invalid_argument for anything else. pre_route,
    // pre_deliver and post_deliver take a StanzaHook, deliver and route a DeliverHook.
    void on_stanza(Phase phase, std::string_view route, int priority, StanzaHook handler);
    void on_deliver(std::string_view route, int priority, DeliverHook handler);
    // Route hooks take presence only ("presence/<target>").
    void on_route(std::string_view route, int priority, DeliverHook handler);
    // The session hooks (one module only: a second throws std::logic_error).
    void set_session_hooks(SessionHooks hooks);
    void add_ack_barrier(AckBarrier barrier);

    // Everything registered from here on belongs to module `name` (the server calls this
    // before each module's start(); ModuleHost::remove_module undoes it).
    void begin_module(std::string name);

  private:
    void add_hook(Phase phase, std::string_view route, ModuleHost::Hook hook);
    ServerContext& server_;
    ModuleHost& host_;
    std::string module_;
};

// Every module compiled into hongyand, in start order.
std::vector<std::unique_ptr<Module>> all_modules();
// Every module's tables for storage backend `backend` (disabled modules' too: their data
// stays where it is), for storage::BackendOptions::schema.
std::vector<storage::SchemaPart> schema(std::string_view backend);
// Protocols implemented by the core (streams, TLS, SASL, binding) rather than a module.
std::vector<ProtocolSupport> core_protocols();
// docs/protocols.md table rows, generated from core_protocols() and every module.
std::string protocols_markdown();

}  // namespace hongyan::modules
