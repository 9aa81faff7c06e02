// What kind of message a stanza is, where more than one part of the server asks: carbons,
// the archive, push, offline storage and client state indication each decide what to do
// with a message by the same few tests.
#pragma once

#include "xmpp/xml.hpp"

namespace hongyan::message_kinds {

// A carbon copy (XEP-0280 §6, §7): the server's <received/> or <sent/> wrapper.
bool is_carbon(const xml::Element& m);
// A message that carries nothing but a chat state (XEP-0085), directly or inside a
// carbon: a stanza-id, a delay stamp or the carbon wrapper around it do not count.
bool only_chat_state(const xml::Element& m);

}  // namespace hongyan::message_kinds
