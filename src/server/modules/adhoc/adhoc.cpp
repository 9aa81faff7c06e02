// XEP-0050 Ad-Hoc Commands with the service-administration commands of XEP-0133, for the
// accounts listed in server.admins: add and delete users, change a password, list
// registered and online users, send an announcement. Any client with ad-hoc support
// (Gajim, Psi, Profanity's /cmd) drives them.
#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <mutex>
#include <unordered_map>

#include "server/im/im.hpp"
#include "server/modules/module.hpp"
#include "server/router/router.hpp"
#include "server/router/session_registry.hpp"
#include "server/sasl/sasl_server.hpp"
#include "server/server_context.hpp"
#include "server/storage/storage.hpp"
#include "xmpp/crypto.hpp"
#include "xmpp/data_form.hpp"
#include "xmpp/namespaces.hpp"

namespace hongyan::modules {

namespace {
using boost::asio::awaitable;
using Values = std::map<std::string, std::vector<std::string>>;

constexpr std::string_view kAdmin = "http://jabber.org/protocol/admin";

// What a command did: a note for the admin, an optional result form, or an error.
struct Done {
    std::string note;
    std::optional<xml::Element> form;
    std::optional<StanzaError> error;
};

struct Command {
    std::string node;  // XEP-0133 §4 node
    std::string name;
    std::vector<forms::Field> fields;  // empty: runs at once, no form
    std::function<awaitable<Done>(IqRequest&, const Values&)> run;
};

Done fail(StanzaErrorCondition c, std::string text) {
    return Done{{}, std::nullopt, StanzaError{c, std::move(text), {}}};
}

class AdhocModule final : public Module {
  public:
    std::string_view name() const override { return "adhoc"; }
    std::vector<ProtocolSupport> protocols() const override {
        return {{"XEP-0050", "Ad-Hoc Commands", "1.3.0", "complete",
                 "execute, complete, cancel; sessions expire after 10 minutes"},
                {"XEP-0133", "Service Administration", "1.3.0", "partial",
                 "add-user, delete-user, change-user-password, get-registered-users-list, "
                 "get-online-users-list, announce; for the JIDs in server.admins"}};
    }
    void start(ModuleContext& ctx) override {
        ServerContext& server = ctx.server();
        for (const auto& a : server.config.list("server.admins"))
            if (auto j = Jid::parse(a)) admins_.push_back(j->bare_str());
        define_commands();
        ctx.add_feature(ns::commands);
        // XEP-0050 §2.2: the command list is a disco node; non-admins see an empty one.
        ctx.add_disco_node(std::string(ns::commands),
                           DiscoNode{[this](const IqRequest& iq) {
                                         std::vector<xml::Element> out;
                                         if (!is_admin(iq)) return out;
                                         for (const auto& c : commands_) {
                                             xml::Element item("item",
                                                               std::string(ns::disco_items));
                                             item.set_attr("jid", iq.host.domain);
                                             item.set_attr("node", c.node);
                                             item.set_attr("name", c.name);
                                             out.push_back(std::move(item));
                                         }
                                         return out;
                                     },
                                     {}});
        for (const auto& c : commands_) {
            ctx.add_disco_node(
                c.node, DiscoNode{{}, [name = c.name](const IqRequest&) {
                                      // XEP-0050 §2.3
                                      std::vector<xml::Element> out;
                                      xml::Element id("identity", std::string(ns::disco_info));
                                      id.set_attr("category", "automation");
                                      id.set_attr("type", "command-node");
                                      id.set_attr("name", name);
                                      out.push_back(std::move(id));
                                      for (auto f : {ns::commands, ns::data_forms}) {
                                          xml::Element fe("feature", std::string(ns::disco_info));
                                          fe.set_attr("var", f);
                                          out.push_back(std::move(fe));
                                      }
                                      return out;
                                  }});
        }
        ctx.on_iq(IqType::set, IqTarget::host, ns::commands,
                  [this](IqRequest& iq) { return execute(iq); });
    }

  private:
    std::vector<std::string> admins_;
    std::vector<Command> commands_;
    struct Session {
        std::string node, owner;
        std::chrono::steady_clock::time_point started;
    };
    std::mutex mu_;
    std::unordered_map<std::string, Session> sessions_;

    bool is_admin(const IqRequest& iq) const {
        return iq.from &&
               std::find(admins_.begin(), admins_.end(), iq.from->bare_str()) != admins_.end();
    }

    static std::optional<std::string> local_account(const std::string& raw,
                                                    const std::string& domain) {
        auto j = Jid::parse(raw);
        if (!j || j->domain() != domain || j->local().empty() || !j->is_bare()) return std::nullopt;
        return j->local();
    }

