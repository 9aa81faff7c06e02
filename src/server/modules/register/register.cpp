// XEP-0077: In-Band Registration. Before authentication: create an account. After it:
// change the password, or cancel the registration (which deletes the account).
#include <spdlog/spdlog.h>

#include <boost/asio/post.hpp>

#include "server/c2s/client_session.hpp"
#include "server/im/im.hpp"
#include "server/modules/module.hpp"
#include "server/router/session_registry.hpp"
#include "server/sasl/sasl_server.hpp"
#include "server/server_context.hpp"
#include "server/storage/storage.hpp"
#include "server/storage/storage_error.hpp"
#include "xmpp/namespaces.hpp"

namespace hongyan::modules {

namespace {

using boost::asio::awaitable;
using xml::Element;

bool is_loopback(const std::string& ip) {
    return ip.rfind("127.", 0) == 0 || ip == "::1";
}

Element registration_form(const std::string& domain) {
    Element q("query", std::string(ns::register_));
    q.add_child("instructions", std::string(ns::register_))
        .add_text("Choose a username and password to register with " + domain + ".");
    q.add_child("username", std::string(ns::register_));
    q.add_child("password", std::string(ns::register_));
    return q;
}

class RegisterModule final : public Module {
  public:
    std::string_view name() const override { return "register"; }
    std::vector<ProtocolSupport> protocols() const override {
        return {{"XEP-0077", "In-Band Registration", "2.4", "complete",
                 "register, change password, cancel; policy open/localhost/closed; per-IP "
                 "hourly limit; data forms: planned"}};
    }

    void start(ModuleContext& ctx) override {
        // Advertised when any host takes registrations (the stream's host is not known
        // when features are built once at start); a closed host refuses each request.
        const auto& hosts = ctx.server().hosts;
        if (std::any_of(hosts.begin(), hosts.end(),
                        [](const auto& h) { return h->register_policy != "closed"; })) {
            ctx.add_stream_feature(StreamPhase::pre_auth,
                                   Element("register", std::string(ns::register_feature)));
        }
        ctx.add_feature(ns::register_);
        auto get = [](IqRequest& iq) -> awaitable<void> {
            if (!iq.session) co_return for_clients_only(iq);
            if (iq.from && iq.from->domain() != iq.host.domain) co_return other_host(iq);
            if (!iq.from) {
                if (iq.host.register_policy == "closed") {
                    iq.error(StanzaErrorCondition::service_unavailable,
                             "registration is closed on this server");
                    co_return;
                }
                iq.reply(registration_form(iq.host.domain));
                co_return;
            }
            // XEP-0077 §3.1: an authenticated user is already registered.
            Element q("query", std::string(ns::register_));
            q.add_child("registered", std::string(ns::register_));
            q.add_child("username", std::string(ns::register_)).add_text(iq.from->local());
            q.add_child("password", std::string(ns::register_));
            iq.reply(std::move(q));
        };
        auto set = [](IqRequest& iq) -> awaitable<void> {
            if (!iq.session) co_return for_clients_only(iq);
            if (iq.from && iq.from->domain() != iq.host.domain) co_return other_host(iq);
            if (!iq.from) {
                co_await create_account(iq);
            } else if (iq.payload().child("remove", ns::register_)) {
                co_await cancel_account(iq);
            } else {
                co_await change_password(iq);
            }
        };
        ctx.on_iq(IqType::get, IqTarget::host, ns::register_, get, /*pre_auth=*/true);
        ctx.on_iq(IqType::set, IqTarget::host, ns::register_, set, /*pre_auth=*/true);
        ctx.on_iq(IqType::get, IqTarget::account, ns::register_, get);
        ctx.on_iq(IqType::set, IqTarget::account, ns::register_, set);
    }

