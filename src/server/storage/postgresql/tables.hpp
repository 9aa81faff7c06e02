// TableAccess over the PostgreSQL pool (table_access.hpp): the tables of the schema the
// connections use (storage.postgresql.schema, or the database's default).
#pragma once

#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "server/storage/postgresql/connection.hpp"
#include "server/storage/table_access.hpp"

namespace hongyan::storage::postgresql {

class PgTables final : public TableAccess {
  public:
    explicit PgTables(Pool& pool) : pool_(pool) {}
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
    // Column name -> type as information_schema names it ("bigint", "bytea", ...).
    const std::map<std::string, std::string>& types(const std::string& table);

    Pool& pool_;
    std::mutex mu_;
    std::map<std::string, std::map<std::string, std::string>> types_;
};

}  // namespace hongyan::storage::postgresql
