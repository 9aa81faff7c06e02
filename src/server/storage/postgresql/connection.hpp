// A small layer over libpq: connections that run prepared statements only (each prepared
// on its connection the first time it runs there), and a pool of them with transactions
// that follow the calling thread. Calls block: they run on the IM workers and the storage
// thread, never on an I/O thread (docs/architecture.md, "Ordering").
#pragma once

#include <libpq-fe.h>

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <type_traits>
#include <unordered_map>
#include <vector>

#include "server/storage/storage_error.hpp"

namespace hongyan::storage::postgresql {

class Error : public StorageError {
  public:
    Error(Kind kind, const std::string& what, bool connection_lost = false)
        : StorageError(kind, what), connection_lost_(connection_lost) {}
    // The connection broke (the server restarted, the network went): the statement may
    // not have run, and the connection must be reset before it is used again.
    bool connection_lost() const { return connection_lost_; }

  private:
    bool connection_lost_;
};

// A bytea parameter (sent in binary, as it is).
struct Bytes {
    std::string_view data;
};

// One statement parameter, as libpq takes it.
struct Param {
    Param(std::string_view s) : value(s) {}  // NOLINT: implicit on purpose
    Param(const std::string& s) : value(s) {}
    Param(const char* s) : value(s) {}
    Param(Bytes b) : value(b.data), binary(true) {}
    template <class I, class = std::enable_if_t<std::is_integral_v<I> && !std::is_same_v<I, bool>>>
    Param(I v) : value(std::to_string(v)) {}
    Param(bool v) : value(v ? "true" : "false") {}
    static Param null() {
        Param p("");
        p.is_null = true;
        return p;
    }

    std::string value;
    bool binary = false;
    bool is_null = false;
};

class Result {
  public:
    explicit Result(PGresult* r) : r_(r, PQclear) {}
    int rows() const { return PQntuples(r_.get()); }
    bool empty() const { return rows() == 0; }
    bool null(int row, int col) const { return PQgetisnull(r_.get(), row, col) != 0; }
    std::string text(int row, int col) const;
    std::int64_t integer(int row, int col) const;
    bool boolean(int row, int col) const;
    // A bytea column (text results carry it hex-encoded: "\x0a1b...").
    std::string bytes(int row, int col) const;
    // Rows an INSERT, UPDATE or DELETE touched.
    std::int64_t affected() const;

  private:
    std::unique_ptr<PGresult, void (*)(PGresult*)> r_;
};

struct ConnectOptions {
    std::string url;     // a libpq connection URI or key=value string
    std::string schema;  // first on the search path (a plain name); empty: the default
    int connect_timeout_s = 10;
    int statement_timeout_ms = 30000;
    int lock_timeout_ms = 5000;  // storage.busy_timeout
};

class Connection {
  public:
    // Connects; throws Error when the server cannot be reached or refuses.
    explicit Connection(const ConnectOptions& o);
    ~Connection();
    Connection(const Connection&) = delete;
    Connection& operator=(const Connection&) = delete;

    // Runs `sql` ($1, $2, ... for the parameters) as a prepared statement.
    Result query(std::string_view sql, const std::vector<Param>& params = {});
    template <class... A>
    Result run(std::string_view sql, const A&... args) {
        return query(sql, std::vector<Param>{Param(args)...});
    }
    // Runs fixed SQL without parameters (transaction control, migrations: several
    // statements at once, cursors); the last statement's result.
    Result exec(std::string_view sql);
    void set_lock_timeout(int ms);
    int lock_timeout() const { return lock_timeout_ms_; }

    // True when the connection works as far as libpq knows.
    bool ok() const { return PQstatus(conn_) == CONNECTION_OK; }
    // Reconnects (prepared statements are prepared again as they are used); throws Error.
    void reset();
    // Waits up to `timeout` for a NOTIFY on a channel this connection LISTENs to; the
    // channel names that arrived (empty on timeout). Throws Error when the connection broke.
    std::vector<std::string> wait_for_notifications(std::chrono::milliseconds timeout);

  private:
    void configure();
    [[noreturn]] void fail(PGresult* r, std::string_view what);

    ConnectOptions options_;
    int lock_timeout_ms_ = 0;  // as set on the server side
    PGconn* conn_ = nullptr;
    std::unordered_map<std::string, std::string> prepared_;  // SQL -> statement name
};

// Up to `size` connections, opened as they are needed. A call outside a transaction takes
// one for itself; a transaction keeps one for everything the calling thread does inside it,
// so the stores' calls within Backend::transaction() are part of it.
class Pool {
  public:
    Pool(ConnectOptions options, std::size_t size);
    ~Pool();

    // Runs f(Connection&) on the calling thread's transaction connection, or on a free
    // one. A statement outside a transaction that failed because the connection broke is
    // run once more on a fresh connection (after a database restart the first use of each
    // old connection fails so); inside a transaction the failure goes to the caller.
    template <class F>
    auto with(F f) -> decltype(f(std::declval<Connection&>()));
    // Runs f() in one transaction: committed when it returns, rolled back when it throws.
    // Nested calls on the same thread join the outer transaction. `begin` starts it
    // (a read-only snapshot: "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY").
    void transaction(const std::function<void()>& f, const char* begin = "BEGIN");

    std::size_t size() const { return size_; }
    void set_lock_timeout(int ms);
    const ConnectOptions& options() const { return options_; }

  private:
    Connection* current() const;  // the calling thread's transaction connection, if any
    std::unique_ptr<Connection> take();
    void give_back(std::unique_ptr<Connection> c);

    ConnectOptions options_;
    std::size_t size_;
    std::mutex mu_;
    std::condition_variable freed_;
    std::vector<std::unique_ptr<Connection>> idle_;
    std::size_t open_ = 0;  // idle or lent
};

template <class F>
auto Pool::with(F f) -> decltype(f(std::declval<Connection&>())) {
    if (Connection* c = current()) return f(*c);
    auto c = take();
    struct Back {
        Pool* pool;
        std::unique_ptr<Connection>& c;
        ~Back() { pool->give_back(std::move(c)); }
    } back{this, c};
    try {
        return f(*c);
    } catch (const Error& e) {
        if (!e.connection_lost()) throw;
        c->reset();  // throws when the database is still gone
        return f(*c);
    }
}

}  // namespace hongyan::storage::postgresql
