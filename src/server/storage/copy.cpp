#include "server/storage/copy.hpp"

#include <openssl/evp.h>
#include <sqlite3.h>
#include <stdlib.h>

#include <algorithm>
#include <functional>
#include <map>
#include <set>

#include "server/storage/sqlite/tables.hpp"

namespace hongyan::storage {

namespace {

constexpr std::size_t kBatch = 500;  // rows per insert() call
constexpr int kPagesPerStep = 256;   // pages per sqlite3_backup_step()

// The first 8 bytes of SHA-256 over the row's values, each as a null marker or its length
// and bytes, so that ("ab", "c") and ("a", "bc") differ.
std::uint64_t row_hash(const Row& row) {
    std::string buf;
    for (const auto& v : row) {
        if (!v) {
            buf += '\0';
            continue;
        }
        buf += '\1';
        std::uint64_t n = v->size();
        for (int i = 0; i < 8; ++i) buf += static_cast<char>((n >> (8 * i)) & 0xff);
        buf += *v;
    }
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    if (EVP_Digest(buf.data(), buf.size(), md, &len, EVP_sha256(), nullptr) != 1)
        throw CopyError("SHA-256 failed");
    std::uint64_t h = 0;
    for (int i = 0; i < 8; ++i) h |= static_cast<std::uint64_t>(md[i]) << (8 * i);
    return h;
}

std::string describe(const std::vector<std::pair<std::string, std::int64_t>>& versions) {
    std::string s;
    for (const auto& [owner, v] : versions)
        s += (s.empty() ? "" : ", ") + owner + " " + std::to_string(v);
    return s.empty() ? "none" : s;
}

// The target's tables in an order that inserts referenced rows first, each checked
// against the source's.
std::vector<TableInfo> plan(const std::vector<TableInfo>& source,
                            const std::vector<TableInfo>& target) {
    std::map<std::string, const TableInfo*> src, dst;
    for (const auto& t : source) src[t.name] = &t;
    for (const auto& t : target) dst[t.name] = &t;
    for (const auto& t : source)
        if (!dst.count(t.name))
            throw CopyError("the source has a table '" + t.name +
                            "' that the target does not: its rows would be lost");
    for (const auto& t : target) {
        auto it = src.find(t.name);
        if (it == src.end())
            throw CopyError("the target has a table '" + t.name + "' that the source does not");
        std::set<std::string> a(t.columns.begin(), t.columns.end());
        std::set<std::string> b(it->second->columns.begin(), it->second->columns.end());
        if (a != b)
            throw CopyError("table '" + t.name + "' has different columns on the two sides");
    }
    std::vector<TableInfo> ordered;
    std::set<std::string> placed;
    while (ordered.size() < target.size()) {
        bool progress = false;
        for (const auto& t : target) {
            if (placed.count(t.name)) continue;
            bool ready = std::all_of(t.references.begin(), t.references.end(), [&](auto& r) {
                return r == t.name || placed.count(r) || !dst.count(r);
            });
            if (!ready) continue;
            ordered.push_back(t);
            placed.insert(t.name);
            progress = true;
        }
        if (!progress) throw CopyError("the tables' foreign keys form a cycle");
    }
    return ordered;
}

// Reads table `t` on `access` as progress step `what` of `total` rows: how many rows it
// has and their checksum. `each` sees every row too (the copy inserts them).
struct Tally {
    std::int64_t rows = 0;
    std::uint64_t sum = 0;
};
Tally tally(TableAccess& access, const TableInfo& t, const std::string& what, std::int64_t total,
            CopyProgress& progress, const std::function<void(const Row&)>& each = nullptr) {
    Tally out;
    progress.start(what, total);
    access.scan(t.name, t.columns, [&](const Row& r) {
        if (each) each(r);
        out.sum += row_hash(r);
        if (++out.rows % static_cast<std::int64_t>(kBatch) == 0) progress.advance(out.rows);
    });
    progress.advance(out.rows);
    progress.finish();
    return out;
}

// Reads every table of `tables` on `access`, filling the target side of `checks`.
void verify(TableAccess& access, const std::vector<TableInfo>& tables,
            std::vector<TableCheck>& checks, CopyProgress& progress) {
    access.read([&] {
        for (std::size_t i = 0; i < tables.size(); ++i) {
            auto& c = checks[i];
            const auto got =
                tally(access, tables[i], "verify " + tables[i].name, c.source_rows, progress);
            c.target_rows = got.rows;
            c.target_sum = got.sum;
        }
    });
}

// Source-side counts and checksums of every table, in one snapshot (inside read()).
std::vector<TableCheck> summarize(TableAccess& access, const std::vector<TableInfo>& tables,
                                  CopyProgress& progress) {
    std::vector<TableCheck> checks;
    for (const auto& t : tables) {
        const auto got = tally(access, t, "read " + t.name, access.count(t.name), progress);
        checks.push_back(TableCheck{t.name, got.rows, 0, got.sum, 0});
    }
    return checks;
}

// An sqlite3 connection of this file's own (backup files are not backends until checked).
class RawDb {
  public:
    RawDb(const std::filesystem::path& file, int flags) {
        if (sqlite3_open_v2(file.c_str(), &db_, flags, nullptr) != SQLITE_OK) {
            std::string why = db_ ? sqlite3_errmsg(db_) : "out of memory";
            sqlite3_close(db_);
            throw CopyError("cannot open " + file.string() + ": " + why);
        }
    }
    ~RawDb() { sqlite3_close(db_); }
    RawDb(const RawDb&) = delete;
    RawDb& operator=(const RawDb&) = delete;
    sqlite3* get() { return db_; }
    void exec(const char* sql) {
        char* err = nullptr;
        if (sqlite3_exec(db_, sql, nullptr, nullptr, &err) != SQLITE_OK) {
            std::string why = err ? err : sqlite3_errmsg(db_);
            sqlite3_free(err);
            throw CopyError(std::string(sql) + ": " + why);
        }
    }

