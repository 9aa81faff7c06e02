// XEP-0115 Entity Capabilities: the verification string of a disco#info answer, which a
// presence's <c ver='...'/> announces, so that a server learns an entity's features
// once per software version rather than once per resource.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "xmpp/xml.hpp"

namespace hongyan::caps {

// The input string S of §5.1 (identities, features and extended forms of XEP-0128 §5.4)
// for a disco#info <query/>.
std::string input_string(const xml::Element& query);
// The 'ver' of `query` with hash `hash` ("sha-1" or "sha-256", the IANA names of §5.1),
// or nothing for a hash this server does not compute.
std::optional<std::string> ver(const xml::Element& query, std::string_view hash);

}  // namespace hongyan::caps
