// The module interface: every feature (XEP) is a Module that registers its handlers, disco
// features and stream features with a ModuleContext when the server starts.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <tuple>
#include <vector>

#include "xmpp/jid.hpp"
#include "xmpp/stanza_error.hpp"
#include "xmpp/xml.hpp"

namespace hongyan {
struct ServerContext;
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

// One iq request handed to a module, with helpers to answer it.
struct IqRequest {
    ServerContext& server;
    std::shared_ptr<c2s::ClientSession> session;  // the local client that sent it
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
};

using IqHandler = std::function<boost::asio::awaitable<void>(IqRequest&)>;

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
    virtual void start(ModuleContext& ctx) = 0;
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
    };
    const Entry* find_iq(IqType type, IqTarget target, std::string_view ns) const;
    const std::vector<std::string>& features() const { return features_; }
    const std::vector<Identity>& identities() const { return identities_; }
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

  private:
    friend class ModuleContext;
    std::map<std::tuple<IqType, IqTarget, std::string>, Entry, std::less<>> iq_;
    std::vector<std::string> features_;
    std::vector<Identity> identities_;
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
    void add_identity(std::string category, std::string type, std::string name);
    // Handles iq of `type` whose payload is in `ns`. `pre_auth` handlers may also run
    // before the client has authenticated (in-band registration).
    void on_iq(IqType type, IqTarget target, std::string_view ns, IqHandler handler,
               bool pre_auth = false);
    void add_stream_feature(StreamPhase phase, xml::Element feature);
    void add_disco_node(std::string node, DiscoNode handlers);

  private:
    ServerContext& server_;
    ModuleHost& host_;
};

// Every module compiled into hongyand, in start order.
std::vector<std::unique_ptr<Module>> all_modules();
// Protocols implemented by the core (streams, TLS, SASL, binding) rather than a module.
std::vector<ProtocolSupport> core_protocols();
// docs/protocols.md table rows, generated from core_protocols() and every module.
std::string protocols_markdown();

}  // namespace hongyan::modules
