#include "server/storage/sqlite/archive_store.hpp"

#include <sqlite3.h>

#include "server/storage/archive_sql.hpp"

namespace hongyan::storage::sqlite {

namespace {

ArchivedMessage row(const Statement& st) {
    ArchivedMessage m;
    m.seq = st.integer(0);
    m.id = st.text(1);
    m.time_us = st.integer(2);
    m.with = st.text(3);
    m.with_resource = st.text(4);
    m.outgoing = st.integer(5) != 0;
    m.stanza = st.text(6);
    return m;
}

}  // namespace

namespace {
constexpr const char* kInsert =
    "INSERT INTO archive (username, id, time_us, with_bare, with_resource, outgoing, stanza) "
    "VALUES (?, ?, ?, ?, ?, ?, ?)";

void bind(Statement& st, const std::string& user, const ArchivedMessage& m) {
    st.bind(1, user).bind(2, m.id).bind(3, m.time_us).bind(4, m.with).bind(5, m.with_resource);
    st.bind(6, std::int64_t{m.outgoing ? 1 : 0}).bind(7, m.stanza);
}
}  // namespace

std::int64_t SqliteArchiveStore::add(const std::string& user, const ArchivedMessage& m) {
    auto lock = db_.lock();
    Statement st(db_.handle(), kInsert);
    bind(st, user, m);
    st.step();
    return sqlite3_last_insert_rowid(db_.handle());
}

void SqliteArchiveStore::add_many(
    const std::vector<std::pair<std::string, ArchivedMessage>>& batch) {
    auto lock = db_.lock();
    Statement st(db_.handle(), kInsert);  // prepared once for the batch
    for (const auto& [user, m] : batch) {
        bind(st, user, m);
        st.step();
        st.reset();
    }
}

ArchivePage SqliteArchiveStore::query(const std::string& user, const ArchiveQuery& q) {
    auto lock = db_.lock();
    const auto sql = archive_select(user, q, [](std::size_t) { return std::string("?"); });
    Statement st(db_.handle(), sql.sql);
    for (std::size_t i = 0; i < sql.args.size(); ++i) {
        const int p = static_cast<int>(i + 1);
        if (const auto* s = std::get_if<std::string>(&sql.args[i]))
            st.bind(p, std::string_view(*s));
        else
            st.bind(p, std::get<std::int64_t>(sql.args[i]));
    }
    std::vector<ArchivedMessage> rows;
    while (st.step()) rows.push_back(row(st));
    return archive_page(std::move(rows), q);
}

std::optional<std::int64_t> SqliteArchiveStore::find(const std::string& user,
                                                     const std::string& id) {
    auto lock = db_.lock();
    Statement st(db_.handle(), "SELECT seq FROM archive WHERE username = ? AND id = ?");
    st.bind(1, user).bind(2, id);
    if (!st.step()) return std::nullopt;
    return st.integer(0);
}

std::optional<ArchivedMessage> SqliteArchiveStore::end(const std::string& user, bool newest) {
    auto lock = db_.lock();
    Statement st(db_.handle(), std::string(kArchiveColumns) +
                                   " FROM archive WHERE username = ? ORDER BY seq " +
                                   (newest ? "DESC" : "ASC") + " LIMIT 1");
    st.bind(1, user);
    if (!st.step()) return std::nullopt;
    return row(st);
}

std::optional<ArchivedMessage> SqliteArchiveStore::first(const std::string& user) {
    return end(user, false);
}

std::optional<ArchivedMessage> SqliteArchiveStore::last(const std::string& user) {
    return end(user, true);
}

std::size_t SqliteArchiveStore::count(const std::string& user) {
    auto lock = db_.lock();
    Statement st(db_.handle(), "SELECT COUNT(*) FROM archive WHERE username = ?");
    st.bind(1, user);
    st.step();
    return static_cast<std::size_t>(st.integer(0));
}

std::int64_t SqliteArchiveStore::latest_time() {
    auto lock = db_.lock();
    // The last seq is the latest time (the writer keeps the two in step): one index probe.
    Statement st(db_.handle(), "SELECT time_us FROM archive ORDER BY seq DESC LIMIT 1");
    return st.step() ? st.integer(0) : 0;
}

std::size_t SqliteArchiveStore::remove_before(std::int64_t time_us, std::size_t limit) {
    auto lock = db_.lock();
    Statement st(db_.handle(),
                 "DELETE FROM archive WHERE seq IN (SELECT seq FROM archive WHERE time_us < ? "
                 "ORDER BY seq LIMIT ?)");
    st.bind(1, time_us).bind(2, static_cast<std::int64_t>(limit));
    st.step();
    return static_cast<std::size_t>(db_.changes());
}

std::size_t SqliteArchiveStore::clear(const std::string& user) {
    auto lock = db_.lock();
    Statement st(db_.handle(), "DELETE FROM archive WHERE username = ?");
    st.bind(1, user);
    st.step();
    return static_cast<std::size_t>(db_.changes());
}

}  // namespace hongyan::storage::sqlite