  private:
    // A request from a route (a component) has no account to register or change.
    static void for_clients_only(IqRequest& iq) {
        iq.error(StanzaErrorCondition::service_unavailable,
                 "in-band registration is for this server's clients");
    }
    // A user of one host asking another host of this server about an account there.
    static void other_host(IqRequest& iq) {
        iq.error(StanzaErrorCondition::not_allowed,
                 "your account is at " + iq.from->domain() + ", not at " + iq.host.domain);
    }
    static awaitable<void> create_account(IqRequest& iq) {
        ServerContext& server = iq.server;
        Host& host = iq.host;
        const Host& s = host;
        const std::string& ip = iq.session->ip();
        if (s.register_policy == "closed" ||
            (s.register_policy == "localhost" && !is_loopback(ip))) {
            iq.error(StanzaErrorCondition::not_allowed,
                     s.register_policy == "closed"
                         ? "registration is closed on this server"
                         : "registration is only allowed from the server's own machine");
            co_return;
        }
        const Element& q = iq.payload();
        std::string raw_user = q.child_text("username", ns::register_);
        std::string password = q.child_text("password", ns::register_);
        if (raw_user.empty() || password.empty()) {
            iq.error(StanzaErrorCondition::not_acceptable, "username and password are required");
            co_return;
        }
        auto user = jid::nodeprep(raw_user);
        if (!user) {
            iq.error(StanzaErrorCondition::jid_malformed, "the username is not valid in a JID");
            co_return;
        }
        if (password.size() < s.min_password_length) {
            iq.error(StanzaErrorCondition::not_acceptable,
                     "the password must have at least " + std::to_string(s.min_password_length) +
                         " characters");
            co_return;
        }
        if (server.registrations_ip.exceeded(ip)) {
            iq.error(StanzaErrorCondition::resource_constraint,
                     "too many registrations from your address; try again later");
            co_return;
        }
        bool created = false;
        try {
            auto creds = co_await sasl::hash_new_password(server, password);
            // A deletion of this name (by hongyanctl, say) reaches the rosters first.
            co_await host.im->sync_directory();
            created = co_await host.storage->run([&host, user = *user, creds] {
                auto& store = host.storage->accounts();
                if (store.exists(user)) return false;
                return store.create(user, creds);
            });
        } catch (const std::exception& e) {
            spdlog::error("registration of {} failed: {}", *user, e.what());
            iq.error(StanzaErrorCondition::internal_server_error, storage::storage_failure_text(e));
            co_return;
        }
        if (!created) {
            iq.error(StanzaErrorCondition::conflict, "that username is taken");
            co_return;
        }
        server.registrations_ip.add(ip);
        host.im->poke();  // the new account reaches shared rosters now
        spdlog::info("registered {}@{} from {}", *user, s.domain, ip);
        iq.reply();
    }

    static awaitable<void> change_password(IqRequest& iq) {
        ServerContext& server = iq.server;
        const Element& q = iq.payload();
        std::string raw_user = q.child_text("username", ns::register_);
        std::string password = q.child_text("password", ns::register_);
        if (raw_user.empty() || !q.child("password", ns::register_)) {
            iq.error(StanzaErrorCondition::bad_request, "username and password are required");
            co_return;
        }
        auto user = jid::nodeprep(raw_user);
        if (!user || *user != iq.from->local()) {
            iq.error(StanzaErrorCondition::not_allowed, "you can only change your own password");
            co_return;
        }
        // XEP-0077 §3.3: an empty password never replaces the existing one.
        if (password.size() < iq.host.min_password_length) {
            iq.error(StanzaErrorCondition::not_acceptable,
                     "the password must have at least " +
                         std::to_string(iq.host.min_password_length) + " characters");
            co_return;
        }
        auto creds = co_await sasl::hash_new_password(server, password);
        bool ok =
            co_await iq.host.storage->run([&store = iq.host.storage->accounts(), user = *user,
                                           creds] { return store.set_credentials(user, creds); });
        if (!ok) {
            iq.error(StanzaErrorCondition::item_not_found, "no such account");
            co_return;
        }
        spdlog::info("password changed for {}", iq.from->bare_str());
        iq.reply();
    }

    static awaitable<void> cancel_account(IqRequest& iq) {
        ServerContext& server = iq.server;
        const Element& q = iq.payload();
        if (q.children().size() != 1) {
            iq.error(StanzaErrorCondition::bad_request, "<remove/> must be the only child");
            co_return;
        }
        std::string user = iq.from->local();
        co_await iq.host.storage->run([&st = *iq.host.storage, user, bare = iq.from->bare_str()] {
            return st.delete_account(user, bare);
        });
        // The result first (§3.2): the poke lets the directory feed, on another thread, end
        // this very session, and a reply queued after that would be dropped.
        iq.reply();
        iq.host.im->poke();
        spdlog::info("account {} cancelled by its owner", iq.from->bare_str());
        // XEP-0077 §3.2: end every session of the account with <not-authorized/>.
        for (auto& s : server.registry->find_bare(iq.from->bare()))
            s->terminate(StreamErrorCondition::not_authorized, "the account was deleted");
    }
};

}  // namespace

std::unique_ptr<Module> make_register_module() {
    return std::make_unique<RegisterModule>();
}

}  // namespace hongyan::modules
