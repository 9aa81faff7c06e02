#include "server/storage/sqlite/account_store.hpp"

#include <chrono>

namespace hongyan::storage::sqlite {

namespace {
StorageError::Kind kind_of(int code) {
    switch (code & 0xff) {
        case SQLITE_BUSY:
        case SQLITE_LOCKED:
            return StorageError::Kind::busy;
        case SQLITE_FULL:
            return StorageError::Kind::full;
        default:
            return StorageError::Kind::other;
    }
}
}  // namespace

Error::Error(int code, const std::string& what) : StorageError(kind_of(code), what) {}

Statement::Statement(sqlite3* db, std::string_view sql) : db_(db) {
    if (sqlite3_prepare_v2(db, sql.data(), static_cast<int>(sql.size()), &stmt_, nullptr) !=
        SQLITE_OK)
        throw Error(sqlite3_extended_errcode(db),
                    std::string("sqlite prepare: ") + sqlite3_errmsg(db));
}

Statement::~Statement() {
    sqlite3_finalize(stmt_);
}

Statement& Statement::bind(int i, std::string_view text) {
    sqlite3_bind_text(stmt_, i, text.data(), static_cast<int>(text.size()), SQLITE_TRANSIENT);
    return *this;
}

Statement& Statement::bind_blob(int i, std::string_view bytes) {
    sqlite3_bind_blob(stmt_, i, bytes.data(), static_cast<int>(bytes.size()), SQLITE_TRANSIENT);
    return *this;
}

Statement& Statement::bind(int i, std::int64_t v) {
    sqlite3_bind_int64(stmt_, i, v);
    return *this;
}

Statement& Statement::bind_null(int i) {
    sqlite3_bind_null(stmt_, i);
    return *this;
}

bool Statement::step() {
    int rc = sqlite3_step(stmt_);
    if (rc == SQLITE_ROW) return true;
    if (rc == SQLITE_DONE) return false;
    throw Error(rc, std::string("sqlite step: ") + sqlite3_errmsg(db_));
}

void Statement::reset() {
    sqlite3_reset(stmt_);
    sqlite3_clear_bindings(stmt_);
}

std::string Statement::text(int col) const {
    auto p = sqlite3_column_text(stmt_, col);
    return p ? std::string(reinterpret_cast<const char*>(p),
                           static_cast<std::size_t>(sqlite3_column_bytes(stmt_, col)))
             : std::string();
}

std::string Statement::blob(int col) const {
    auto p = sqlite3_column_blob(stmt_, col);
    return p ? std::string(static_cast<const char*>(p),
                           static_cast<std::size_t>(sqlite3_column_bytes(stmt_, col)))
             : std::string();
}

std::int64_t Statement::integer(int col) const {
    return sqlite3_column_int64(stmt_, col);
}

Database::Database(const std::filesystem::path& file) {
    if (sqlite3_open_v2(file.c_str(), &db_,
                        SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
                        nullptr) != SQLITE_OK) {
        std::string msg = db_ ? sqlite3_errmsg(db_) : "out of memory";
        sqlite3_close(db_);
        db_ = nullptr;
        throw Error("cannot open database " + file.string() + ": " + msg);
    }
    // The server and hongyanctl may use the file at the same time: WAL lets readers and
    // one writer proceed together, and the busy timeout waits out the other's write.
    sqlite3_busy_timeout(db_, 5000);
    exec("PRAGMA journal_mode=WAL");
    exec("PRAGMA synchronous=NORMAL");
    exec("PRAGMA foreign_keys=ON");
    migrate();
}

Database::~Database() {
    sqlite3_close(db_);
}

void Database::exec(std::string_view sql) {
    auto held = lock();
    char* err = nullptr;
    std::string s(sql);
    if (int rc = sqlite3_exec(db_, s.c_str(), nullptr, nullptr, &err); rc != SQLITE_OK) {
        std::string msg = err ? err : "unknown error";
        sqlite3_free(err);
        throw Error(rc, "sqlite: " + msg + " in: " + s);
    }
}

namespace {
// Each entry brings the schema from version i to i+1. Never edit a released entry; append.
const char* const kMigrations[] = {
    R"sql(
    CREATE TABLE accounts (
        username TEXT PRIMARY KEY,
        salt BLOB NOT NULL,
        iterations INTEGER NOT NULL,
        stored_key_sha1 BLOB NOT NULL,
        server_key_sha1 BLOB NOT NULL,
        stored_key_sha256 BLOB NOT NULL,
        server_key_sha256 BLOB NOT NULL,
        created_at INTEGER NOT NULL
    ) WITHOUT ROWID;
    )sql",
    // IM core: rosters, offline messages, blocklists, shared groups and the directory change
    // feed (filled by triggers, so every writer feeds it). The vcards and private_xml tables
    // were created here too until the vcard and private modules declared them; their own
    // migrations create them with the same definition if they do not exist, so a database
    // made before and one made after end with the same schema.
    R"sql(
    CREATE TABLE roster_items (
        username TEXT NOT NULL REFERENCES accounts(username) ON DELETE CASCADE,
        jid TEXT NOT NULL,
        name TEXT NOT NULL,
        groups TEXT NOT NULL,
        state INTEGER NOT NULL,
        listed INTEGER NOT NULL,
        removed INTEGER NOT NULL,
        ver INTEGER NOT NULL,
        request TEXT NOT NULL,
        PRIMARY KEY (username, jid)
    ) WITHOUT ROWID;
    CREATE TABLE offline_messages (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        username TEXT NOT NULL REFERENCES accounts(username) ON DELETE CASCADE,
        stanza TEXT NOT NULL
    );
    CREATE INDEX offline_by_user ON offline_messages (username, id);
    CREATE TABLE blocklist (
        username TEXT NOT NULL REFERENCES accounts(username) ON DELETE CASCADE,
        jid TEXT NOT NULL,
        PRIMARY KEY (username, jid)
    ) WITHOUT ROWID;
    CREATE TABLE last_activity (
        username TEXT PRIMARY KEY REFERENCES accounts(username) ON DELETE CASCADE,
        logout INTEGER NOT NULL,
        status TEXT NOT NULL
    ) WITHOUT ROWID;
    CREATE TABLE shared_groups (
        name TEXT PRIMARY KEY,
        display TEXT NOT NULL
    ) WITHOUT ROWID;
    CREATE TABLE shared_group_members (
        grp TEXT NOT NULL REFERENCES shared_groups(name) ON DELETE CASCADE,
        username TEXT NOT NULL REFERENCES accounts(username) ON DELETE CASCADE,
        PRIMARY KEY (grp, username)
    ) WITHOUT ROWID;
    CREATE TABLE directory_events (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        kind INTEGER NOT NULL,
        username TEXT NOT NULL,
        grp TEXT NOT NULL
    );
    CREATE TRIGGER account_added AFTER INSERT ON accounts BEGIN
        INSERT INTO directory_events (kind, username, grp) VALUES (0, NEW.username, '');
    END;
    CREATE TRIGGER account_removed AFTER DELETE ON accounts BEGIN
        INSERT INTO directory_events (kind, username, grp) VALUES (1, OLD.username, '');
    END;
    CREATE TRIGGER member_added AFTER INSERT ON shared_group_members BEGIN
        INSERT INTO directory_events (kind, username, grp) VALUES (2, NEW.username, NEW.grp);
    END;
    CREATE TRIGGER member_removed AFTER DELETE ON shared_group_members BEGIN
        INSERT INTO directory_events (kind, username, grp) VALUES (3, OLD.username, OLD.grp);
    END;
    CREATE TRIGGER group_added AFTER INSERT ON shared_groups BEGIN
        INSERT INTO directory_events (kind, username, grp) VALUES (4, '', NEW.name);
    END;
    CREATE TRIGGER group_changed AFTER UPDATE ON shared_groups BEGIN
        INSERT INTO directory_events (kind, username, grp) VALUES (4, '', NEW.name);
    END;
    CREATE TRIGGER group_removed AFTER DELETE ON shared_groups BEGIN
        INSERT INTO directory_events (kind, username, grp) VALUES (4, '', OLD.name);
    END;
    )sql",
    // Who lists a contact: an account's deletion removes it from every roster.
    R"sql(
    CREATE INDEX roster_by_jid ON roster_items (jid);
    )sql",
    // How many of each module's own migrations have run (Database::migrate_part()).
    R"sql(
    CREATE TABLE module_schema (
        owner TEXT PRIMARY KEY,
        version INTEGER NOT NULL
    ) WITHOUT ROWID;
    )sql",
};
}  // namespace

