// XEP-0402 §5.3 compatibility (urn:xmpp:bookmarks:1#compat): the bookmarks kept as items
// of the urn:xmpp:bookmarks:1 PEP node, one per room, seen and replaced by older clients
// as one XEP-0048 <storage xmlns='storage:bookmarks'/> in private XML storage (XEP-0049).
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "server/modules/pep/node.hpp"
#include "xmpp/xml.hpp"

namespace hongyan::modules::pep {

inline constexpr std::string_view kBookmarksNode = "urn:xmpp:bookmarks:1";
inline constexpr std::string_view kLegacyBookmarks = "storage:bookmarks";

// The configuration XEP-0402 §3 publishes with: private, every room, no last item.
NodeConfig bookmarks_config();
// The node's items as one XEP-0048 storage element (the room JID from the item id).
xml::Element to_legacy(const Node* node);
// The rooms of a XEP-0048 storage element as (room JID, XEP-0402 <conference/>), in
// order; conferences without a valid 'jid' are skipped, URL bookmarks dropped (XEP-0402
// stores none).
std::vector<std::pair<std::string, xml::Element>> from_legacy(const xml::Element& storage);

}  // namespace hongyan::modules::pep
