// A storage backend: one implementation of every store interface, over one database, with
// transactions across stores. The server and the tools open the backend the configuration
// names (storage.backend) through open_backend() and never name an implementation: a
// second backend (PostgreSQL, issue #9) slots in here without a module changing.
#pragma once

#include <cstddef>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "server/storage/account_store.hpp"
#include "server/storage/archive_store.hpp"
#include "server/storage/blocklist_store.hpp"
#include "server/storage/directory_store.hpp"
#include "server/storage/offline_store.hpp"
#include "server/storage/roster_store.hpp"
#include "server/storage/table_access.hpp"
#include "server/storage/xml_store.hpp"

namespace hongyan::config {
class Config;
}

namespace hongyan::storage {

// What Backend::watch_directory() returns: watching ends when it is destroyed.
struct FeedWatch {
    virtual ~FeedWatch() = default;
};

class Backend {
  public:
    virtual ~Backend() = default;
    virtual std::string_view name() const = 0;  // as storage.backend names it

    virtual AccountStore& accounts() = 0;
    virtual RosterStore& rosters() = 0;
    virtual OfflineStore& offline() = 0;
    virtual BlocklistStore& blocklists() = 0;
    virtual DirectoryStore& directory() = 0;
    // The message archive (XEP-0313), over the mam module's tables.
    virtual ArchiveStore& archive() = 0;
    // A per-user XML store over `table`, which a module's schema created with
    // xml_store_migration() (vCards, private XML). Throws std::invalid_argument for a name
    // that is not a plain identifier.
    virtual XmlStore& xml_store(const std::string& table) = 0;

    // Runs `f` in one write transaction: all of its writes (to any store) or none; a
    // throw rolls back and is rethrown.
    virtual void transaction(const std::function<void()>& f) = 0;
    // How long a write waits for a lock another process holds (milliseconds).
    virtual void set_busy_timeout(int ms) = 0;
    // Calls `changed` (on a thread of the backend's) soon after anyone appends to the
    // directory feed, for as long as the returned handle lives; null when the backend
    // cannot tell (SQLite: the server polls the feed, shared_groups.poll_interval).
    virtual std::unique_ptr<FeedWatch> watch_directory(std::function<void()> changed) {
        (void)changed;
        return nullptr;
    }
    // How many calls the backend runs at once (SQLite: its one connection; a pool: its
    // size). The IM workers default to this many threads: more would only wait for it.
    virtual std::size_t parallel_calls() const = 0;
    // Every table row by row, for copying the whole database (storage/copy.hpp).
    virtual TableAccess& tables() = 0;
};

// Tables a module brings (Module::migrations()): its migrations for one backend, applied
// in order when the backend opens, each once (the backend records how many of each
// owner's have run). Append-only, like the core's.
struct SchemaPart {
    std::string owner;  // the module's name
    std::vector<std::string> migrations;
};

struct PostgresOptions {
    std::string url;     // libpq connection URI or key=value string
    std::string schema;  // of the tables; empty: the database's default
    std::size_t pool_size = 4;
    int connect_timeout_s = 10;
    int statement_timeout_ms = 30000;
};

// Where and how a backend keeps its data.
struct BackendOptions {
    std::filesystem::path sqlite_file;  // created with its directory if missing
    int sqlite_cache_mib = 64;          // SQLite's page cache (storage.sqlite_cache)
    PostgresOptions postgresql;
    int busy_timeout_ms = 5000;      // lock waits (and, for a pool, the wait for a connection)
    std::vector<SchemaPart> schema;  // the modules' tables (modules::schema())
};

// The statement that creates an xml_store() table called `table` on backend `backend`.
std::string xml_store_migration(std::string_view backend, std::string_view table);

// True for a name made of a-z, 0-9 and _ (a table name a module may choose).
bool plain_identifier(std::string_view name);

// The backends compiled in, by name ("sqlite", "postgresql").
const std::vector<std::string_view>& backend_names();
// Opens (creating and migrating as needed) the backend called `name`; throws
// std::invalid_argument for an unknown name and StorageError when the database cannot be
// opened.
std::unique_ptr<Backend> open_backend(std::string_view name, const BackendOptions& options);
// The backend the configuration chooses (storage.backend, storage.busy_timeout), with
// the modules' tables `schema`.
std::unique_ptr<Backend> open_backend(const config::Config& cfg,
                                      std::vector<SchemaPart> schema = {});

}  // namespace hongyan::storage
