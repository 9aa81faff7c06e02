// XEP-0191 Blocking Command: the list, block and unblock with pushes to the resources that
// asked for the list, and presence to or from the blocked contact stopped or restored.
#include <algorithm>

#include "server/c2s/client_session.hpp"
#include "server/im/im.hpp"
#include "server/modules/module.hpp"
#include "server/server_context.hpp"
#include "server/storage/storage.hpp"
#include "xmpp/namespaces.hpp"

namespace hongyan::im {

namespace asio = boost::asio;

asio::awaitable<void> Im::blocklist_get(modules::IqRequest& iq) {
    const Jid& full = *iq.from;
    auto st = cache_.find(full.local());
    if (!st)
        st = co_await seq_.run({full.local()}, [this, u = full.local()] { return load_state(u); });
    server_.registry->update(full, iq.session.get(),
                             [](ResourceState& r) { r.blocklist_interested = true; });
    std::vector<std::string> jids;
    {
        std::lock_guard lock(st->mu);
        jids.assign(st->blocked.begin(), st->blocked.end());
    }
    std::sort(jids.begin(), jids.end());
    xml::Element list("blocklist", std::string(ns::blocking));
    for (const auto& j : jids) list.add_child("item", std::string(ns::blocking)).set_attr("jid", j);
    iq.reply(std::move(list));
}

asio::awaitable<void> Im::blocklist_set(modules::IqRequest& iq, bool block) {
    const Jid full = *iq.from;
    const std::string user = full.local();
    std::vector<std::string> jids;
    for (const auto* item : iq.payload().children()) {
        if (!item->is("item", ns::blocking)) continue;
        auto j = Jid::parse(item->attr("jid"));
        if (!j) {
            iq.error(StanzaErrorCondition::jid_malformed,
                     "'" + std::string(item->attr("jid")) + "' is not a valid JID");
            co_return;
        }
        jids.push_back(j->str());
    }
    // §3.3: a block names at least one JID; an empty unblock unblocks everyone.
    if (block && jids.empty()) {
        iq.error(StanzaErrorCondition::bad_request, "name at least one JID to block");
        co_return;
    }
    enum class R { ok, full };
    std::vector<std::string> changed;
    auto r = co_await seq_.run({user}, [this, user, jids, block, &changed] {
        auto st = load_state(user);
        std::vector<std::string> apply = jids;
        {
            std::lock_guard lock(st->mu);
            if (block) {
                std::erase_if(apply, [&](const auto& j) { return st->blocked.count(j) > 0; });
                if (st->blocked.size() + apply.size() > limits_.blocklist_max) return R::full;
            } else if (apply.empty()) {
                apply.assign(st->blocked.begin(), st->blocked.end());
            } else {
                std::erase_if(apply, [&](const auto& j) { return st->blocked.count(j) == 0; });
            }
        }
        // §3.3.3: presence stops before the block, and resumes after the unblock.
        if (block)
            for (const auto& j : apply)
                if (auto u = local_user(j); u && may_see(*st, *u)) send_unavailable(user, *u);
        if (block)
            storage_.blocklists().add(user, apply);
        else
            storage_.blocklists().remove(user, apply);
        {
            std::lock_guard lock(st->mu);
            for (const auto& j : apply) {
                if (block)
                    st->blocked.insert(j);
                else
                    st->blocked.erase(j);
            }
        }
        if (!block)
            for (const auto& j : apply)
                if (auto u = local_user(j); u && may_see(*st, *u)) send_current_presence(user, *u);
        changed = std::move(apply);
        return R::ok;
    });
    if (r == R::full) {
        iq.error(StanzaErrorCondition::not_acceptable,
                 "the blocklist is full (" + std::to_string(limits_.blocklist_max) + " JIDs)");
        co_return;
    }
    iq.reply();
    // §3.3.2, §3.4.2: every resource that asked for the list hears of the change; an
    // unblock of everything is pushed as an empty <unblock/>.
    xml::Element push("iq", std::string(ns::client));
    push.set_attr("type", "set");
    push.set_attr("id", "push-block-" + std::to_string(push_id_.fetch_add(1)));
    auto& body = push.add_child(block ? "block" : "unblock", std::string(ns::blocking));
    if (!(iq.payload().children().empty() && !block))
        for (const auto& j : changed)
            body.add_child("item", std::string(ns::blocking)).set_attr("jid", j);
    if (!changed.empty() || !block) send_to_interested(user, push.to_string(ns::client), true);
}

bool Im::may_see(const UserState& st, const std::string& viewer) const {
    std::lock_guard lock(st.mu);
    return may_see_locked(st, viewer);
}

}  // namespace hongyan::im
