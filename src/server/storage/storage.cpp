#include "server/storage/storage.hpp"

#include "server/storage/sqlite/account_store.hpp"
#include "server/storage/sqlite/database.hpp"
#include "server/storage/sqlite/im_stores.hpp"

namespace hongyan::storage {

Storage::Storage(const std::filesystem::path& database_file) {
    if (database_file.has_parent_path())
        std::filesystem::create_directories(database_file.parent_path());
    db_ = std::make_unique<sqlite::Database>(database_file);
    accounts_ = std::make_unique<sqlite::SqliteAccountStore>(*db_);
    rosters_ = std::make_unique<sqlite::SqliteRosterStore>(*db_);
    offline_ = std::make_unique<sqlite::SqliteOfflineStore>(*db_);
    blocklists_ = std::make_unique<sqlite::SqliteBlocklistStore>(*db_);
    vcards_ = std::make_unique<sqlite::SqliteXmlStore>(*db_, "vcards");
    private_xml_ = std::make_unique<sqlite::SqliteXmlStore>(*db_, "private_xml");
    directory_ = std::make_unique<sqlite::SqliteDirectoryStore>(*db_);
}

Storage::~Storage() {
    stop();
}

void Storage::start() {
    work_.emplace(ctx_.get_executor());
    thread_ = std::thread([this] { ctx_.run(); });
}

void Storage::stop() {
    work_.reset();
    if (thread_.joinable()) thread_.join();
}

}  // namespace hongyan::storage
