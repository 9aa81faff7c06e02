#include "xmpp/jid.hpp"

#include <arpa/inet.h>
#include <stringprep.h>

#include <algorithm>
#include <cstring>

namespace hongyan {

namespace {
constexpr std::size_t kMaxPart = 1023;  // RFC 7622 §3.2-3.4: 1 to 1023 octets

enum class Ascii { unchanged, lowered, invalid, not_ascii };

// Most JIDs are plain ASCII, for which the three profiles are simple enough to apply
// directly: stringprep (RFC 3454) maps ASCII only by case folding (B.2; nodeprep and
// nameprep, not resourceprep), prohibits ASCII controls everywhere and, in nodeprep, the
// space and "&'/:<>@ (RFC 6122 Appendix A.5). This skips libidn's UTF-32 round trip, which
// was a fifth of the server's CPU per routed message.
Ascii ascii_prep(std::string& s, const Stringprep_profile* profile) {
    const bool fold = profile != stringprep_xmpp_resourceprep;
    const bool node = profile == stringprep_xmpp_nodeprep;
    bool lowered = false;
    for (char& ch : s) {
        auto c = static_cast<unsigned char>(ch);
        if (c >= 0x80) return Ascii::not_ascii;
        if (c < 0x20 || c == 0x7f) return Ascii::invalid;
        if (node && (c == ' ' || std::strchr("\"&'/:<>@", c))) return Ascii::invalid;
        if (fold && c >= 'A' && c <= 'Z') {
            ch = static_cast<char>(c - 'A' + 'a');
            lowered = true;
        }
    }
    return lowered ? Ascii::lowered : Ascii::unchanged;
}

std::optional<std::string> prep(std::string_view in, const Stringprep_profile* profile) {
    if (in.empty() || in.size() > kMaxPart) return std::nullopt;
    if (std::memchr(in.data(), '\0', in.size())) return std::nullopt;
    {
        std::string fast(in);
        Ascii a = ascii_prep(fast, profile);
        if (a == Ascii::invalid) return std::nullopt;
        if (a != Ascii::not_ascii) return fast;
    }
    // stringprep works in place; room for growth from case folding and normalisation.
    std::string buf(in);
    buf.resize(in.size() * 4 + 16);
    int rc = stringprep(buf.data(), buf.size(), Stringprep_profile_flags(0), profile);
    if (rc != STRINGPREP_OK) return std::nullopt;
    buf.resize(std::strlen(buf.c_str()));
    if (buf.empty() || buf.size() > kMaxPart) return std::nullopt;
    return buf;
}

bool is_ip_literal(std::string_view d) {
    std::string s(d);
    unsigned char addr[16];
    if (inet_pton(AF_INET, s.c_str(), addr) == 1) return true;
    if (s.size() > 2 && s.front() == '[' && s.back() == ']') {
        std::string inner = s.substr(1, s.size() - 2);
        return inet_pton(AF_INET6, inner.c_str(), addr) == 1;
    }
    return false;
}
}  // namespace

namespace jid {

std::optional<std::string> nodeprep(std::string_view local) {
    return prep(local, stringprep_xmpp_nodeprep);
}

std::optional<std::string> resourceprep(std::string_view resource) {
    return prep(resource, stringprep_xmpp_resourceprep);
}

std::optional<std::string> nameprep(std::string_view domain) {
    // RFC 7622 §3.2: a trailing dot is stripped before any other processing.
    if (!domain.empty() && domain.back() == '.') domain.remove_suffix(1);
    if (domain.empty() || domain.size() > kMaxPart) return std::nullopt;
    if (is_ip_literal(domain)) {
        std::string s(domain);
        std::transform(s.begin(), s.end(), s.begin(),
                       [](unsigned char c) { return std::tolower(c); });
        return s;
    }
    auto out = prep(domain, stringprep_nameprep);
    if (!out) return std::nullopt;
    // Each label: 1-63 octets, letters, digits, hyphens (and non-ASCII for IDNs); no
    // spaces or other ASCII punctuation that would make it an invalid hostname.
    std::string_view rest = *out;
    while (true) {
        auto dot = rest.find('.');
        std::string_view label = rest.substr(0, dot);
        if (label.empty() || label.size() > 63) return std::nullopt;
        for (unsigned char c : label) {
            if (c < 0x80 && !std::isalnum(c) && c != '-' && c != '_') return std::nullopt;
        }
        if (dot == std::string_view::npos) break;
        rest.remove_prefix(dot + 1);
    }
    return out;
}

}  // namespace jid

std::optional<Jid> Jid::make(std::string_view local, std::string_view domain,
                             std::string_view resource) {
    Jid j;
    if (!local.empty()) {
        auto l = jid::nodeprep(local);
        if (!l) return std::nullopt;
        j.local_ = std::move(*l);
    }
    auto d = jid::nameprep(domain);
    if (!d) return std::nullopt;
    j.domain_ = std::move(*d);
    if (!resource.empty()) {
        auto r = jid::resourceprep(resource);
        if (!r) return std::nullopt;
        j.resource_ = std::move(*r);
    }
    return j;
}

std::optional<Jid> Jid::parse(std::string_view text) {
    // RFC 7622 §3.1: the resource starts at the first '/', the localpart ends at the
    // first '@' before it.
    std::string_view rest = text;
    std::string_view resource;
    bool has_resource = false;
    if (auto slash = rest.find('/'); slash != std::string_view::npos) {
        resource = rest.substr(slash + 1);
        rest = rest.substr(0, slash);
        has_resource = true;
        if (resource.empty()) return std::nullopt;
    }
    std::string_view local;
    bool has_local = false;
    if (auto at = rest.find('@'); at != std::string_view::npos) {
        local = rest.substr(0, at);
        rest = rest.substr(at + 1);
        has_local = true;
        if (local.empty()) return std::nullopt;
    }
    if (rest.empty()) return std::nullopt;
    (void)has_resource;
    (void)has_local;
    return make(local, rest, resource);
}

Jid Jid::bare() const {
    Jid j = *this;
    j.resource_.clear();
    return j;
}

Jid Jid::with_resource(std::string resource) const {
    Jid j = *this;
    j.resource_ = std::move(resource);
    return j;
}

std::string Jid::bare_str() const {
    if (local_.empty()) return domain_;
    return local_ + '@' + domain_;
}

std::string Jid::str() const {
    std::string s = bare_str();
    if (!resource_.empty()) {
        s += '/';
        s += resource_;
    }
    return s;
}

}  // namespace hongyan
