// The presence subscription state machine of RFC 6121 §3 and Appendix A, as pure functions
// over one roster item's state, so that every row of the tables is unit-tested.
#pragma once

#include <optional>
#include <string_view>

#include "server/storage/roster_store.hpp"

namespace hongyan::im {

using storage::SubState;

enum class SubType { subscribe, subscribed, unsubscribe, unsubscribed };
std::optional<SubType> sub_type(std::string_view presence_type);
std::string_view to_string(SubType t);

// The roster 'subscription' attribute (RFC 6121 §2.1.2.5) and 'ask' (§2.1.2.2).
std::string_view subscription_attr(const SubState& s);
bool ask_attr(const SubState& s);

struct Outcome {
    SubState state;        // the state after the stanza
    bool forward = false;  // route (outbound) or deliver to the owner (inbound)
    // Inbound subscribe already approved: the server answers 'subscribed' itself.
    bool auto_subscribed = false;
    bool changed() const { return changed_; }
    bool changed_ = false;
};

// The owner sends `t` to the contact (RFC 6121 Appendix A.2).
Outcome outbound(const SubState& s, SubType t);
// The contact sent `t` to the owner (RFC 6121 Appendix A.3).
Outcome inbound(const SubState& s, SubType t);

}  // namespace hongyan::im
