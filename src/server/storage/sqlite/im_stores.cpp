#include "server/storage/sqlite/im_stores.hpp"

namespace hongyan::storage::sqlite {

std::vector<RosterItem> SqliteRosterStore::load(const std::string& user) {
    auto lock = db_.lock();
    Statement st(db_.handle(),
                 "SELECT jid, name, groups, state, listed, removed, ver, request FROM "
                 "roster_items WHERE username = ? AND jid != ''");
    st.bind(1, user);
    std::vector<RosterItem> out;
    while (st.step()) {
        RosterItem it;
        it.jid = st.text(0);
        it.name = st.text(1);
        it.groups = split_groups(st.text(2));
        it.sub = SubState::from_bits(static_cast<int>(st.integer(3)));
        it.listed = st.integer(4) != 0;
        it.removed = st.integer(5) != 0;
        it.ver = st.integer(6);
        it.request = st.text(7);
        out.push_back(std::move(it));
    }
    return out;
}

void SqliteRosterStore::put(const std::string& user, const RosterItem& it) {
    auto lock = db_.lock();
    Statement st(db_.handle(),
                 "INSERT OR REPLACE INTO roster_items (username, jid, name, groups, state, listed, "
                 "removed, ver, request) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)");
    st.bind(1, user).bind(2, it.jid).bind(3, it.name).bind(4, join_groups(it.groups));
    st.bind(5, std::int64_t{it.sub.bits()}).bind(6, std::int64_t{it.listed ? 1 : 0});
    st.bind(7, std::int64_t{it.removed ? 1 : 0}).bind(8, it.ver).bind(9, it.request);
    st.step();
}

// The row with an empty JID (never a valid contact) records how far removals were
// forgotten.
void SqliteRosterStore::forget_removed(const std::string& user, std::int64_t ver) {
    auto lock = db_.lock();
    db_.transaction([&] {
        Statement del(db_.handle(),
                      "DELETE FROM roster_items WHERE username = ? AND removed = 1 AND ver < ? "
                      "AND jid != ''");
        del.bind(1, user).bind(2, ver);
        del.step();
        Statement mark(db_.handle(),
                       "INSERT OR REPLACE INTO roster_items (username, jid, name, groups, state, "
                       "listed, removed, ver, request) VALUES (?, '', '', '', 0, 0, 1, ?, '')");
        mark.bind(1, user).bind(2, ver);
        mark.step();
    });
}

std::int64_t SqliteRosterStore::forgotten_below(const std::string& user) {
    auto lock = db_.lock();
    Statement st(db_.handle(), "SELECT ver FROM roster_items WHERE username = ? AND jid = ''");
    st.bind(1, user);
    return st.step() ? st.integer(0) : 0;
}

std::vector<std::string> SqliteRosterStore::remove_contact(const std::string& jid) {
    auto lock = db_.lock();
    std::vector<std::string> users;
    {
        Statement st(db_.handle(),
                     "SELECT username FROM roster_items WHERE jid = ? AND removed = 0");
        st.bind(1, jid);
        while (st.step()) users.push_back(st.text(0));
    }
    Statement tomb(db_.handle(),
                   "UPDATE roster_items SET name = '', groups = '', state = 0, listed = 0, "
                   "removed = 1, request = '', ver = (SELECT MAX(ver) FROM roster_items r "
                   "WHERE r.username = roster_items.username) + 1 WHERE username = ? AND jid = ?");
    for (const auto& u : users) {
        tomb.bind(1, u).bind(2, jid);
        tomb.step();
        tomb.reset();
    }
    return users;
}

std::size_t SqliteOfflineStore::count(const std::string& user) {
    auto lock = db_.lock();
    Statement st(db_.handle(), "SELECT COUNT(*) FROM offline_messages WHERE username = ?");
    st.bind(1, user);
    st.step();
    return static_cast<std::size_t>(st.integer(0));
}

bool SqliteOfflineStore::add(const std::string& user, const std::string& stanza, std::size_t limit,
                             std::size_t max_bytes) {
    auto lock = db_.lock();
    {
        Statement st(db_.handle(),
                     "SELECT COUNT(*), COALESCE(SUM(LENGTH(CAST(stanza AS BLOB))), 0) "
                     "FROM offline_messages WHERE username = ?");
        st.bind(1, user);
        st.step();
        const auto n = static_cast<std::size_t>(st.integer(0));
        const auto bytes = static_cast<std::size_t>(st.integer(1));
        if (n >= limit || stanza.size() > max_bytes || bytes > max_bytes - stanza.size())
            return false;
    }
    Statement st(db_.handle(), "INSERT INTO offline_messages (username, stanza) VALUES (?, ?)");
    st.bind(1, user).bind(2, stanza);
    st.step();
    return true;
}

std::vector<OfflineMessage> SqliteOfflineStore::load(const std::string& user) {
    auto lock = db_.lock();
    Statement st(db_.handle(),
                 "SELECT id, stanza FROM offline_messages WHERE username = ? ORDER BY id");
    st.bind(1, user);
    std::vector<OfflineMessage> out;
    while (st.step()) out.push_back(OfflineMessage{st.integer(0), st.text(1)});
    return out;
}

std::vector<OfflineMessage> SqliteOfflineStore::load_after(const std::string& user,
                                                           std::int64_t after_id,
                                                           std::size_t limit) {
    auto lock = db_.lock();
    Statement st(db_.handle(),
                 "SELECT id, stanza FROM offline_messages WHERE username = ? AND id > ? "
                 "ORDER BY id LIMIT ?");
    st.bind(1, user).bind(2, after_id).bind(3, static_cast<std::int64_t>(limit));
    std::vector<OfflineMessage> out;
    while (st.step()) out.push_back(OfflineMessage{st.integer(0), st.text(1)});
    return out;
}

void SqliteOfflineStore::remove(const std::string& user, const std::vector<std::int64_t>& ids) {
    auto lock = db_.lock();
    db_.transaction([&] {
        Statement st(db_.handle(), "DELETE FROM offline_messages WHERE username = ? AND id = ?");
        for (auto id : ids) {
            st.bind(1, user).bind(2, id);
            st.step();
            st.reset();
        }
    });
}

std::vector<std::string> SqliteBlocklistStore::load(const std::string& user) {
    auto lock = db_.lock();
    Statement st(db_.handle(), "SELECT jid FROM blocklist WHERE username = ? ORDER BY jid");
    st.bind(1, user);
    std::vector<std::string> out;
    while (st.step()) out.push_back(st.text(0));
    return out;
}

void SqliteBlocklistStore::add(const std::string& user, const std::vector<std::string>& jids) {
    auto lock = db_.lock();
    db_.transaction([&] {
        Statement st(db_.handle(), "INSERT OR IGNORE INTO blocklist (username, jid) VALUES (?, ?)");
        for (const auto& j : jids) {
            st.bind(1, user).bind(2, j);
            st.step();
            st.reset();
        }
    });
}

void SqliteBlocklistStore::remove(const std::string& user, const std::vector<std::string>& jids) {
    auto lock = db_.lock();
    if (jids.empty()) {
        Statement st(db_.handle(), "DELETE FROM blocklist WHERE username = ?");
        st.bind(1, user);
        st.step();
        return;
    }
    db_.transaction([&] {
        Statement st(db_.handle(), "DELETE FROM blocklist WHERE username = ? AND jid = ?");
        for (const auto& j : jids) {
            st.bind(1, user).bind(2, j);
            st.step();
            st.reset();
        }
    });
}

std::optional<std::string> SqliteXmlStore::get(const std::string& user, const std::string& key) {
    auto lock = db_.lock();
    Statement st(db_.handle(), "SELECT xml FROM " + table_ + " WHERE username = ? AND key = ?");
    st.bind(1, user).bind(2, key);
    if (!st.step()) return std::nullopt;
    return st.text(0);
}

void SqliteXmlStore::set(const std::string& user, const std::string& key, const std::string& xml) {
    auto lock = db_.lock();
    if (xml.empty()) {
        Statement st(db_.handle(), "DELETE FROM " + table_ + " WHERE username = ? AND key = ?");
        st.bind(1, user).bind(2, key);
        st.step();
        return;
    }
    Statement st(db_.handle(),
                 "INSERT OR REPLACE INTO " + table_ + " (username, key, xml) VALUES (?, ?, ?)");
    st.bind(1, user).bind(2, key).bind(3, xml);
    st.step();
}

std::vector<std::pair<std::string, std::string>> SqliteXmlStore::all(const std::string& key) {
    auto lock = db_.lock();
    Statement st(db_.handle(), "SELECT username, xml FROM " + table_ + " WHERE key = ?");
    st.bind(1, key);
    std::vector<std::pair<std::string, std::string>> out;
    while (st.step()) out.emplace_back(st.text(0), st.text(1));
    return out;
}

std::vector<SharedGroup> SqliteDirectoryStore::groups() {
    auto lock = db_.lock();
    std::vector<SharedGroup> out;
    Statement st(db_.handle(), "SELECT name, display FROM shared_groups ORDER BY name");
    while (st.step()) out.push_back(SharedGroup{st.text(0), st.text(1), {}});
    Statement m(db_.handle(),
                "SELECT username FROM shared_group_members WHERE grp = ? ORDER BY username");
    for (auto& g : out) {
        m.bind(1, g.name);
        while (m.step()) g.members.push_back(m.text(0));
        m.reset();
    }
    return out;
}

bool SqliteDirectoryStore::create_group(const std::string& name, const std::string& display) {
    auto lock = db_.lock();
    Statement st(db_.handle(), "INSERT OR IGNORE INTO shared_groups (name, display) VALUES (?, ?)");
    st.bind(1, name).bind(2, display);
    st.step();
    return db_.changes() == 1;
}

bool SqliteDirectoryStore::delete_group(const std::string& name) {
    auto lock = db_.lock();
    return db_.transaction([&] {
        // Members first, so that each leaves a member_removed event of its own.
        Statement m(db_.handle(), "DELETE FROM shared_group_members WHERE grp = ?");
        m.bind(1, name);
        m.step();
        Statement st(db_.handle(), "DELETE FROM shared_groups WHERE name = ?");
        st.bind(1, name);
        st.step();
        return db_.changes() == 1;
    });
}

bool SqliteDirectoryStore::add_member(const std::string& group, const std::string& user) {
    auto lock = db_.lock();
    Statement g(db_.handle(), "SELECT 1 FROM shared_groups WHERE name = ?");
    g.bind(1, group);
    if (!g.step()) return false;
    Statement st(db_.handle(),
                 "INSERT OR IGNORE INTO shared_group_members (grp, username) VALUES (?, ?)");
    st.bind(1, group).bind(2, user);
    st.step();
    return db_.changes() == 1;
}

bool SqliteDirectoryStore::remove_member(const std::string& group, const std::string& user) {
    auto lock = db_.lock();
    Statement st(db_.handle(), "DELETE FROM shared_group_members WHERE grp = ? AND username = ?");
    st.bind(1, group).bind(2, user);
    st.step();
    return db_.changes() == 1;
}

std::vector<DirectoryEvent> SqliteDirectoryStore::events_since(std::int64_t seq,
                                                               std::size_t limit) {
    auto lock = db_.lock();
    Statement st(db_.handle(),
                 "SELECT seq, kind, username, grp FROM directory_events WHERE seq > ? ORDER BY "
                 "seq LIMIT ?");
    st.bind(1, seq).bind(2, static_cast<std::int64_t>(limit));
    std::vector<DirectoryEvent> out;
    while (st.step())
        out.push_back(DirectoryEvent{st.integer(0),
                                     static_cast<DirectoryEvent::Kind>(st.integer(1)), st.text(2),
                                     st.text(3)});
    return out;
}

std::int64_t SqliteDirectoryStore::last_event() {
    auto lock = db_.lock();
    Statement st(db_.handle(), "SELECT COALESCE(MAX(seq), 0) FROM directory_events");
    st.step();
    return st.integer(0);
}

void SqliteDirectoryStore::note_roster_changed(const std::string& user) {
    auto lock = db_.lock();
    Statement st(db_.handle(),
                 "INSERT INTO directory_events (kind, username, grp) VALUES (5, ?, '')");
    st.bind(1, user);
    st.step();
}

void SqliteDirectoryStore::prune_events(std::size_t keep) {
    auto lock = db_.lock();
    Statement st(db_.handle(), "DELETE FROM directory_events WHERE seq <= ?");
    st.bind(1, last_event() - static_cast<std::int64_t>(keep));
    st.step();
}

std::optional<LastActivity> SqliteDirectoryStore::last_activity(const std::string& user) {
    auto lock = db_.lock();
    Statement st(db_.handle(), "SELECT logout, status FROM last_activity WHERE username = ?");
    st.bind(1, user);
    if (!st.step()) return std::nullopt;
    return LastActivity{st.integer(0), st.text(1)};
}

void SqliteDirectoryStore::set_last_activity(const std::string& user, const LastActivity& a) {
    auto lock = db_.lock();
    Statement st(db_.handle(),
                 "INSERT OR REPLACE INTO last_activity (username, logout, status) "
                 "SELECT ?, ?, ? WHERE EXISTS (SELECT 1 FROM accounts WHERE username = ?)");
    st.bind(1, user).bind(2, a.logout).bind(3, a.status).bind(4, user);
    st.step();
}

std::vector<std::string> SqliteDirectoryStore::search(const std::string& needle,
                                                      std::size_t limit) {
    auto lock = db_.lock();
    const std::string pattern = contains_pattern(needle);
    Statement st(db_.handle(),
                 "SELECT username FROM accounts WHERE username LIKE ? ESCAPE '\\' ORDER BY "
                 "username LIMIT ?");
    st.bind(1, pattern).bind(2, static_cast<std::int64_t>(limit));
    std::vector<std::string> out;
    while (st.step()) out.push_back(st.text(0));
    return out;
}

}  // namespace hongyan::storage::sqlite
