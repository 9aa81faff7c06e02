// The SQLite backend: every store over one connection (the embedded default).
#include <algorithm>
#include <map>
#include <memory>
#include <mutex>
#include <stdexcept>

#include "server/storage/backend.hpp"
#include "server/storage/sqlite/account_store.hpp"
#include "server/storage/sqlite/archive_store.hpp"
#include "server/storage/sqlite/database.hpp"
#include "server/storage/sqlite/im_stores.hpp"
#include "server/storage/sqlite/tables.hpp"

namespace hongyan::storage::sqlite {

namespace {

class SqliteBackend final : public Backend {
  public:
    explicit SqliteBackend(const BackendOptions& o)
        : db_(open(o.sqlite_file)),
          accounts_(*db_),
          rosters_(*db_),
          offline_(*db_),
          blocklists_(*db_),
          directory_(*db_),
          archive_(*db_),
          tables_(*db_) {
        db_->set_busy_timeout(o.busy_timeout_ms);
        db_->set_cache_mib(o.sqlite_cache_mib);
        for (const auto& part : o.schema) db_->migrate_part(part.owner, part.migrations);
    }
    std::string_view name() const override { return "sqlite"; }
    AccountStore& accounts() override { return accounts_; }
    RosterStore& rosters() override { return rosters_; }
    OfflineStore& offline() override { return offline_; }
    BlocklistStore& blocklists() override { return blocklists_; }
    DirectoryStore& directory() override { return directory_; }
    ArchiveStore& archive() override { return archive_; }
    XmlStore& xml_store(const std::string& table) override { return xml_stores_.get(table); }
    void transaction(const std::function<void()>& f) override { db_->transaction(f); }
    void set_busy_timeout(int ms) override { db_->set_busy_timeout(ms); }
    std::size_t parallel_calls() const override { return 1; }  // calls take the one connection
    TableAccess& tables() override { return tables_; }
    Database& database() { return *db_; }

  private:
    static std::unique_ptr<Database> open(const std::filesystem::path& file) {
        if (file.has_parent_path()) std::filesystem::create_directories(file.parent_path());
        return std::make_unique<Database>(file);
    }
    std::unique_ptr<Database> db_;
    SqliteAccountStore accounts_;
    SqliteRosterStore rosters_;
    SqliteOfflineStore offline_;
    SqliteBlocklistStore blocklists_;
    SqliteDirectoryStore directory_;
    SqliteArchiveStore archive_;
    SqliteTables tables_;
    XmlStores<SqliteXmlStore, Database> xml_stores_{*db_};
};

}  // namespace

Database* database_of(Backend& backend) {
    auto* b = dynamic_cast<SqliteBackend*>(&backend);
    return b ? &b->database() : nullptr;
}

std::unique_ptr<Backend> make_backend(const BackendOptions& options) {
    return std::make_unique<SqliteBackend>(options);
}

}  // namespace hongyan::storage::sqlite
