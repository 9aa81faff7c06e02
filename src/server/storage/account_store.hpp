// Accounts store: usernames with their SCRAM credentials (never the password itself).
// Methods are synchronous and run on the storage thread (see Storage::run).
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "xmpp/scram.hpp"

namespace hongyan::storage {

class AccountStore {
  public:
    virtual ~AccountStore() = default;
    virtual std::optional<sasl::ScramCredentials> credentials(const std::string& user) = 0;
    // False when the account already exists.
    virtual bool create(const std::string& user, const sasl::ScramCredentials& creds) = 0;
    // False when there is no such account.
    virtual bool set_credentials(const std::string& user, const sasl::ScramCredentials& creds) = 0;
    virtual bool remove(const std::string& user) = 0;
    virtual bool exists(const std::string& user) = 0;
    virtual std::vector<std::string> list() = 0;
    virtual std::size_t count() = 0;
};

}  // namespace hongyan::storage
