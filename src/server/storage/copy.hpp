// Copying a whole database between backends, and backups (hongyanctl db migrate, backup,
// restore; docs/storage.md). A backup is a SQLite database file with Hongyan's schema, the
// same for either backend: restore reads it into SQLite or PostgreSQL, and a server can
// even run on it directly.
#pragma once

#include <cstdint>
#include <filesystem>
#include <stdexcept>
#include <string>
#include <vector>

#include "server/storage/backend.hpp"

namespace hongyan::storage {

// A copy that cannot start (a target with data, different schemas) or went wrong.
struct CopyError : std::runtime_error {
    using std::runtime_error::runtime_error;
};

// One table on both sides: rows and checksum (an order-independent sum of a hash of
// every row, so the two backends' row orders do not matter).
struct TableCheck {
    std::string table;
    std::int64_t source_rows = 0, target_rows = 0;
    std::uint64_t source_sum = 0, target_sum = 0;
    bool ok() const { return source_rows == target_rows && source_sum == target_sum; }
};

// What a long copy reports while it runs (hongyanctl draws it).
class CopyProgress {
  public:
    virtual ~CopyProgress() = default;
    // Starts a step: copying `what` (a table, "pages"), `total` units of it.
    virtual void start(const std::string& what, std::int64_t total) = 0;
    virtual void advance(std::int64_t done) = 0;  // of the current step's total
    virtual void finish() = 0;                    // the current step
};

// Copies every row of `from` into `to` (the same schema versions, and no rows yet): one
// snapshot of `from`, one transaction on `to`. Then reads `to` back and compares each
// table with what was read from `from`.
std::vector<TableCheck> copy_database(Backend& from, Backend& to, CopyProgress& progress);

// Writes a backup of `from` to `file`, which must not exist. From SQLite: the online
// backup API, page by page (the server may keep running); from another backend:
// copy_database() into a new SQLite file with `sqlite_schema` (modules::schema("sqlite")).
// Compares every table of the backup with the snapshot it was made from.
std::vector<TableCheck> backup(Backend& from, const std::filesystem::path& file,
                               const std::vector<SchemaPart>& sqlite_schema,
                               CopyProgress& progress);

// Copies the backup `file` into `to`, which must have no rows. The file is not changed: a
// temporary copy of it is brought to this binary's schema first.
std::vector<TableCheck> restore(const std::filesystem::path& file, Backend& to,
                                const std::vector<SchemaPart>& sqlite_schema,
                                CopyProgress& progress);

// A checksum as hongyanctl prints it (16 hex digits).
std::string checksum_hex(std::uint64_t sum);

}  // namespace hongyan::storage
