#include "server/storage/sqlite/tables.hpp"

#include <algorithm>
#include <charconv>

namespace hongyan::storage::sqlite {

std::vector<TableInfo> SqliteTables::list() {
    auto held = db_.lock();
    std::vector<TableInfo> out;
    Statement names(db_.handle(),
                    "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name");
    while (names.step()) {
        TableInfo t;
        t.name = names.text(0);
        if (schema_bookkeeping(t.name)) continue;
        Statement cols(db_.handle(), "SELECT name FROM pragma_table_info(?) ORDER BY cid");
        cols.bind(1, t.name);
        while (cols.step()) t.columns.push_back(cols.text(0));
        Statement refs(db_.handle(), "SELECT DISTINCT \"table\" FROM pragma_foreign_key_list(?)");
        refs.bind(1, t.name);
        while (refs.step()) t.references.push_back(refs.text(0));
        out.push_back(std::move(t));
    }
    return out;
}

std::vector<std::pair<std::string, std::int64_t>> SqliteTables::versions() {
    auto held = db_.lock();
    std::vector<std::pair<std::string, std::int64_t>> out;
    Statement core(db_.handle(), "SELECT version FROM schema_version");
    if (core.step()) out.emplace_back("core", core.integer(0));
    Statement parts(db_.handle(), "SELECT owner, version FROM module_schema ORDER BY owner");
    while (parts.step()) out.emplace_back(parts.text(0), parts.integer(1));
    std::sort(out.begin(), out.end());
    return out;
}

std::int64_t SqliteTables::count(const std::string& table) {
    auto held = db_.lock();
    Statement st(db_.handle(), "SELECT COUNT(*) FROM " + quoted_identifier(table));
    st.step();
    return st.integer(0);
}

void SqliteTables::scan(const std::string& table, const std::vector<std::string>& columns,
                        const std::function<void(const Row&)>& row) {
    auto held = db_.lock();
    Statement st(db_.handle(),
                 "SELECT " + identifier_list(columns) + " FROM " + quoted_identifier(table));
    Row r(columns.size());
    while (st.step()) {
        for (std::size_t i = 0; i < columns.size(); ++i) {
            const int col = static_cast<int>(i);
            switch (st.type(col)) {
                case SQLITE_NULL:
                    r[i].reset();
                    break;
                case SQLITE_INTEGER:
                    r[i] = std::to_string(st.integer(col));
                    break;
                case SQLITE_BLOB:
                    r[i] = st.blob(col);
                    break;
                default:  // text, and a float as text
                    r[i] = st.text(col);
                    break;
            }
        }
        row(r);
    }
}

void SqliteTables::read(const std::function<void()>& f) {
    auto held = db_.lock();
    if (!sqlite3_get_autocommit(db_.handle())) {
        f();  // inside a transaction already: that is the snapshot
        return;
    }
    // A deferred transaction: the first read fixes the snapshot (WAL), writers go on.
    db_.exec("BEGIN");
    try {
        f();
    } catch (...) {
        if (!sqlite3_get_autocommit(db_.handle())) db_.exec("ROLLBACK");
        throw;
    }
    db_.exec("COMMIT");
}

void SqliteTables::load(const std::function<void()>& f) {
    db_.transaction([&] {
        // SQLite cannot switch triggers off: they are dropped and created again inside
        // the transaction (its DDL is transactional too).
        std::vector<std::pair<std::string, std::string>> triggers;
        {
            Statement st(db_.handle(),
                         "SELECT name, sql FROM sqlite_master WHERE type = 'trigger'");
            while (st.step()) triggers.emplace_back(st.text(0), st.text(1));
        }
        for (const auto& [name, sql] : triggers)
            db_.exec("DROP TRIGGER " + quoted_identifier(name));
        f();
        for (const auto& [name, sql] : triggers) db_.exec(sql);
        // AUTOINCREMENT ids continue after the largest inserted one by themselves.
    });
}

const std::map<std::string, std::string>& SqliteTables::types(const std::string& table) {
    auto it = types_.find(table);
    if (it != types_.end()) return it->second;
    auto& m = types_[table];
    Statement st(db_.handle(), "SELECT name, upper(type) FROM pragma_table_info(?)");
    st.bind(1, table);
    while (st.step()) m[st.text(0)] = st.text(1);
    return m;
}

void SqliteTables::insert(const std::string& table, const std::vector<std::string>& columns,
                          const std::vector<Row>& rows) {
    auto held = db_.lock();
    const auto& declared = types(table);
    std::vector<char> kind;  // 'i' integer, 'b' blob, 't' text
    for (const auto& c : columns) {
        auto it = declared.find(c);
        const std::string type = it == declared.end() ? "" : it->second;
        kind.push_back(type.find("INT") != std::string::npos ? 'i' : type == "BLOB" ? 'b' : 't');
    }
    std::string sql =
        "INSERT INTO " + quoted_identifier(table) + " (" + identifier_list(columns) + ") VALUES (";
    for (std::size_t i = 0; i < columns.size(); ++i) sql += i ? ", ?" : "?";
    Statement st(db_.handle(), sql + ")");
    for (const auto& r : rows) {
        for (std::size_t i = 0; i < columns.size(); ++i) {
            const int p = static_cast<int>(i + 1);
            const auto& v = r[i];
            std::int64_t n = 0;
            if (!v) {
                st.bind_null(p);
            } else if (kind[i] == 'i' &&
                       std::from_chars(v->data(), v->data() + v->size(), n).ptr ==
                           v->data() + v->size() &&
                       !v->empty()) {
                st.bind(p, n);
            } else if (kind[i] == 'b') {
                st.bind_blob(p, *v);
            } else {
                st.bind(p, std::string_view(*v));
            }
        }
        st.step();
        st.reset();
    }
}

}  // namespace hongyan::storage::sqlite
