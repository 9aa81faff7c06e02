// The archive on PostgreSQL (storage/archive_store.hpp; tables: archive_migrations()).
#pragma once

#include "server/storage/archive_store.hpp"
#include "server/storage/postgresql/connection.hpp"

namespace hongyan::storage::postgresql {

class PgArchiveStore final : public ArchiveStore {
  public:
    explicit PgArchiveStore(Pool& pool) : pool_(pool) {}
    std::int64_t add(const std::string& user, const ArchivedMessage& m) override;
    void add_many(const std::vector<std::pair<std::string, ArchivedMessage>>& batch) override;
    ArchivePage query(const std::string& user, const ArchiveQuery& q) override;
    std::optional<std::int64_t> find(const std::string& user, const std::string& id) override;
    std::optional<ArchivedMessage> first(const std::string& user) override;
    std::optional<ArchivedMessage> last(const std::string& user) override;
    std::size_t count(const std::string& user) override;
    std::int64_t latest_time() override;
    std::size_t remove_before(std::int64_t time_us, std::size_t limit) override;
    std::size_t clear(const std::string& user) override;

  private:
    std::optional<ArchivedMessage> end(const std::string& user, bool newest);
    Pool& pool_;
};

}  // namespace hongyan::storage::postgresql
