// TableAccess over the SQLite connection (table_access.hpp).
#pragma once

#include <map>
#include <string>
#include <vector>

#include "server/storage/sqlite/database.hpp"
#include "server/storage/table_access.hpp"

namespace hongyan::storage {
class Backend;
}

namespace hongyan::storage::sqlite {

// The connection of an SQLite backend (for its online backup API); null for another
// backend.
Database* database_of(Backend& backend);

class SqliteTables final : public TableAccess {
  public:
    explicit SqliteTables(Database& db) : db_(db) {}
    std::vector<TableInfo> list() override;
    std::vector<std::pair<std::string, std::int64_t>> versions() override;
    std::int64_t count(const std::string& table) override;
    void scan(const std::string& table, const std::vector<std::string>& columns,
              const std::function<void(const Row&)>& row) override;
    void read(const std::function<void()>& f) override;
    void load(const std::function<void()>& f) override;
    void insert(const std::string& table, const std::vector<std::string>& columns,
                const std::vector<Row>& rows) override;

  private:
    // Column name -> declared type, upper case ("INTEGER", "TEXT", "BLOB").
    const std::map<std::string, std::string>& types(const std::string& table);

    Database& db_;
    std::map<std::string, std::map<std::string, std::string>> types_;
};

}  // namespace hongyan::storage::sqlite
