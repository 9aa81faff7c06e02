// Owns the database and the thread all storage work runs on. I/O threads never touch the
// database: they `co_await storage.run(...)`, which runs the function on the storage
// thread and resumes the caller on its own executor.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <filesystem>
#include <functional>
#include <list>
#include <memory>
#include <optional>
#include <string>
#include <thread>

#include "server/storage/account_store.hpp"
#include "server/storage/blocklist_store.hpp"
#include "server/storage/directory_store.hpp"
#include "server/storage/offline_store.hpp"
#include "server/storage/roster_store.hpp"
#include "server/storage/xml_store.hpp"

namespace hongyan::storage {

namespace sqlite {
class Database;
}

class Storage {
  public:
    explicit Storage(const std::filesystem::path& database_file);
    ~Storage();

    // Starts the storage thread (the server); tools call the stores directly instead.
    void start();
    // Finishes queued work and joins the thread; retries still waiting are given up.
    void stop();
    void set_retry_attempts(int n) { retry_attempts_ = n; }
    // How long a write waits for another process's lock on the database (milliseconds).
    void set_busy_timeout(int ms);

    AccountStore& accounts() { return *accounts_; }
    RosterStore& rosters() { return *rosters_; }
    OfflineStore& offline() { return *offline_; }
    BlocklistStore& blocklists() { return *blocklists_; }
    XmlStore& vcards() { return *vcards_; }
    XmlStore& private_xml() { return *private_xml_; }
    DirectoryStore& directory() { return *directory_; }

    // Runs `f` on the storage thread without waiting for it (work is done in order). A
    // storage error inside it (a locked database, a full disk) is logged: it never takes
    // the server down. Work whose failure would lose something uses post_retrying().
    template <class F>
    void post(F f) {
        boost::asio::post(ctx_, [f = std::move(f)]() mutable {
            try {
                f();
            } catch (const std::exception& e) {
                log_failure("storage job", e);
            }
        });
    }
    // As post(), but a failing `f` runs again later (1 s, then doubling up to 30 s, at
    // most storage.retry_attempts times), for writes that must happen eventually.
    void post_retrying(std::string what, std::function<void()> f);
    boost::asio::io_context::executor_type executor() { return ctx_.get_executor(); }

    // Deletes an account (its own data goes with it) and removes `bare_jid` from every
    // roster that lists it, in one transaction; false when there is no such account.
    bool delete_account(const std::string& user, const std::string& bare_jid);
    // Runs `f` (storage thread) in one write transaction: all of its writes or none.
    void transaction(const std::function<void()>& f);

    template <class F>
    auto run(F f) -> boost::asio::awaitable<decltype(f())> {
        using R = decltype(f());
        auto result = co_await boost::asio::co_spawn(
            ctx_, [f = std::move(f)]() mutable -> boost::asio::awaitable<R> { co_return f(); },
            boost::asio::use_awaitable);
        co_return result;
    }

  private:
    static void log_failure(std::string_view what, const std::exception& e);
    void attempt(std::string what, std::function<void()> f, int done);

    std::unique_ptr<sqlite::Database> db_;
    std::unique_ptr<AccountStore> accounts_;
    std::unique_ptr<RosterStore> rosters_;
    std::unique_ptr<OfflineStore> offline_;
    std::unique_ptr<BlocklistStore> blocklists_;
    std::unique_ptr<XmlStore> vcards_, private_xml_;
    std::unique_ptr<DirectoryStore> directory_;
    boost::asio::io_context ctx_{1};
    int retry_attempts_ = 10;
    bool stopping_ = false;                         // storage thread
    std::list<boost::asio::steady_timer> retries_;  // storage thread
    std::optional<boost::asio::executor_work_guard<boost::asio::io_context::executor_type>> work_;
    std::thread thread_;
};

}  // namespace hongyan::storage
