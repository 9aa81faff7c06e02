// Per-user XML documents by key: vCards (XEP-0054, one per user) and private XML storage
// (XEP-0049, one per namespace). Each is its own store over its own table.
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace hongyan::storage {

class XmlStore {
  public:
    virtual ~XmlStore() = default;
    virtual std::optional<std::string> get(const std::string& user, const std::string& key) = 0;
    // An empty document removes the entry.
    virtual void set(const std::string& user, const std::string& key, const std::string& xml) = 0;
    // Every user's document under `key`, by user (what a module keeps in memory).
    virtual std::vector<std::pair<std::string, std::string>> all(const std::string& key) = 0;
};

bool plain_identifier(std::string_view name);  // backend.hpp

// A backend's xml_store() tables, each store made at its first use: `Store` is the
// backend's implementation, constructed from (Db&, table name).
template <class Store, class Db>
class XmlStores {
  public:
    explicit XmlStores(Db& db) : db_(db) {}
    XmlStore& get(const std::string& table) {
        if (!plain_identifier(table))
            throw std::invalid_argument("'" + table + "' is not a table name");
        std::lock_guard lock(mu_);
        auto& s = stores_[table];
        if (!s) s = std::make_unique<Store>(db_, table);
        return *s;
    }

  private:
    Db& db_;
    std::mutex mu_;
    std::map<std::string, std::unique_ptr<Store>, std::less<>> stores_;
};

}  // namespace hongyan::storage
