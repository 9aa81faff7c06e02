// Small pieces of RFC 6120 the client's parts share: reading an error's defined condition.
#pragma once

#include <string>
#include <string_view>

#include "hongyan/error.hpp"
#include "xmpp/xml.hpp"

namespace hongyan::client {

// RFC 6120 §4.9.3 / §6.5 / §8.3.3: the defined condition is the first child element in
// `cond_ns` that is not <text/>.
std::string condition_of(const xml::Element& el, std::string_view cond_ns);

// The Error for a stanza of type 'error' (RFC 6120 §8.3): kind stanza, its condition and
// text.
Error stanza_error(std::string step, const xml::Element& stanza);

}  // namespace hongyan::client