void Database::migrate() {
    transaction([&] {
        exec("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)");
        Statement get(db_, "SELECT version FROM schema_version");
        std::int64_t version = 0;
        if (get.step())
            version = get.integer(0);
        else
            exec("INSERT INTO schema_version VALUES (0)");
        constexpr std::int64_t newest = std::size(kMigrations);
        if (version > newest)
            throw Error("database schema version " + std::to_string(version) +
                        " is newer than this hongyand understands (" + std::to_string(newest) +
                        ")");
        for (; version < newest; ++version) exec(kMigrations[version]);
        Statement set(db_, "UPDATE schema_version SET version = ?");
        set.bind(1, version).step();
    });
}

void Database::migrate_part(const std::string& owner, const std::vector<std::string>& migrations) {
    transaction([&] {
        Statement get(db_, "SELECT version FROM module_schema WHERE owner = ?");
        get.bind(1, owner);
        std::int64_t version = get.step() ? get.integer(0) : 0;
        const auto newest = static_cast<std::int64_t>(migrations.size());
        if (version > newest)
            throw Error("the " + owner + " tables are at schema version " +
                        std::to_string(version) + ", newer than this hongyand understands (" +
                        std::to_string(newest) + ")");
        if (version == newest) return;
        for (; version < newest; ++version) exec(migrations[static_cast<std::size_t>(version)]);
        Statement set(db_, "INSERT OR REPLACE INTO module_schema (owner, version) VALUES (?, ?)");
        set.bind(1, owner).bind(2, version).step();
    });
}

