// JIDs (RFC 7622): parsing and normalisation with the stringprep profiles peers use.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace hongyan {

class Jid {
  public:
    Jid() = default;
    // Parses and normalises; nullopt when the JID is malformed (RFC 7622 §3).
    static std::optional<Jid> parse(std::string_view text);
    // Builds from parts that are each normalised; nullopt if any part is invalid.
    static std::optional<Jid> make(std::string_view local, std::string_view domain,
                                   std::string_view resource = {});

    const std::string& local() const { return local_; }
    const std::string& domain() const { return domain_; }
    const std::string& resource() const { return resource_; }
    bool is_bare() const { return resource_.empty(); }
    bool is_domain() const { return local_.empty() && resource_.empty(); }

    Jid bare() const;
    Jid with_resource(std::string resource) const;
    std::string str() const;
    std::string bare_str() const;

    friend bool operator==(const Jid&, const Jid&) = default;

  private:
    std::string local_, domain_, resource_;
};

namespace jid {
// Each returns the prepared string, or nullopt when the part is invalid for its profile.
std::optional<std::string> nodeprep(std::string_view local);
std::optional<std::string> nameprep(std::string_view domain);
std::optional<std::string> resourceprep(std::string_view resource);
}  // namespace jid

}  // namespace hongyan
