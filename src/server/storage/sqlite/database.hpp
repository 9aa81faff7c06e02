// A small RAII layer over one SQLite connection with prepared statements.
#pragma once

#include <sqlite3.h>

#include <cstdint>
#include <filesystem>
#include <mutex>
#include <stdexcept>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include "server/storage/storage_error.hpp"

namespace hongyan::storage::sqlite {

class Error : public StorageError {
  public:
    // From SQLite's result code: SQLITE_BUSY/LOCKED and SQLITE_FULL are told apart.
    Error(int code, const std::string& what);
    explicit Error(const std::string& what) : StorageError(Kind::other, what) {}
};

class Statement {
  public:
    Statement(sqlite3* db, std::string_view sql);
    ~Statement();
    Statement(const Statement&) = delete;
    Statement& operator=(const Statement&) = delete;

    Statement& bind(int i, std::string_view text);
    Statement& bind_blob(int i, std::string_view bytes);
    Statement& bind(int i, std::int64_t v);
    Statement& bind_null(int i);
    // True while there is a row.
    bool step();
    void reset();
    std::string text(int col) const;
    std::string blob(int col) const;
    std::int64_t integer(int col) const;
    int type(int col) const { return sqlite3_column_type(stmt_, col); }  // SQLITE_INTEGER, ...

  private:
    sqlite3* db_;
    sqlite3_stmt* stmt_ = nullptr;
};

class Database {
  public:
    explicit Database(const std::filesystem::path& file);
    ~Database();
    Database(const Database&) = delete;
    Database& operator=(const Database&) = delete;

    void exec(std::string_view sql);
    sqlite3* handle() { return db_; }
    // The connection is one: every store call holds it for its statements, and a
    // transaction for all of its calls, so calls from several threads (the storage thread,
    // the IM workers) never interleave inside a transaction. Recursive: a transaction's
    // calls lock again on the same thread.
    std::unique_lock<std::recursive_mutex> lock() { return std::unique_lock(mu_); }
    // How long a write waits for another process's write lock before SQLITE_BUSY.
    void set_busy_timeout(int ms) { sqlite3_busy_timeout(db_, ms); }
    // How many MiB of pages SQLite caches (allocated as they are used).
    void set_cache_mib(int mib) { exec("PRAGMA cache_size=-" + std::to_string(mib * 1024)); }
    int changes() const { return sqlite3_changes(db_); }
    // Brings the schema to the newest version, one migration at a time.
    void migrate();
    // The same for a module's tables (backend.hpp, SchemaPart), recorded by owner.
    void migrate_part(const std::string& owner, const std::vector<std::string>& migrations);
    // Runs `f` inside one write transaction: committed when it returns, rolled back when
    // it throws.
    template <class F>
    auto transaction(F f) {
        auto held = lock();
        exec("BEGIN IMMEDIATE");
        try {
            if constexpr (std::is_void_v<decltype(f())>) {
                f();
                exec("COMMIT");
            } else {
                auto r = f();
                exec("COMMIT");
                return r;
            }
        } catch (...) {
            rollback();
            throw;
        }
    }

  private:
    // Ends a failed transaction (if SQLite has not already) without hiding why it failed.
    void rollback() noexcept {
        if (!sqlite3_get_autocommit(db_)) sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
    }

    sqlite3* db_ = nullptr;
    std::recursive_mutex mu_;
};

}  // namespace hongyan::storage::sqlite
