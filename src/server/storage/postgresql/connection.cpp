#include "server/storage/postgresql/connection.hpp"

#include <poll.h>

#include <algorithm>
#include <cstdlib>
#include <utility>

namespace hongyan::storage::postgresql {

namespace {

int hex_value(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

// SQLSTATE classes that tell a caller something (storage_error.hpp): a full disk, and the
// conditions where trying again later helps.
StorageError::Kind kind_of(std::string_view sqlstate) {
    if (sqlstate == "53100") return StorageError::Kind::full;  // disk_full
    if (sqlstate == "40001" || sqlstate == "40P01" || sqlstate == "55P03" || sqlstate == "57014" ||
        sqlstate == "53300")
        return StorageError::Kind::busy;  // serialization, deadlock, lock or statement
                                          // timeout, too many connections
    return StorageError::Kind::other;
}

std::string trimmed(const char* message) {
    std::string s = message ? message : "";
    while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
    return s.empty() ? "unknown error" : s;
}

// The thread's open transactions, innermost last (Pool::transaction()).
struct Frame {
    const Pool* pool;
    Connection* conn;
};
thread_local std::vector<Frame> frames;

}  // namespace

std::string Result::text(int row, int col) const {
    return std::string(PQgetvalue(r_.get(), row, col),
                       static_cast<std::size_t>(PQgetlength(r_.get(), row, col)));
}

std::int64_t Result::integer(int row, int col) const {
    return std::strtoll(PQgetvalue(r_.get(), row, col), nullptr, 10);
}

bool Result::boolean(int row, int col) const {
    return PQgetvalue(r_.get(), row, col)[0] == 't';
}

std::string Result::bytes(int row, int col) const {
    std::string_view hex(PQgetvalue(r_.get(), row, col),
                         static_cast<std::size_t>(PQgetlength(r_.get(), row, col)));
    if (hex.size() < 2 || hex[0] != '\\' || hex[1] != 'x')
        throw Error(StorageError::Kind::other, "postgresql: bytea column not in hex format");
    std::string out;
    out.reserve((hex.size() - 2) / 2);
    for (std::size_t i = 2; i + 1 < hex.size(); i += 2) {
        int hi = hex_value(hex[i]), lo = hex_value(hex[i + 1]);
        if (hi < 0 || lo < 0) throw Error(StorageError::Kind::other, "postgresql: bad bytea hex");
        out += static_cast<char>(hi * 16 + lo);
    }
    return out;
}

std::int64_t Result::affected() const {
    const char* n = PQcmdTuples(r_.get());
    return n && *n ? std::strtoll(n, nullptr, 10) : 0;
}

Connection::Connection(const ConnectOptions& o) : options_(o) {
    const std::string timeout = std::to_string(options_.connect_timeout_s);
    // The URL comes last and is expanded (expand_dbname): what it says wins.
    const char* keys[] = {"connect_timeout", "application_name", "dbname", nullptr};
    const char* values[] = {timeout.c_str(), "hongyand", options_.url.c_str(), nullptr};
    conn_ = PQconnectdbParams(keys, values, 1);
    if (!conn_) throw Error(StorageError::Kind::other, "postgresql: out of memory");
    if (!ok()) {
        std::string why = trimmed(PQerrorMessage(conn_));
        PQfinish(conn_);
        conn_ = nullptr;
        throw Error(StorageError::Kind::other, "postgresql: cannot connect: " + why, true);
    }
    configure();
}

Connection::~Connection() {
    if (conn_) PQfinish(conn_);
}

void Connection::configure() {
    // "relation already exists, skipping" and the like are not worth a log line.
    PQsetNoticeProcessor(
        conn_, [](void*, const char*) {}, nullptr);
    exec("SET statement_timeout = " + std::to_string(options_.statement_timeout_ms));
    if (!options_.schema.empty()) exec("SET search_path = " + options_.schema);
    set_lock_timeout(options_.lock_timeout_ms);
}

void Connection::set_lock_timeout(int ms) {
    exec("SET lock_timeout = " + std::to_string(ms));
    lock_timeout_ms_ = ms;
}

void Connection::fail(PGresult* r, std::string_view what) {
    const char* field = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : nullptr;
    const std::string state = field ? field : "";  // before PQclear() frees it
    std::string message = trimmed(r ? PQresultErrorMessage(r) : PQerrorMessage(conn_));
    if (r) PQclear(r);
    const bool lost = PQstatus(conn_) != CONNECTION_OK;
    throw Error(kind_of(state),
                "postgresql: " + message + " in: " + std::string(what.substr(0, 200)), lost);
}

Result Connection::query(std::string_view sql, const std::vector<Param>& params) {
    std::string key(sql);
    auto it = prepared_.find(key);
    if (it == prepared_.end()) {
        std::string name = "s" + std::to_string(prepared_.size() + 1);
        PGresult* r = PQprepare(conn_, name.c_str(), key.c_str(), 0, nullptr);
        if (!r || PQresultStatus(r) != PGRES_COMMAND_OK) fail(r, sql);
        PQclear(r);
        it = prepared_.emplace(std::move(key), std::move(name)).first;
    }
    std::vector<const char*> values;
    std::vector<int> lengths, formats;
    values.reserve(params.size());
    lengths.reserve(params.size());
    formats.reserve(params.size());
    for (const auto& p : params) {
        values.push_back(p.is_null ? nullptr : p.value.data());
        lengths.push_back(static_cast<int>(p.value.size()));
        formats.push_back(p.binary ? 1 : 0);
    }
    PGresult* r = PQexecPrepared(conn_, it->second.c_str(), static_cast<int>(params.size()),
                                 values.data(), lengths.data(), formats.data(), 0);
    const auto status = r ? PQresultStatus(r) : PGRES_FATAL_ERROR;
    if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK) fail(r, sql);
    return Result(r);
}

Result Connection::exec(std::string_view sql) {
    std::string s(sql);
    PGresult* r = PQexec(conn_, s.c_str());
    const auto status = r ? PQresultStatus(r) : PGRES_FATAL_ERROR;
    if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK) fail(r, sql);
    return Result(r);
}

