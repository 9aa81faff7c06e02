// Every table of a backend, row by row, for the tools that copy a whole database to
// another backend or file (hongyanctl db migrate, backup and restore; storage/copy.hpp).
// The stores never use it: it knows tables, not users.
//
// Both backends create the same tables with the same columns (the same schema versions),
// so a row read from one can be inserted into the other. A value travels as its bytes:
// integers in decimal, blobs and text as they are, booleans as "1" or "0"; each backend
// converts to and from its own column types.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace hongyan::storage {

using Value = std::optional<std::string>;  // nullopt: SQL NULL
using Row = std::vector<Value>;

struct TableInfo {
    std::string name;
    std::vector<std::string> columns;     // in the table's order
    std::vector<std::string> references;  // tables its foreign keys point to
};

class TableAccess {
  public:
    virtual ~TableAccess() = default;

    // The tables that hold data (not the schema's own bookkeeping), sorted by name.
    virtual std::vector<TableInfo> list() = 0;
    // The schema versions: ("core", n) and one entry per module's tables, sorted.
    virtual std::vector<std::pair<std::string, std::int64_t>> versions() = 0;
    virtual std::int64_t count(const std::string& table) = 0;
    // Calls `row` for every row of `t`, the values in the order of `columns` (which must
    // be the table's, in any order).
    virtual void scan(const std::string& table, const std::vector<std::string>& columns,
                      const std::function<void(const Row&)>& row) = 0;
    // Runs `f` with every read it makes seeing one snapshot of the database, however
    // long it takes and whoever writes meanwhile.
    virtual void read(const std::function<void()>& f) = 0;

    // Runs `f` in one write transaction in which the triggers are off (a copied directory
    // feed is not appended to again by the copied accounts), then sets every generated id
    // to continue after the largest row copied. A throw rolls everything back.
    virtual void load(const std::function<void()>& f) = 0;
    // Inserts rows (values in the order of `columns`); inside load().
    virtual void insert(const std::string& table, const std::vector<std::string>& columns,
                        const std::vector<Row>& rows) = 0;
};

// What both backends' TableAccess share: an SQL identifier in double quotes, a
// comma-separated list of them, and the schema's bookkeeping tables that list() leaves out
// (schema_version, module_schema; SQLite's own sqlite_*).
std::string quoted_identifier(const std::string& name);
std::string identifier_list(const std::vector<std::string>& names);
bool schema_bookkeeping(const std::string& table);

}  // namespace hongyan::storage