std::optional<sasl::ScramCredentials> SqliteAccountStore::credentials(const std::string& user) {
    auto lock = db_.lock();
    Statement st(db_.handle(),
                 "SELECT salt, iterations, stored_key_sha1, server_key_sha1, stored_key_sha256, "
                 "server_key_sha256 FROM accounts WHERE username = ?");
    st.bind(1, user);
    if (!st.step()) return std::nullopt;
    sasl::ScramCredentials c;
    c.salt = st.blob(0);
    c.iterations = static_cast<int>(st.integer(1));
    c.sha1 = {st.blob(2), st.blob(3)};
    c.sha256 = {st.blob(4), st.blob(5)};
    return c;
}

bool SqliteAccountStore::create(const std::string& user, const sasl::ScramCredentials& c) {
    auto lock = db_.lock();
    Statement st(db_.handle(),
                 "INSERT OR IGNORE INTO accounts (username, salt, iterations, stored_key_sha1, "
                 "server_key_sha1, stored_key_sha256, server_key_sha256, created_at) VALUES "
                 "(?, ?, ?, ?, ?, ?, ?, ?)");
    auto now = std::chrono::duration_cast<std::chrono::seconds>(
                   std::chrono::system_clock::now().time_since_epoch())
                   .count();
    st.bind(1, user).bind_blob(2, c.salt).bind(3, std::int64_t{c.iterations});
    st.bind_blob(4, c.sha1.stored_key).bind_blob(5, c.sha1.server_key);
    st.bind_blob(6, c.sha256.stored_key).bind_blob(7, c.sha256.server_key);
    st.bind(8, static_cast<std::int64_t>(now));
    st.step();
    return db_.changes() == 1;
}

bool SqliteAccountStore::set_credentials(const std::string& user, const sasl::ScramCredentials& c) {
    auto lock = db_.lock();
    Statement st(db_.handle(),
                 "UPDATE accounts SET salt = ?, iterations = ?, stored_key_sha1 = ?, "
                 "server_key_sha1 = ?, stored_key_sha256 = ?, server_key_sha256 = ? "
                 "WHERE username = ?");
    st.bind_blob(1, c.salt).bind(2, std::int64_t{c.iterations});
    st.bind_blob(3, c.sha1.stored_key).bind_blob(4, c.sha1.server_key);
    st.bind_blob(5, c.sha256.stored_key).bind_blob(6, c.sha256.server_key);
    st.bind(7, user);
    st.step();
    return db_.changes() == 1;
}

bool SqliteAccountStore::remove(const std::string& user) {
    auto lock = db_.lock();
    Statement st(db_.handle(), "DELETE FROM accounts WHERE username = ?");
    st.bind(1, user);
    st.step();
    return db_.changes() == 1;
}

bool SqliteAccountStore::exists(const std::string& user) {
    auto lock = db_.lock();
    Statement st(db_.handle(), "SELECT 1 FROM accounts WHERE username = ?");
    st.bind(1, user);
    return st.step();
}

std::vector<std::string> SqliteAccountStore::list() {
    auto lock = db_.lock();
    Statement st(db_.handle(), "SELECT username FROM accounts ORDER BY username");
    std::vector<std::string> out;
    while (st.step()) out.push_back(st.text(0));
    return out;
}

std::size_t SqliteAccountStore::count() {
    auto lock = db_.lock();
    Statement st(db_.handle(), "SELECT COUNT(*) FROM accounts");
    st.step();
    return static_cast<std::size_t>(st.integer(0));
}

}  // namespace hongyan::storage::sqlite
