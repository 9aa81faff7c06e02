#include "server/config/config.hpp"

#include <fmt/format.h>

#include <toml++/toml.h>
#include <algorithm>
#include <charconv>
#include <functional>
#include <sstream>

#include "xmpp/jid.hpp"

namespace hongyan::config {

namespace {

std::string_view type_name(ValueType t) {
    switch (t) {
        case ValueType::integer:
            return "an integer";
        case ValueType::boolean:
            return "true or false";
        case ValueType::string:
            return "a string";
        case ValueType::string_list:
            return "a list of strings";
    }
    return "a value";
}

std::string expectation(const KeySpec& k) {
    std::string s(type_name(k.type));
    if (k.type == ValueType::integer) s += fmt::format(" from {} to {}", k.min, k.max);
    if (!k.choices.empty()) {
        s += k.type == ValueType::string_list ? " each one of: " : " one of: ";
        for (std::size_t i = 0; i < k.choices.size(); ++i) {
            if (i) s += ", ";
            s += k.choices[i];
        }
    }
    return s;
}

// Suggests a known key close to a mistyped one.
std::string did_you_mean(std::string_view key) {
    std::string best;
    std::size_t best_d = 4;
    for (const auto& k : schema()) {
        const std::string_view a = key, b = k.key;
        std::vector<std::size_t> prev(b.size() + 1), cur(b.size() + 1);
        for (std::size_t j = 0; j <= b.size(); ++j) prev[j] = j;
        for (std::size_t i = 1; i <= a.size(); ++i) {
            cur[0] = i;
            for (std::size_t j = 1; j <= b.size(); ++j)
                cur[j] = std::min(
                    {prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1)});
            std::swap(prev, cur);
        }
        if (prev[b.size()] < best_d) {
            best_d = prev[b.size()];
            best = std::string(k.key);
        }
    }
    return best.empty() ? std::string() : fmt::format(" (did you mean '{}'?)", best);
}

const KeySpec& spec_or_throw(std::string_view key) {
    const KeySpec* k = find_key(key);
    if (!k)
        throw ConfigError(fmt::format("unknown configuration key '{}'{}", key, did_you_mean(key)));
    return *k;
}

bool parse_bool(std::string_view t, bool& out) {
    if (t == "true" || t == "yes" || t == "on" || t == "1") {
        out = true;
        return true;
    }
    if (t == "false" || t == "no" || t == "off" || t == "0") {
        out = false;
        return true;
    }
    return false;
}

using Setter = std::function<void(const std::string& key, Value v)>;

void collect(const toml::table& table, const std::string& prefix, const Setter& set,
             const std::string& source) {
    for (const auto& [k, node] : table) {
        std::string key =
            prefix.empty() ? std::string(k.str()) : prefix + "." + std::string(k.str());
        if (const auto* sub = node.as_table()) {
            collect(*sub, key, set, source);
            continue;
        }
        const KeySpec& spec = spec_or_throw(key);
        auto wrong = [&] {
            return ConfigError(
                fmt::format("{}: key '{}' expects {}", source, key, expectation(spec)));
        };
        switch (spec.type) {
            case ValueType::integer:
                if (auto v = node.value<std::int64_t>(); v && node.is_integer())
                    set(key, *v);
                else
                    throw wrong();
                break;
            case ValueType::boolean:
                if (auto v = node.value<bool>(); v && node.is_boolean())
                    set(key, *v);
                else
                    throw wrong();
                break;
            case ValueType::string:
                if (auto v = node.value<std::string>(); v && node.is_string())
                    set(key, *v);
                else
                    throw wrong();
                break;
            case ValueType::string_list: {
                const auto* arr = node.as_array();
                if (!arr) throw wrong();
                std::vector<std::string> items;
                for (const auto& item : *arr) {
                    auto v = item.value<std::string>();
                    if (!v || !item.is_string()) throw wrong();
                    items.push_back(*v);
                }
                set(key, items);
                break;
            }
        }
    }
}

std::vector<Config::HostTable> parse_hosts(const toml::node& node, const std::string& source) {
    std::vector<Config::HostTable> out;
    const auto* arr = node.as_array();
    if (!arr || !arr->is_array_of_tables())
        throw ConfigError(source +
                          ": 'hosts' expects tables, written [[hosts]] with a domain each");
    for (const auto& item : *arr) {
        const auto& t = *item.as_table();
        auto d = t["domain"].value<std::string>();
        auto domain = d ? jid::nameprep(*d) : std::nullopt;
        if (!domain || domain->empty())
            throw ConfigError(source + ": every [[hosts]] table needs a domain = \"...\"");
        Config::HostTable host{*domain, {}};
        Config scratch;  // validates each value as set() does
        toml::table rest = t;
        rest.erase("domain");
        collect(
            rest, "",
            [&](const std::string& key, Value v) {
                if (!Config::host_scoped(key))
                    throw ConfigError(fmt::format(
                        "{}: key '{}' applies to the whole server and cannot be set for the host "
                        "{} (docs/configuration.md lists what a [[hosts]] table may set)",
                        source, key, *domain));
                scratch.set(key, v);
                host.values.emplace_back(key, std::move(v));
            },
            source);
        out.push_back(std::move(host));
    }
    return out;
}

}  // namespace

