#include "server/storage/storage.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <stdexcept>

#include "server/config/config.hpp"

namespace hongyan::storage {

namespace sqlite {
std::unique_ptr<Backend> make_backend(const BackendOptions& options);
}
namespace postgresql {
std::unique_ptr<Backend> make_backend(const BackendOptions& options);
}

bool plain_identifier(std::string_view name) {
    return !name.empty() && std::all_of(name.begin(), name.end(), [](char c) {
        return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_';
    });
}

std::string contains_pattern(std::string_view needle) {
    std::string pattern = "%";
    for (char c : needle) {
        if (c == '%' || c == '_' || c == '\\') pattern += '\\';
        pattern += c;
    }
    return pattern + "%";
}

std::string quoted_identifier(const std::string& name) {
    std::string s = "\"";
    for (char c : name) s += c == '"' ? std::string("\"\"") : std::string(1, c);
    return s + "\"";
}

std::string identifier_list(const std::vector<std::string>& names) {
    std::string s;
    for (const auto& n : names) s += (s.empty() ? "" : ", ") + quoted_identifier(n);
    return s;
}

bool schema_bookkeeping(const std::string& table) {
    return table == "schema_version" || table == "module_schema" || table.starts_with("sqlite_");
}

const std::vector<std::string_view>& backend_names() {
    static const std::vector<std::string_view> names = {"sqlite", "postgresql"};
    return names;
}

std::unique_ptr<Backend> open_backend(std::string_view name, const BackendOptions& options) {
    if (name == "sqlite") return sqlite::make_backend(options);
    if (name == "postgresql") {
        if (options.postgresql.url.empty())
            throw std::invalid_argument(
                "storage.backend is postgresql but storage.postgresql.url is not set");
        if (!options.postgresql.schema.empty() && !plain_identifier(options.postgresql.schema))
            throw std::invalid_argument("storage.postgresql.schema '" + options.postgresql.schema +
                                        "' is not a plain name (a-z, 0-9 and _)");
        return postgresql::make_backend(options);
    }
    throw std::invalid_argument("unknown storage backend '" + std::string(name) + "'");
}

std::unique_ptr<Backend> open_backend(const config::Config& cfg, std::vector<SchemaPart> schema) {
    BackendOptions o;
    o.sqlite_file = cfg.database_path();
    o.sqlite_cache_mib = static_cast<int>(cfg.integer("storage.sqlite_cache"));
    o.busy_timeout_ms = static_cast<int>(cfg.integer("storage.busy_timeout"));
    o.postgresql.url = cfg.string("storage.postgresql.url");
    o.postgresql.schema = cfg.string("storage.postgresql.schema");
    o.postgresql.pool_size = static_cast<std::size_t>(cfg.integer("storage.postgresql.pool_size"));
    o.postgresql.connect_timeout_s =
        static_cast<int>(cfg.integer("storage.postgresql.connect_timeout"));
    o.postgresql.statement_timeout_ms =
        static_cast<int>(cfg.integer("storage.postgresql.statement_timeout"));
    o.schema = std::move(schema);
    return open_backend(cfg.string("storage.backend"), o);
}

std::string xml_store_migration(std::string_view backend, std::string_view table) {
    if (backend == "sqlite")
        return "CREATE TABLE IF NOT EXISTS " + std::string(table) +
               " (username TEXT NOT NULL REFERENCES accounts(username) ON DELETE CASCADE, "
               "key TEXT NOT NULL, xml TEXT NOT NULL, PRIMARY KEY (username, key)) "
               "WITHOUT ROWID";
    if (backend == "postgresql")
        return "CREATE TABLE IF NOT EXISTS " + std::string(table) +
               " (username TEXT NOT NULL REFERENCES accounts(username) ON DELETE CASCADE, "
               "key TEXT NOT NULL, xml TEXT NOT NULL, PRIMARY KEY (username, key))";
    throw std::invalid_argument("unknown storage backend '" + std::string(backend) + "'");
}

Storage::Storage(const config::Config& cfg, std::vector<SchemaPart> schema)
    : Storage(open_backend(cfg, std::move(schema))) {
    retry_attempts_ = static_cast<int>(cfg.integer("storage.retry_attempts"));
}

Storage::Storage(std::unique_ptr<Backend> backend) : backend_(std::move(backend)) {}

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
            for (auto& t : periodic_) t.cancel();
        });
    }
    work_.reset();
    if (thread_.joinable()) thread_.join();
}

bool Storage::delete_account(const std::string& user, const std::string& bare_jid) {
    bool removed = false;
    backend_->transaction([&] {
        if (!accounts().exists(user)) return;
        rosters().remove_contact(bare_jid);
        removed = accounts().remove(user);
    });
    return removed;
}

void Storage::transaction(const std::function<void()>& f) {
    backend_->transaction(f);
}

void Storage::log_failure(std::string_view what, const std::exception& e) {
    spdlog::error("{} failed: {}", what, e.what());
}

void Storage::every(std::string what, std::chrono::seconds period, std::function<bool()> f) {
    boost::asio::post(ctx_, [this, what = std::move(what), period, f = std::move(f)]() mutable {
        if (stopping_) return;
        auto it = periodic_.emplace(periodic_.end(), ctx_);
        periodic_run(std::move(what), period, std::move(f), it);
    });
}

void Storage::periodic_run(std::string what, std::chrono::seconds period, std::function<bool()> f,
                           std::list<boost::asio::steady_timer>::iterator timer) {
    if (stopping_) return;
    bool more = false;
    try {
        more = f();
    } catch (const std::exception& e) {
        log_failure(what, e);
    }
    auto again = [this, what = std::move(what), period, f = std::move(f), timer]() mutable {
        periodic_run(std::move(what), period, std::move(f), timer);
    };
    if (more) {
        boost::asio::post(ctx_, std::move(again));
        return;
    }
    timer->expires_after(period);
    timer->async_wait([again = std::move(again)](boost::system::error_code ec) mutable {
        if (!ec) again();
    });
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
