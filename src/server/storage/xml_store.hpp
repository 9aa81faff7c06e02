// Per-user XML documents by key: vCards (XEP-0054, one per user) and private XML storage
// (XEP-0049, one per namespace). Each is its own store over its own table.
#pragma once

#include <optional>
#include <string>

namespace hongyan::storage {

class XmlStore {
  public:
    virtual ~XmlStore() = default;
    virtual std::optional<std::string> get(const std::string& user, const std::string& key) = 0;
    // An empty document removes the entry.
    virtual void set(const std::string& user, const std::string& key, const std::string& xml) = 0;
};

}  // namespace hongyan::storage
