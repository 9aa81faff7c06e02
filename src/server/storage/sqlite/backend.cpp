// The SQLite backend: every store over one connection (the embedded default).
#include <memory>

#include "server/storage/backend.hpp"
#include "server/storage/sqlite/account_store.hpp"
#include "server/storage/sqlite/database.hpp"
#include "server/storage/sqlite/im_stores.hpp"

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
          vcards_(*db_, "vcards"),
          private_xml_(*db_, "private_xml"),
          directory_(*db_) {
        db_->set_busy_timeout(o.busy_timeout_ms);
    }
    std::string_view name() const override { return "sqlite"; }
    AccountStore& accounts() override { return accounts_; }
    RosterStore& rosters() override { return rosters_; }
    OfflineStore& offline() override { return offline_; }
    BlocklistStore& blocklists() override { return blocklists_; }
    XmlStore& vcards() override { return vcards_; }
    XmlStore& private_xml() override { return private_xml_; }
    DirectoryStore& directory() override { return directory_; }
    void transaction(const std::function<void()>& f) override { db_->transaction(f); }
    void set_busy_timeout(int ms) override { db_->set_busy_timeout(ms); }

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
    SqliteXmlStore vcards_, private_xml_;
    SqliteDirectoryStore directory_;
};

}  // namespace

std::unique_ptr<Backend> make_backend(const BackendOptions& options) {
    return std::make_unique<SqliteBackend>(options);
}

}  // namespace hongyan::storage::sqlite