void Connection::reset() {
    prepared_.clear();
    PQreset(conn_);
    if (!ok())
        throw Error(StorageError::Kind::other,
                    "postgresql: cannot reconnect: " + trimmed(PQerrorMessage(conn_)), true);
    configure();
}

std::vector<std::string> Connection::wait_for_notifications(std::chrono::milliseconds timeout) {
    std::vector<std::string> out;
    auto collect = [&] {
        if (!PQconsumeInput(conn_))
            throw Error(StorageError::Kind::other, "postgresql: " + trimmed(PQerrorMessage(conn_)),
                        true);
        while (PGnotify* n = PQnotifies(conn_)) {
            out.emplace_back(n->relname);
            PQfreemem(n);
        }
    };
    collect();
    if (!out.empty()) return out;
    pollfd p{PQsocket(conn_), POLLIN, 0};
    if (p.fd < 0) throw Error(StorageError::Kind::other, "postgresql: connection closed", true);
    if (::poll(&p, 1, static_cast<int>(timeout.count())) > 0) collect();
    return out;
}

Pool::Pool(ConnectOptions options, std::size_t size)
    : options_(std::move(options)), size_(std::max<std::size_t>(size, 1)) {
    // The first connection now: a wrong URL or password is an error at start, not at the
    // first login.
    give_back(take());
}

Pool::~Pool() = default;

Connection* Pool::current() const {
    for (auto it = frames.rbegin(); it != frames.rend(); ++it)
        if (it->pool == this) return it->conn;
    return nullptr;
}

std::unique_ptr<Connection> Pool::take() {
    std::unique_lock lock(mu_);
    const auto wait = std::chrono::milliseconds(std::max(options_.lock_timeout_ms, 1));
    if (!freed_.wait_for(lock, wait, [&] { return !idle_.empty() || open_ < size_; }))
        throw Error(StorageError::Kind::busy,
                    "postgresql: all " + std::to_string(size_) + " connections are busy");
    const int lock_timeout = options_.lock_timeout_ms;
    std::unique_ptr<Connection> c;
    if (!idle_.empty()) {
        c = std::move(idle_.back());
        idle_.pop_back();
    } else {
        ++open_;
    }
    lock.unlock();
    try {
        if (!c) {
            auto o = options_;
            o.lock_timeout_ms = lock_timeout;
            c = std::make_unique<Connection>(o);
        } else if (!c->ok()) {
            c->reset();
        }
        if (c->lock_timeout() != lock_timeout) c->set_lock_timeout(lock_timeout);
    } catch (...) {
        lock.lock();
        if (c)
            idle_.push_back(std::move(c));  // broken, reset again next time
        else
            --open_;
        freed_.notify_one();
        throw;
    }
    return c;
}

void Pool::give_back(std::unique_ptr<Connection> c) {
    if (!c) return;
    std::lock_guard lock(mu_);
    idle_.push_back(std::move(c));
    freed_.notify_one();
}

void Pool::set_lock_timeout(int ms) {
    std::lock_guard lock(mu_);
    options_.lock_timeout_ms = ms;
}

void Pool::transaction(const std::function<void()>& f, const char* begin) {
    if (current()) {
        f();  // part of the transaction already open on this thread
        return;
    }
    auto c = take();
    frames.push_back(Frame{this, c.get()});
    struct Done {
        Pool* pool;
        std::unique_ptr<Connection>& c;
        ~Done() {
            frames.pop_back();
            pool->give_back(std::move(c));
        }
    } done{this, c};
    try {
        c->exec(begin);
    } catch (const Error& e) {
        if (!e.connection_lost()) throw;
        c->reset();  // nothing ran yet: a fresh connection may begin
        c->exec(begin);
    }
    try {
        f();
        c->exec("COMMIT");
    } catch (...) {
        if (c->ok()) {
            try {
                c->exec("ROLLBACK");
            } catch (...) {
                // The connection goes back broken; the next take() resets it.
            }
        }
        throw;
    }
}

}  // namespace hongyan::storage::postgresql
