#include "server/storage/postgresql/tables.hpp"

#include <algorithm>

namespace hongyan::storage::postgresql {

namespace {

constexpr const char* kColumns =
    "SELECT c.table_name, c.column_name, c.data_type FROM information_schema.columns c "
    "JOIN information_schema.tables t ON t.table_schema = c.table_schema AND "
    "t.table_name = c.table_name WHERE c.table_schema = current_schema() AND "
    "t.table_type = 'BASE TABLE' ORDER BY c.table_name, c.ordinal_position";

constexpr int kFetch = 1000;  // rows per FETCH of a scan

}  // namespace

std::vector<TableInfo> PgTables::list() {
    return pool_.with([&](Connection& c) {
        std::map<std::string, TableInfo> tables;
        auto cols = c.run(kColumns);
        for (int i = 0; i < cols.rows(); ++i) {
            auto name = cols.text(i, 0);
            if (schema_bookkeeping(name)) continue;
            auto& t = tables[name];
            t.name = name;
            t.columns.push_back(cols.text(i, 1));
        }
        auto refs = c.run(
            "SELECT DISTINCT cl.relname::TEXT, ref.relname::TEXT FROM pg_constraint k "
            "JOIN pg_class cl ON cl.oid = k.conrelid JOIN pg_class ref ON ref.oid = k.confrelid "
            "WHERE k.contype = 'f' AND cl.relnamespace = current_schema()::regnamespace");
        for (int i = 0; i < refs.rows(); ++i) {
            auto it = tables.find(refs.text(i, 0));
            if (it != tables.end()) it->second.references.push_back(refs.text(i, 1));
        }
        std::vector<TableInfo> out;
        for (auto& [name, t] : tables) out.push_back(std::move(t));
        return out;
    });
}

std::vector<std::pair<std::string, std::int64_t>> PgTables::versions() {
    return pool_.with([&](Connection& c) {
        std::vector<std::pair<std::string, std::int64_t>> out;
        auto core = c.run("SELECT version FROM schema_version");
        if (!core.empty()) out.emplace_back("core", core.integer(0, 0));
        auto parts = c.run("SELECT owner, version FROM module_schema");
        for (int i = 0; i < parts.rows(); ++i)
            out.emplace_back(parts.text(i, 0), parts.integer(i, 1));
        std::sort(out.begin(), out.end());
        return out;
    });
}

std::int64_t PgTables::count(const std::string& table) {
    return pool_.with([&](Connection& c) {
        return c.run("SELECT COUNT(*) FROM " + quoted_identifier(table)).integer(0, 0);
    });
}

const std::map<std::string, std::string>& PgTables::types(const std::string& table) {
    std::lock_guard lock(mu_);
    auto it = types_.find(table);
    if (it != types_.end()) return it->second;
    auto& m = types_[table];
    pool_.with([&](Connection& c) {
        auto r = c.run(
            "SELECT column_name, data_type FROM information_schema.columns WHERE "
            "table_schema = current_schema() AND table_name = $1",
            table);
        for (int i = 0; i < r.rows(); ++i) m[r.text(i, 0)] = r.text(i, 1);
    });
    return m;
}

void PgTables::scan(const std::string& table, const std::vector<std::string>& columns,
                    const std::function<void(const Row&)>& row) {
    const auto& declared = types(table);
    std::vector<std::string> type;
    for (const auto& col : columns) {
        auto it = declared.find(col);
        type.push_back(it == declared.end() ? "" : it->second);
    }
    // A cursor, so that a table of millions of rows is never in memory at once; cursors
    // live in a transaction (the one read() opened, or one of the scan's own).
    pool_.transaction([&] {
        pool_.with([&](Connection& c) {
            c.exec("DECLARE hongyan_scan NO SCROLL CURSOR FOR SELECT " + identifier_list(columns) +
                   " FROM " + quoted_identifier(table));
            Row values(columns.size());
            for (;;) {
                auto r = c.exec("FETCH " + std::to_string(kFetch) + " FROM hongyan_scan");
                for (int i = 0; i < r.rows(); ++i) {
                    for (std::size_t j = 0; j < columns.size(); ++j) {
                        const int col = static_cast<int>(j);
                        if (r.null(i, col))
                            values[j].reset();
                        else if (type[j] == "bytea")
                            values[j] = r.bytes(i, col);
                        else if (type[j] == "boolean")
                            values[j] = r.boolean(i, col) ? "1" : "0";
                        else
                            values[j] = r.text(i, col);
                    }
                    row(values);
                }
                if (r.rows() < kFetch) break;
            }
            c.exec("CLOSE hongyan_scan");
        });
    });
}

void PgTables::read(const std::function<void()>& f) {
    pool_.transaction(f, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY");
}

void PgTables::load(const std::function<void()>& f) {
    const auto tables = list();
    pool_.transaction([&] {
        pool_.with([&](Connection& c) {
            // A copy is one long transaction: no statement limit inside it.
            c.exec("SET LOCAL statement_timeout = 0");
            for (const auto& t : tables)
                c.exec("ALTER TABLE " + quoted_identifier(t.name) + " DISABLE TRIGGER USER");
        });
        f();
        pool_.with([&](Connection& c) {
            for (const auto& t : tables)
                c.exec("ALTER TABLE " + quoted_identifier(t.name) + " ENABLE TRIGGER USER");
            // Generated ids go on after the largest copied one.
            auto ids = c.run(
                "SELECT table_name, column_name FROM information_schema.columns WHERE "
                "table_schema = current_schema() AND is_identity = 'YES'");
            for (int i = 0; i < ids.rows(); ++i) {
                const auto table = ids.text(i, 0), column = ids.text(i, 1);
                c.run("SELECT setval(pg_get_serial_sequence($1, $2), GREATEST(MAX(" +
                          quoted_identifier(column) + "), 1), MAX(" + quoted_identifier(column) +
                          ") IS NOT NULL) FROM " + quoted_identifier(table),
                      quoted_identifier(table), column);
            }
        });
    });
}

void PgTables::insert(const std::string& table, const std::vector<std::string>& columns,
                      const std::vector<Row>& rows) {
    if (rows.empty() || columns.empty()) return;
    const auto& declared = types(table);
    std::vector<std::string> type;
    for (const auto& col : columns) {
        auto it = declared.find(col);
        if (it == declared.end())
            throw Error(StorageError::Kind::other,
                        "postgresql: table " + table + " has no column " + col);
        type.push_back(it->second);
    }
    // Several rows per statement (at most 65535 parameters), prepared once per shape.
    const std::size_t per_statement =
        std::max<std::size_t>(1, std::min<std::size_t>(500, 65535 / columns.size()));
    pool_.with([&](Connection& c) {
        for (std::size_t first = 0; first < rows.size(); first += per_statement) {
            const std::size_t n = std::min(per_statement, rows.size() - first);
            std::string sql = "INSERT INTO " + quoted_identifier(table) + " (" +
                              identifier_list(columns) + ") VALUES ";
            std::vector<Param> params;
            params.reserve(n * columns.size());
            for (std::size_t i = 0; i < n; ++i) {
                sql += i ? ", (" : "(";
                const auto& r = rows[first + i];
                for (std::size_t j = 0; j < columns.size(); ++j) {
                    sql += (j ? ", $" : "$") + std::to_string(params.size() + 1) + "::" + type[j];
                    if (!r[j])
                        params.push_back(Param::null());
                    else if (type[j] == "bytea")
                        params.emplace_back(Bytes{*r[j]});
                    else
                        params.emplace_back(*r[j]);
                }
                sql += ")";
            }
            c.query(sql, params);
        }
    });
}

}  // namespace hongyan::storage::postgresql