  private:
    sqlite3* db_ = nullptr;
};

// Copies database `from` page by page into `to` (SQLite's online backup API), reported
// as step `what`.
void copy_pages(sqlite3* from, sqlite3* to, const std::string& what, CopyProgress& progress) {
    sqlite3_backup* b = sqlite3_backup_init(to, "main", from, "main");
    if (!b) throw CopyError(std::string("cannot start the backup: ") + sqlite3_errmsg(to));
    bool started = false;
    int rc;
    do {
        rc = sqlite3_backup_step(b, kPagesPerStep);
        const int total = sqlite3_backup_pagecount(b);
        if (!started) progress.start(what, total);
        started = true;
        progress.advance(total - sqlite3_backup_remaining(b));
        if (rc == SQLITE_BUSY || rc == SQLITE_LOCKED) sqlite3_sleep(50);
    } while (rc == SQLITE_OK || rc == SQLITE_BUSY || rc == SQLITE_LOCKED);
    sqlite3_backup_finish(b);
    progress.finish();
    if (rc != SQLITE_DONE)
        throw CopyError(std::string("backup failed: ") + sqlite3_errstr(rc) + ": " +
                        sqlite3_errmsg(to));
}

// A backup is one self-contained file: no -wal beside it.
void make_standalone(const std::filesystem::path& file) {
    RawDb db(file, SQLITE_OPEN_READWRITE);
    db.exec("PRAGMA journal_mode=DELETE");
}

void remove_database_file(const std::filesystem::path& file) {
    std::error_code ec;
    for (const char* suffix : {"", "-wal", "-shm", "-journal"})
        std::filesystem::remove(file.string() + suffix, ec);
}

std::unique_ptr<Backend> open_sqlite(const std::filesystem::path& file,
                                     const std::vector<SchemaPart>& schema) {
    BackendOptions o;
    o.sqlite_file = file;
    o.schema = schema;
    return open_backend("sqlite", o);
}

// A directory of its own under the system's temporary directory, removed with its
// contents at the end.
class TempDir {
  public:
    TempDir() {
        std::string pattern = (std::filesystem::temp_directory_path() / "hongyan-XXXXXX").string();
        if (!mkdtemp(pattern.data())) throw CopyError("cannot create a temporary directory");
        path_ = pattern;
    }
    ~TempDir() {
        std::error_code ec;
        std::filesystem::remove_all(path_, ec);
    }
    TempDir(const TempDir&) = delete;
    TempDir& operator=(const TempDir&) = delete;
    const std::filesystem::path& path() const { return path_; }

