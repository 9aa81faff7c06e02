#pragma once

#include "server/storage/account_store.hpp"
#include "server/storage/sqlite/database.hpp"

namespace hongyan::storage::sqlite {

class SqliteAccountStore final : public AccountStore {
  public:
    explicit SqliteAccountStore(Database& db) : db_(db) {}
    std::optional<sasl::ScramCredentials> credentials(const std::string& user) override;
    bool create(const std::string& user, const sasl::ScramCredentials& creds) override;
    bool set_credentials(const std::string& user, const sasl::ScramCredentials& creds) override;
    bool remove(const std::string& user) override;
    bool exists(const std::string& user) override;
    std::vector<std::string> list() override;
    std::size_t count() override;

  private:
    Database& db_;
};

}  // namespace hongyan::storage::sqlite
