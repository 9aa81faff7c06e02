// XEP-0191 Blocking Command in the IM core: the blocklists in memory, block and unblock with
// presence to or from the blocked contact stopped or restored. The blocking module speaks
// the protocol and enforces the lists on stanzas (modules/blocking).
#include <algorithm>

#include "server/c2s/client_session.hpp"
#include "server/im/im.hpp"
#include "server/server_context.hpp"
#include "server/storage/storage.hpp"
#include "xmpp/namespaces.hpp"

namespace hongyan::im {

namespace asio = boost::asio;

asio::awaitable<std::vector<std::string>> Im::blocklist(Jid full, const SessionRoute* session) {
    const std::string user = full.local();
    auto st = cache_.find(user);
    if (!st) st = co_await seq_.run({user}, [this, user] { return load_state(user); });
    server_.registry->update(full, session,
                             [](ResourceState& r) { r.blocklist_interested = true; });
    std::vector<std::string> jids;
    {
        std::lock_guard lock(st->mu);
        jids.assign(st->blocked.begin(), st->blocked.end());
    }
    std::sort(jids.begin(), jids.end());
    co_return jids;
}

asio::awaitable<BlocklistChange> Im::change_blocklist(std::string user,
                                                      std::vector<std::string> jids, bool block) {
    co_return co_await seq_.run({user}, [this, user, jids, block] {
        BlocklistChange out;
        auto st = load_state(user);
        std::vector<std::string> apply = jids;
        {
            std::lock_guard lock(st->mu);
            if (block) {
                std::erase_if(apply, [&](const auto& j) { return st->blocked.count(j) > 0; });
                if (st->blocked.size() + apply.size() > limits_.blocklist_max) {
                    out.full = true;
                    return out;
                }
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
        out.changed = std::move(apply);
        return out;
    });
}

bool Im::may_see(const UserState& st, const std::string& viewer) const {
    std::lock_guard lock(st.mu);
    return may_see_locked(st, viewer);
}

}  // namespace hongyan::im
