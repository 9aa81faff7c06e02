// Typed configuration: one schema (config/schema.cpp) lists every key with its type,
// default, bounds and documentation; values come from the defaults, then a TOML file, then
// `--set key=value` overrides. Anything wrong is reported with the key's name.
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace hongyan::config {

enum class ValueType { integer, boolean, string, string_list };

using Value = std::variant<std::int64_t, bool, std::string, std::vector<std::string>>;

struct KeySpec {
    std::string_view key;  // "section.name"
    ValueType type;
    Value default_value;
    std::string_view doc;
    std::int64_t min = 0;  // integers only
    std::int64_t max = INT64_MAX;
    std::vector<std::string_view> choices = {};  // strings and list items, if restricted
};

const std::vector<KeySpec>& schema();
const KeySpec* find_key(std::string_view key);

class ConfigError : public std::runtime_error {
  public:
    using std::runtime_error::runtime_error;
};

class Config {
  public:
    // Defaults only.
    Config();
    // Defaults, then `file` (if given), then each "key=value" in `overrides`.
    static Config load(const std::optional<std::filesystem::path>& file,
                       const std::vector<std::string>& overrides);

    void set(std::string_view key, Value v);  // validates; throws ConfigError
    void set_from_string(std::string_view key, std::string_view text);

    std::int64_t integer(std::string_view key) const;
    bool boolean(std::string_view key) const;
    const std::string& string(std::string_view key) const;
    const std::vector<std::string>& list(std::string_view key) const;

    // Virtual hosts (docs/configuration.md, "Several domains"): every domain this server
    // serves, server.domain first, then the domain of each [[hosts]] table, in the order
    // of the file.
    std::vector<std::string> host_domains() const;
    // The same, comma-separated, for messages and logs.
    std::string host_list() const;
    // The configuration `domain` runs with: this one with its [[hosts]] table applied,
    // server.domain set to it and, for every host but the first, its data (database,
    // generated certificate) in <data_dir>/hosts/<domain>. Throws ConfigError for a domain
    // that is not hosted here.
    Config for_host(std::string_view domain) const;
    // True for the keys a [[hosts]] table may set: what belongs to one domain's users
    // (registration, rosters, shared groups, offline storage, blocking, its certificate).
    static bool host_scoped(std::string_view key);

    // Derived paths.
    std::filesystem::path data_dir() const;
    std::filesystem::path database_path() const;
    std::filesystem::path cert_file() const;
    std::filesystem::path key_file() const;

    // The whole configuration as TOML (defaults included), for --check-config output.
    std::string dump() const;

    // One [[hosts]] table: a domain and the host-scoped values it sets.
    struct HostTable {
        std::string domain;
        std::vector<std::pair<std::string, Value>> values;
    };

  private:
    std::map<std::string, Value, std::less<>> values_;
    std::vector<HostTable> hosts_;
};

// Markdown reference of every key, generated from the schema (docs/configuration.md).
std::string reference_markdown();
std::string value_to_toml(const Value& v);

}  // namespace hongyan::config