bool Config::host_scoped(std::string_view key) {
    auto section = key.substr(0, key.find('.'));
    return key == "tls.cert_file" || key == "tls.key_file" ||
           (section == "register" && key != "register.per_ip_per_hour") ||
           section == "shared_groups" || section == "roster" || section == "offline" ||
           key == "blocking.max_items" || key == "storage.postgresql.schema";
}

std::vector<std::string> Config::host_domains() const {
    std::vector<std::string> out;
    auto first = jid::nameprep(string("server.domain"));
    out.push_back(first ? *first : string("server.domain"));
    for (const auto& h : hosts_) out.push_back(h.domain);
    return out;
}

Config Config::for_host(std::string_view domain) const {
    auto domains = host_domains();
    if (domain == domains.front()) {
        Config c = *this;
        c.set("server.domain", std::string(domain));
        return c;
    }
    for (const auto& h : hosts_) {
        if (h.domain != domain) continue;
        Config c = *this;
        c.hosts_.clear();
        c.set("server.domain", h.domain);
        c.set("server.data_dir", (data_dir() / "hosts" / h.domain).string());
        // On a shared PostgreSQL database each further host has tables of its own.
        std::string schema = "host_";
        for (char ch : h.domain)
            schema += (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') ? ch : '_';
        c.set("storage.postgresql.schema", schema);
        for (const auto& [key, v] : h.values) c.set(key, v);
        return c;
    }
    throw ConfigError("this server does not host " + std::string(domain) + " (it hosts " +
                      host_list() + ")");
}

std::string Config::host_list() const {
    std::string list;
    for (const auto& d : host_domains()) list += (list.empty() ? "" : ", ") + d;
    return list;
}

Config::Config() {
    for (const auto& k : schema()) values_.emplace(std::string(k.key), k.default_value);
}

Config Config::load(const std::optional<std::filesystem::path>& file,
                    const std::vector<std::string>& overrides) {
    Config cfg;
    if (file) {
        toml::table table;
        try {
            table = toml::parse_file(file->string());
        } catch (const toml::parse_error& e) {
            const auto& where = e.source().begin;
            throw ConfigError(fmt::format("{}:{}:{}: {}", file->string(), where.line, where.column,
                                          e.description()));
        }
        try {
            if (const auto* hosts = table.get("hosts")) {
                cfg.hosts_ = parse_hosts(*hosts, file->string());
                table.erase("hosts");
            }
            collect(
                table, "", [&cfg](const std::string& key, Value v) { cfg.set(key, std::move(v)); },
                file->string());
        } catch (const ConfigError& e) {
            std::string msg = e.what();
            if (msg.rfind(file->string(), 0) != 0) msg = file->string() + ": " + msg;
            throw ConfigError(msg);
        }
    }
    for (const auto& o : overrides) {
        auto eq = o.find('=');
        if (eq == std::string::npos || eq == 0)
            throw ConfigError(
                fmt::format("--set '{}': expected key=value, e.g. c2s.port=15222", o));
        cfg.set_from_string(std::string_view(o).substr(0, eq), std::string_view(o).substr(eq + 1));
    }
    auto domains = cfg.host_domains();
    for (std::size_t i = 0; i < domains.size(); ++i)
        for (std::size_t j = 0; j < i; ++j)
            if (domains[i] == domains[j])
                throw ConfigError("the domain " + domains[i] +
                                  " is hosted twice (server.domain is the first host, then each "
                                  "[[hosts]] table)");
    return cfg;
}

void Config::set(std::string_view key, Value v) {
    const KeySpec& spec = spec_or_throw(key);
    auto wrong = [&](std::string_view got) {
        return ConfigError(fmt::format("key '{}' expects {}, got {}", key, expectation(spec), got));
    };
    switch (spec.type) {
        case ValueType::integer: {
            auto* i = std::get_if<std::int64_t>(&v);
            if (!i) throw wrong("a value of another type");
            if (*i < spec.min || *i > spec.max) throw wrong(std::to_string(*i));
            break;
        }
        case ValueType::boolean:
            if (!std::holds_alternative<bool>(v)) throw wrong("a value of another type");
            break;
        case ValueType::string: {
            auto* s = std::get_if<std::string>(&v);
            if (!s) throw wrong("a value of another type");
            if (!spec.choices.empty() &&
                std::find(spec.choices.begin(), spec.choices.end(), *s) == spec.choices.end())
                throw wrong("'" + *s + "'");
            break;
        }
        case ValueType::string_list: {
            auto* l = std::get_if<std::vector<std::string>>(&v);
            if (!l) throw wrong("a value of another type");
            if (!spec.choices.empty())
                for (const auto& item : *l)
                    if (std::find(spec.choices.begin(), spec.choices.end(), item) ==
                        spec.choices.end())
                        throw wrong("'" + item + "'");
            break;
        }
    }
    values_[std::string(key)] = std::move(v);
}

void Config::set_from_string(std::string_view key, std::string_view text) {
    const KeySpec& spec = spec_or_throw(key);
    switch (spec.type) {
        case ValueType::integer: {
            std::int64_t v = 0;
            auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
            if (ec != std::errc() || p != text.data() + text.size() || text.empty())
                throw ConfigError(
                    fmt::format("key '{}' expects {}, got '{}'", key, expectation(spec), text));
            set(key, v);
            break;
        }
        case ValueType::boolean: {
            bool b = false;
            if (!parse_bool(text, b))
                throw ConfigError(
                    fmt::format("key '{}' expects {}, got '{}'", key, expectation(spec), text));
            set(key, b);
            break;
        }
        case ValueType::string:
            set(key, std::string(text));
            break;
        case ValueType::string_list: {
            std::vector<std::string> items;
            std::size_t pos = 0;
            while (pos < text.size()) {
                auto comma = text.find(',', pos);
                if (comma == std::string_view::npos) comma = text.size();
                if (comma > pos) items.emplace_back(text.substr(pos, comma - pos));
                pos = comma + 1;
            }
            set(key, items);
            break;
        }
    }
}

std::int64_t Config::integer(std::string_view key) const {
    return std::get<std::int64_t>(values_.find(key)->second);
}
bool Config::boolean(std::string_view key) const {
    return std::get<bool>(values_.find(key)->second);
}
const std::string& Config::string(std::string_view key) const {
    return std::get<std::string>(values_.find(key)->second);
}
const std::vector<std::string>& Config::list(std::string_view key) const {
    return std::get<std::vector<std::string>>(values_.find(key)->second);
}

std::filesystem::path Config::data_dir() const {
    return string("server.data_dir");
}
std::filesystem::path Config::database_path() const {
    return data_dir() / "hongyan.db";
}
std::filesystem::path Config::cert_file() const {
    const auto& f = string("tls.cert_file");
    return f.empty() ? data_dir() / "tls" / "cert.pem" : std::filesystem::path(f);
}
std::filesystem::path Config::key_file() const {
    const auto& f = string("tls.key_file");
    return f.empty() ? data_dir() / "tls" / "key.pem" : std::filesystem::path(f);
}

std::string value_to_toml(const Value& v) {
    return std::visit(
        [](const auto& x) -> std::string {
            using T = std::decay_t<decltype(x)>;
            if constexpr (std::is_same_v<T, std::int64_t>) {
                return std::to_string(x);
            } else if constexpr (std::is_same_v<T, bool>) {
                return x ? "true" : "false";
            } else if constexpr (std::is_same_v<T, std::string>) {
                std::ostringstream os;
                os << toml::value<std::string>(x);
                return os.str();
            } else {
                std::string s = "[";
                for (std::size_t i = 0; i < x.size(); ++i) {
                    if (i) s += ", ";
                    std::ostringstream os;
                    os << toml::value<std::string>(x[i]);
                    s += os.str();
                }
                return s + "]";
            }
        },
        v);
}

std::string Config::dump() const {
    std::string out;
    std::string section;
    for (const auto& k : schema()) {
        auto dot = k.key.find('.');
        std::string sec(k.key.substr(0, dot));
        if (sec != section) {
            out += (section.empty() ? "" : "\n") + fmt::format("[{}]\n", sec);
            section = sec;
        }
        out += fmt::format("{} = {}\n", k.key.substr(dot + 1),
                           value_to_toml(values_.find(k.key)->second));
    }
    for (const auto& h : hosts_) {
        out += fmt::format("\n[[hosts]]\ndomain = {}\n", value_to_toml(h.domain));
        for (const auto& [key, v] : h.values)
            out += fmt::format("{} = {}\n", key, value_to_toml(v));
    }
    return out;
}

std::string reference_markdown() {
    std::string out;
    std::string section;
    for (const auto& k : schema()) {
        auto dot = k.key.find('.');
        std::string sec(k.key.substr(0, dot));
        if (sec != section) {
            out += fmt::format(
                "\n### [{}]\n\n| key | type | default | meaning |\n| --- | --- | --- | --- |\n",
                sec);
            section = sec;
        }
        std::string type(type_name(k.type));
        if (k.type == ValueType::integer) type = fmt::format("integer {}..{}", k.min, k.max);
        if (!k.choices.empty()) {
            type += k.type == ValueType::string_list ? ", items from: " : ": ";
            for (std::size_t i = 0; i < k.choices.size(); ++i)
                type += (i ? ", " : "") + std::string(k.choices[i]);
        }
        std::string def = value_to_toml(k.default_value);
        std::string doc(k.doc);
        for (std::size_t p = 0; (p = doc.find('|', p)) != std::string::npos; p += 2)
            doc.insert(p, "\\");
        if (Config::host_scoped(k.key)) doc += " *Per host: a [[hosts]] table may set it.*";
        std::string type_cell = type;
        out +=
            fmt::format("| `{}` | {} | `{}` | {} |\n", k.key.substr(dot + 1), type_cell, def, doc);
    }
    return out;
}

}  // namespace hongyan::config
