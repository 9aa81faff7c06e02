#include "server/storage/postgresql/archive_store.hpp"

#include <algorithm>

#include "server/storage/archive_sql.hpp"

namespace hongyan::storage::postgresql {

namespace {

std::vector<ArchivedMessage> rows(const Result& r) {
    std::vector<ArchivedMessage> out;
    out.reserve(static_cast<std::size_t>(r.rows()));
    for (int i = 0; i < r.rows(); ++i) {
        ArchivedMessage m;
        m.seq = r.integer(i, 0);
        m.id = r.text(i, 1);
        m.time_us = r.integer(i, 2);
        m.with = r.text(i, 3);
        m.with_resource = r.text(i, 4);
        m.outgoing = r.integer(i, 5) != 0;
        m.stanza = r.text(i, 6);
        out.push_back(std::move(m));
    }
    return out;
}

}  // namespace

std::int64_t PgArchiveStore::add(const std::string& user, const ArchivedMessage& m) {
    return pool_.with([&](Connection& c) {
        return c
            .run(
                "INSERT INTO archive (username, id, time_us, with_bare, with_resource, outgoing, "
                "stanza) VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING seq",
                user, m.id, m.time_us, m.with, m.with_resource, m.outgoing ? 1 : 0, m.stanza)
            .integer(0, 0);
    });
}

void PgArchiveStore::add_many(const std::vector<std::pair<std::string, ArchivedMessage>>& batch) {
    // Up to 100 rows a statement (700 parameters): a statement per 100 messages, each
    // shape prepared once per connection.
    constexpr std::size_t kRows = 100;
    pool_.with([&](Connection& c) {
        for (std::size_t first = 0; first < batch.size(); first += kRows) {
            const std::size_t n = std::min(kRows, batch.size() - first);
            std::string sql =
                "INSERT INTO archive (username, id, time_us, with_bare, with_resource, outgoing, "
                "stanza) VALUES ";
            std::vector<Param> params;
            params.reserve(7 * n);
            for (std::size_t i = 0; i < n; ++i) {
                const auto& [user, m] = batch[first + i];
                const std::size_t b = params.size();
                sql += i ? ", (" : "(";
                for (std::size_t k = 1; k <= 7; ++k)
                    sql += (k > 1 ? ", $" : "$") + std::to_string(b + k);
                sql += ")";
                params.emplace_back(user);
                params.emplace_back(m.id);
                params.emplace_back(m.time_us);
                params.emplace_back(m.with);
                params.emplace_back(m.with_resource);
                params.emplace_back(m.outgoing ? 1 : 0);
                params.emplace_back(m.stanza);
            }
            c.query(sql, params);
        }
    });
}

ArchivePage PgArchiveStore::query(const std::string& user, const ArchiveQuery& q) {
    const auto sql = archive_select(user, q, [](std::size_t n) { return "$" + std::to_string(n); });
    std::vector<Param> params;
    params.reserve(sql.args.size());
    for (const auto& a : sql.args) {
        if (const auto* s = std::get_if<std::string>(&a))
            params.emplace_back(*s);
        else
            params.emplace_back(std::get<std::int64_t>(a));
    }
    auto found = pool_.with([&](Connection& c) { return rows(c.query(sql.sql, params)); });
    return archive_page(std::move(found), q);
}

std::optional<std::int64_t> PgArchiveStore::find(const std::string& user, const std::string& id) {
    return pool_.with([&](Connection& c) -> std::optional<std::int64_t> {
        auto r = c.run("SELECT seq FROM archive WHERE username = $1 AND id = $2", user, id);
        if (r.empty()) return std::nullopt;
        return r.integer(0, 0);
    });
}

std::optional<ArchivedMessage> PgArchiveStore::end(const std::string& user, bool newest) {
    static const std::string oldest_sql =
        std::string(kArchiveColumns) + " FROM archive WHERE username = $1 ORDER BY seq LIMIT 1";
    static const std::string newest_sql =
        std::string(kArchiveColumns) +
        " FROM archive WHERE username = $1 ORDER BY seq DESC LIMIT 1";
    auto found = pool_.with(
        [&](Connection& c) { return rows(c.run(newest ? newest_sql : oldest_sql, user)); });
    if (found.empty()) return std::nullopt;
    return std::move(found.front());
}

std::optional<ArchivedMessage> PgArchiveStore::first(const std::string& user) {
    return end(user, false);
}

std::optional<ArchivedMessage> PgArchiveStore::last(const std::string& user) {
    return end(user, true);
}

std::size_t PgArchiveStore::count(const std::string& user) {
    return pool_.with([&](Connection& c) {
        return static_cast<std::size_t>(
            c.run("SELECT COUNT(*) FROM archive WHERE username = $1", user).integer(0, 0));
    });
}

std::int64_t PgArchiveStore::latest_time() {
    // The last seq is the latest time (the writer keeps the two in step): one index probe.
    return pool_.with([&](Connection& c) {
        auto r = c.run("SELECT time_us FROM archive ORDER BY seq DESC LIMIT 1");
        return r.rows() == 0 ? std::int64_t{0} : r.integer(0, 0);
    });
}

std::size_t PgArchiveStore::remove_before(std::int64_t time_us, std::size_t limit) {
    return pool_.with([&](Connection& c) {
        return static_cast<std::size_t>(
            c.run("DELETE FROM archive WHERE seq IN (SELECT seq FROM archive WHERE time_us < $1 "
                  "ORDER BY seq LIMIT $2)",
                  time_us, static_cast<std::int64_t>(limit))
                .affected());
    });
}

std::size_t PgArchiveStore::clear(const std::string& user) {
    return pool_.with([&](Connection& c) {
        return static_cast<std::size_t>(
            c.run("DELETE FROM archive WHERE username = $1", user).affected());
    });
}

}  // namespace hongyan::storage::postgresql