    // Each command acts on the host it was sent to (iq.host).
    void define_commands() {
        std::string a(kAdmin);
        commands_.push_back(
            {a + "#add-user",
             "Add a user",
             {{"accountjid", "jid-single", "The Jabber ID for the account to be added", {}, true},
              {"password", "text-private", "The password for this account", {}, true},
              {"password-verify", "text-private", "Retype password", {}, true}},
             [](IqRequest& iq, const Values& v) -> awaitable<Done> {
                 const std::string& domain = iq.host.domain;
                 auto user = local_account(forms::value(v, "accountjid"), domain);
                 if (!user)
                     co_return fail(StanzaErrorCondition::bad_request,
                                    "accountjid must be user@" + domain);
                 std::string pw = forms::value(v, "password");
                 if (pw != forms::value(v, "password-verify"))
                     co_return fail(StanzaErrorCondition::not_acceptable, "the passwords differ");
                 if (pw.size() < iq.host.min_password_length)
                     co_return fail(StanzaErrorCondition::not_acceptable,
                                    "the password must have at least " +
                                        std::to_string(iq.host.min_password_length) +
                                        " characters");
                 auto& st = *iq.host.storage;
                 auto creds = co_await sasl::hash_new_password(iq.server, pw);
                 co_await iq.host.im->sync_directory();
                 bool created = co_await st.run([&st, u = *user, creds] {
                     if (st.accounts().exists(u)) return false;
                     return st.accounts().create(u, creds);
                 });
                 if (!created)
                     co_return fail(StanzaErrorCondition::conflict, "that account exists");
                 iq.host.im->poke();
                 spdlog::info("admin {} added {}@{}", iq.from->bare_str(), *user, domain);
                 co_return Done{"added " + *user + "@" + domain, std::nullopt, std::nullopt};
             }});
        commands_.push_back({a + "#delete-user",
                             "Delete users",
                             {{"accountjids", "jid-multi", "The Jabber ID(s) to delete", {}, true}},
                             [](IqRequest& iq, const Values& v) -> awaitable<Done> {
                                 const std::string& domain = iq.host.domain;
                                 auto it = v.find("accountjids");
                                 if (it == v.end() || it->second.empty())
                                     co_return fail(StanzaErrorCondition::bad_request,
                                                    "name at least one account");
                                 std::vector<std::string> users;
                                 for (const auto& raw : it->second) {
                                     auto u = local_account(raw, domain);
                                     if (!u)
                                         co_return fail(StanzaErrorCondition::bad_request,
                                                        "'" + raw + "' is not a local account");
                                     users.push_back(*u);
                                 }
                                 auto& st = *iq.host.storage;
                                 auto missing = co_await st.run([&st, users, domain] {
                                     std::vector<std::string> m;
                                     for (const auto& u : users)
                                         if (!st.delete_account(u, u + "@" + domain))
                                             m.push_back(u);
                                     return m;
                                 });
                                 iq.host.im->poke();  // sessions end and rosters learn of it
                                 spdlog::info("admin {} deleted {} account(s)", iq.from->bare_str(),
                                              users.size() - missing.size());
                                 if (!missing.empty())
                                     co_return fail(StanzaErrorCondition::item_not_found,
                                                    "no account " + missing.front() + "@" + domain);
                                 co_return Done{"deleted", std::nullopt, std::nullopt};
                             }});
        commands_.push_back(
            {a + "#change-user-password",
             "Change a user's password",
             {{"accountjid", "jid-single", "The Jabber ID for this account", {}, true},
              {"password", "text-private", "The password for this account", {}, true}},
             [](IqRequest& iq, const Values& v) -> awaitable<Done> {
                 const std::string& domain = iq.host.domain;
                 auto user = local_account(forms::value(v, "accountjid"), domain);
                 if (!user)
                     co_return fail(StanzaErrorCondition::bad_request,
                                    "accountjid must be user@" + domain);
                 std::string pw = forms::value(v, "password");
                 if (pw.size() < iq.host.min_password_length)
                     co_return fail(StanzaErrorCondition::not_acceptable,
                                    "the password is too short");
                 auto& st = *iq.host.storage;
                 auto creds = co_await sasl::hash_new_password(iq.server, pw);
                 bool ok = co_await st.run(
                     [&st, u = *user, creds] { return st.accounts().set_credentials(u, creds); });
                 if (!ok) co_return fail(StanzaErrorCondition::item_not_found, "no such account");
                 co_return Done{"password changed", std::nullopt, std::nullopt};
             }});
        commands_.push_back(
            {a + "#get-registered-users-list",
             "Get list of registered users",
             {},
             [](IqRequest& iq, const Values&) -> awaitable<Done> {
                 const std::string& domain = iq.host.domain;
                 auto& st = *iq.host.storage;
                 auto users = co_await st.run([&st] { return st.accounts().list(); });
                 for (auto& u : users) u += "@" + domain;
                 co_return Done{{},
                                forms::make("result", kAdmin, "Registered users", {},
                                            {{"registereduserjids", "jid-multi",
                                              "The list of all users", users, false}}),
                                std::nullopt};
             }});
        commands_.push_back(
            {a + "#get-online-users-list",
             "Get list of online users",
             {},
             [](IqRequest& iq, const Values&) -> awaitable<Done> {
                 auto users = iq.server.registry->bound_users();
                 const std::string at = "@" + iq.host.domain;
                 std::erase_if(users, [&](const std::string& u) { return !u.ends_with(at); });
                 std::sort(users.begin(), users.end());
                 co_return Done{{},
                                forms::make("result", kAdmin, "Online users", {},
                                            {{"onlineuserjids", "jid-multi",
                                              "The list of all online users", users, false}}),
                                std::nullopt};
             }});
        commands_.push_back({a + "#announce",
                             "Send announcement to online users",
                             {{"subject", "text-single", "Subject", {}, false},
                              {"announcement", "text-multi", "Announcement", {}, true}},
                             [](IqRequest& iq, const Values& v) -> awaitable<Done> {
                                 const std::string& domain = iq.host.domain;
                                 std::string body;
                                 if (auto it = v.find("announcement"); it != v.end())
                                     for (std::size_t i = 0; i < it->second.size(); ++i)
                                         body += (i ? "\n" : "") + it->second[i];
                                 if (body.empty())
                                     co_return fail(StanzaErrorCondition::not_acceptable,
                                                    "the announcement is empty");
                                 xml::Element m("message", std::string(ns::client));
                                 m.set_attr("from", domain);
                                 m.set_attr("type", "headline");
                                 if (auto s = forms::value(v, "subject"); !s.empty())
                                     m.add_child("subject", std::string(ns::client)).add_text(s);
                                 m.add_child("body", std::string(ns::client)).add_text(body);
                                 std::string bytes = m.to_string(ns::client);
                                 std::size_t n = 0;
                                 const std::string at = "@" + domain;
                                 for (const auto& bare : iq.server.registry->available_users())
                                     for (const auto& r : iq.server.registry->resources(bare))
                                         if (r.state.available && bare.ends_with(at)) {
                                             r.session->deliver(bytes);
                                             ++n;
                                         }
                                 co_return Done{"sent to " + std::to_string(n) + " resources",
                                                std::nullopt, std::nullopt};
                             }});
    }

