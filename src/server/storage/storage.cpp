#include "server/storage/storage.hpp"

#include <spdlog/spdlog.h>

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
    if (thread_.joinable()) {
        boost::asio::post(ctx_, [this] {
            stopping_ = true;
            for (auto& t : retries_) t.cancel();
        });
    }
    work_.reset();
    if (thread_.joinable()) thread_.join();
}

bool Storage::delete_account(const std::string& user, const std::string& bare_jid) {
    return db_->transaction([&] {
        if (!accounts_->exists(user)) return false;
        rosters_->remove_contact(bare_jid);
        return accounts_->remove(user);
    });
}

void Storage::transaction(const std::function<void()>& f) {
    db_->transaction(f);
}

void Storage::set_busy_timeout(int ms) {
    db_->set_busy_timeout(ms);
}

void Storage::log_failure(std::string_view what, const std::exception& e) {
    spdlog::error("{} failed: {}", what, e.what());
}

void Storage::post_retrying(std::string what, std::function<void()> f) {
    boost::asio::post(ctx_, [this, what = std::move(what), f = std::move(f)]() mutable {
        attempt(std::move(what), std::move(f), 0);
    });
}

void Storage::attempt(std::string what, std::function<void()> f, int done) {
    try {
        f();
        if (done > 0) spdlog::info("{}: done after {} retries", what, done);
        return;
    } catch (const std::exception& e) {
        if (done + 1 >= retry_attempts_ || stopping_) {
            spdlog::error("{} failed {} times, giving up: {}", what, done + 1, e.what());
            return;
        }
        auto delay = std::chrono::seconds(std::min(30, 1 << std::min(done, 5)));
        spdlog::warn("{} failed, retrying in {} s: {}", what, delay.count(), e.what());
        auto& timer = retries_.emplace_back(ctx_, delay);
        auto it = std::prev(retries_.end());
        timer.async_wait([this, it, what = std::move(what), f = std::move(f),
                          done](boost::system::error_code ec) mutable {
            retries_.erase(it);
            if (ec) {
                spdlog::error("{} given up at shutdown", what);
                return;
            }
            attempt(std::move(what), std::move(f), done + 1);
        });
    }
}

}  // namespace hongyan::storage
