// Owns the database and the storage thread. I/O threads never touch the database: they
// `co_await storage.run(...)`, which runs the function on the storage thread and resumes
// the caller on its own executor. The IM workers call the stores directly, inside their
// jobs (im/im.hpp); a backend serialises calls on a connection itself (SQLite's one
// connection behind a lock), so the two never interleave inside a transaction.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <chrono>
#include <functional>
#include <list>
#include <memory>
#include <optional>
#include <string>
#include <thread>

#include "server/storage/backend.hpp"

namespace hongyan::storage {

class Storage {
  public:
    // Over the backend the configuration chooses (storage.backend), with the modules'
    // tables (modules::schema()).
    explicit Storage(const config::Config& cfg, std::vector<SchemaPart> schema = {});
    explicit Storage(std::unique_ptr<Backend> backend);
    ~Storage();

    // Starts the storage thread (the server); tools call the stores directly instead.
    void start();
    // Finishes queued work and joins the thread; retries still waiting are given up.
    void stop();
    void set_retry_attempts(int n) { retry_attempts_ = n; }
    // How long a write waits for another process's lock on the database (milliseconds).
    void set_busy_timeout(int ms) { backend_->set_busy_timeout(ms); }

    Backend& backend() { return *backend_; }
    AccountStore& accounts() { return backend_->accounts(); }
    RosterStore& rosters() { return backend_->rosters(); }
    OfflineStore& offline() { return backend_->offline(); }
    BlocklistStore& blocklists() { return backend_->blocklists(); }
    XmlStore& xml_store(const std::string& table) { return backend_->xml_store(table); }
    DirectoryStore& directory() { return backend_->directory(); }
    ArchiveStore& archive() { return backend_->archive(); }

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
    // Runs `f` on the storage thread once the thread starts and then every `period`;
    // while it answers true (more to do) it runs again at once, after the work queued
    // meanwhile. A failure is logged and waits for the next period. Ends with stop().
    void every(std::string what, std::chrono::seconds period, std::function<bool()> f);

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

    std::unique_ptr<Backend> backend_;
    boost::asio::io_context ctx_{1};
    int retry_attempts_ = 10;
    bool stopping_ = false;                          // storage thread
    std::list<boost::asio::steady_timer> retries_;   // storage thread
    std::list<boost::asio::steady_timer> periodic_;  // storage thread: every()'s timers
    void periodic_run(std::string what, std::chrono::seconds period, std::function<bool()> f,
                      std::list<boost::asio::steady_timer>::iterator timer);
    std::optional<boost::asio::executor_work_guard<boost::asio::io_context::executor_type>> work_;
    std::thread thread_;
};

}  // namespace hongyan::storage