    awaitable<void> execute(IqRequest& iq) {
        const auto& cmd = iq.payload();
        if (cmd.name() != "command") {
            iq.error(StanzaErrorCondition::bad_request, "expected <command/>");
            co_return;
        }
        std::string node(cmd.attr("node"));
        auto c = std::find_if(commands_.begin(), commands_.end(),
                              [&](const Command& x) { return x.node == node; });
        if (c == commands_.end()) {
            iq.error(StanzaErrorCondition::item_not_found, "no such command");
            co_return;
        }
        if (!is_admin(iq)) {
            // XEP-0050 §4.6: not authorised for this command.
            iq.error(StanzaErrorCondition::forbidden, "only server.admins may run this command");
            co_return;
        }
        std::string action(cmd.attr("action"));
        if (action.empty()) action = "execute";
        std::string sid(cmd.attr("sessionid"));
        const auto* form = forms::find(cmd);
        const bool submitted = form && form->attr("type") == "submit";
        {
            std::lock_guard lock(mu_);
            auto now = std::chrono::steady_clock::now();
            std::erase_if(sessions_, [&](const auto& kv) {
                return now - kv.second.started > std::chrono::minutes(10);
            });
            if (!sid.empty()) {
                auto it = sessions_.find(sid);
                if (it == sessions_.end() || it->second.node != node ||
                    it->second.owner != iq.from->str()) {
                    // XEP-0050 §4.6
                    iq.error(StanzaError{StanzaErrorCondition::bad_request, "unknown session", {}},
                             xml::Element("bad-sessionid", std::string(ns::commands)));
                    co_return;
                }
                if (action == "cancel" || submitted || action == "complete") sessions_.erase(it);
            }
        }
        xml::Element out("command", std::string(ns::commands));
        out.set_attr("node", node);
        if (action == "cancel") {
            out.set_attr("sessionid", sid);
            out.set_attr("status", "canceled");
            iq.reply(std::move(out));
            co_return;
        }
        if (!c->fields.empty() && !submitted) {
            // First stage: the form to fill in.
            if (sid.empty()) {
                sid = crypto::random_token(16);
                std::lock_guard lock(mu_);
                if (sessions_.size() >= 1000) sessions_.clear();
                sessions_[sid] = Session{node, iq.from->str(), std::chrono::steady_clock::now()};
            }
            out.set_attr("sessionid", sid);
            out.set_attr("status", "executing");
            auto& actions = out.add_child("actions", std::string(ns::commands));
            actions.set_attr("execute", "complete");
            actions.add_child("complete", std::string(ns::commands));
            out.add_child(forms::make("form", kAdmin, c->name, {}, c->fields));
            iq.reply(std::move(out));
            co_return;
        }
        Done d = co_await c->run(iq, forms::values(form));
        if (d.error) {
            iq.error(*d.error);
            co_return;
        }
        if (sid.empty()) sid = crypto::random_token(16);
        out.set_attr("sessionid", sid);
        out.set_attr("status", "completed");
        if (!d.note.empty()) {
            auto& note = out.add_child("note", std::string(ns::commands));
            note.set_attr("type", "info");
            note.add_text(d.note);
        }
        if (d.form) out.add_child(std::move(*d.form));
        iq.reply(std::move(out));
    }
};
}  // namespace

std::unique_ptr<Module> make_adhoc_module() {
    return std::make_unique<AdhocModule>();
}

}  // namespace hongyan::modules