  private:
    std::filesystem::path path_;
};

}  // namespace

std::string checksum_hex(std::uint64_t sum) {
    static const char digits[] = "0123456789abcdef";
    std::string s(16, '0');
    for (int i = 15; i >= 0; --i, sum >>= 4) s[static_cast<std::size_t>(i)] = digits[sum & 0xf];
    return s;
}

std::vector<TableCheck> copy_database(Backend& from, Backend& to, CopyProgress& progress) {
    auto& src = from.tables();
    auto& dst = to.tables();
    const auto sv = src.versions(), dv = dst.versions();
    if (sv != dv)
        throw CopyError("the schemas differ (source: " + describe(sv) +
                        "; target: " + describe(dv) + ")");
    const auto tables = plan(src.list(), dst.list());
    for (const auto& t : tables)
        if (auto n = dst.count(t.name))
            throw CopyError("the target is not empty: table " + t.name + " has " +
                            std::to_string(n) + " rows (copy into a new, empty database)");
    std::vector<TableCheck> checks;
    src.read([&] {
        dst.load([&] {
            for (const auto& t : tables) {
                std::vector<Row> batch;
                const auto got =
                    tally(src, t, "copy " + t.name, src.count(t.name), progress, [&](const Row& r) {
                        batch.push_back(r);
                        if (batch.size() < kBatch) return;
                        dst.insert(t.name, t.columns, batch);
                        batch.clear();
                    });
                if (!batch.empty()) dst.insert(t.name, t.columns, batch);
                checks.push_back(TableCheck{t.name, got.rows, 0, got.sum, 0});
            }
        });
    });
    verify(dst, tables, checks, progress);
    return checks;
}

std::vector<TableCheck> backup(Backend& from, const std::filesystem::path& file,
                               const std::vector<SchemaPart>& sqlite_schema,
                               CopyProgress& progress) {
    if (std::filesystem::exists(file))
        throw CopyError(file.string() + " already exists (a backup never overwrites a file)");
    if (file.has_parent_path() && !std::filesystem::is_directory(file.parent_path()))
        throw CopyError("no directory " + file.parent_path().string());
    try {
        std::vector<TableCheck> checks;
        if (auto* db = sqlite::database_of(from)) {
            auto& src = from.tables();
            const auto tables = src.list();
            src.read([&] {
                // The checksums and the pages come from the same snapshot.
                checks = summarize(src, tables, progress);
                auto held = db->lock();
                RawDb out(file, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE);
                copy_pages(db->handle(), out.get(), "copy pages", progress);
            });
            auto copy = open_sqlite(file, sqlite_schema);
            verify(copy->tables(), tables, checks, progress);
        } else {
            auto copy = open_sqlite(file, sqlite_schema);
            checks = copy_database(from, *copy, progress);
        }
        make_standalone(file);
        return checks;
    } catch (...) {
        remove_database_file(file);
        throw;
    }
}

std::vector<TableCheck> restore(const std::filesystem::path& file, Backend& to,
                                const std::vector<SchemaPart>& sqlite_schema,
                                CopyProgress& progress) {
    if (!std::filesystem::is_regular_file(file)) throw CopyError("no backup file " + file.string());
    TempDir tmp;
    const auto work = tmp.path() / "backup.sqlite";
    {
        RawDb in(file, SQLITE_OPEN_READONLY);
        RawDb out(work, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE);
        try {
            copy_pages(in.get(), out.get(), "read backup pages", progress);
        } catch (const CopyError& e) {
            throw CopyError(file.string() + " is not a backup (" + e.what() + ")");
        }
        // Without the schema's version table this is some other SQLite database: opening
        // it as a backend would create an empty schema and "restore" nothing.
        sqlite3_stmt* st = nullptr;
        const char* q =
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name IN "
            "('schema_version', 'accounts')";
        int found = 0;
        if (sqlite3_prepare_v2(out.get(), q, -1, &st, nullptr) == SQLITE_OK)
            while (sqlite3_step(st) == SQLITE_ROW) ++found;
        sqlite3_finalize(st);
        if (found != 2)
            throw CopyError(file.string() + " is a SQLite database but not a Hongyan backup");
    }
    auto src = open_sqlite(work, sqlite_schema);  // brought to this binary's schema
    return copy_database(*src, to, progress);
}

}  // namespace hongyan::storage
