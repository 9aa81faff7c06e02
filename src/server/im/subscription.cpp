#include "server/im/subscription.hpp"

namespace hongyan::im {

std::optional<SubType> sub_type(std::string_view t) {
    if (t == "subscribe") return SubType::subscribe;
    if (t == "subscribed") return SubType::subscribed;
    if (t == "unsubscribe") return SubType::unsubscribe;
    if (t == "unsubscribed") return SubType::unsubscribed;
    return std::nullopt;
}

std::string_view to_string(SubType t) {
    switch (t) {
        case SubType::subscribe:
            return "subscribe";
        case SubType::subscribed:
            return "subscribed";
        case SubType::unsubscribe:
            return "unsubscribe";
        case SubType::unsubscribed:
            return "unsubscribed";
    }
    return "";
}

std::string_view subscription_attr(const SubState& s) {
    if (s.to && s.from) return "both";
    if (s.to) return "to";
    if (s.from) return "from";
    return "none";
}

bool ask_attr(const SubState& s) {
    return s.pending_out && !s.to;
}

namespace {
Outcome result(const SubState& before, SubState after, bool forward, bool auto_sub = false) {
    Outcome o;
    o.state = after;
    o.forward = forward;
    o.auto_subscribed = auto_sub;
    o.changed_ = !(before == after);
    return o;
}
}  // namespace

Outcome outbound(const SubState& s, SubType t) {
    SubState n = s;
    switch (t) {
        case SubType::subscribe:
            // A.2.1: None/From gain Pending Out; the request is routed in every state, so
            // that the contact's server can answer for an existing subscription.
            if (!n.to) n.pending_out = true;
            return result(s, n, true);
        case SubType::unsubscribe:
            // A.2.2: To and Pending Out are cancelled; routed in every state.
            n.to = false;
            n.pending_out = false;
            return result(s, n, true);
        case SubType::subscribed:
            // A.2.3: approves a pending request; without one it is a pre-approval (§3.4),
            // which is recorded and not routed.
            if (n.pending_in) {
                n.pending_in = false;
                n.from = true;
                n.preapproved = false;
                return result(s, n, true);
            }
            if (!n.from) n.preapproved = true;
            return result(s, n, false);
        case SubType::unsubscribed:
            // A.2.4: refuses a pending request or cancels From; also drops a pre-approval.
            n.preapproved = false;
            if (n.pending_in || n.from) {
                n.pending_in = false;
                n.from = false;
                return result(s, n, true);
            }
            return result(s, n, false);
    }
    return result(s, n, false);
}

Outcome inbound(const SubState& s, SubType t) {
    SubState n = s;
    switch (t) {
        case SubType::subscribe:
            // A.3.1: already subscribed: the server answers for the owner (§3.1.3 makes it a
            // MUST). Pre-approved: completed without asking (§3.4.2). A repeated request
            // while one is pending is not delivered again. Otherwise it waits (Pending In).
            if (n.from) return result(s, n, false, true);
            if (n.preapproved) {
                n.preapproved = false;
                n.from = true;
                return result(s, n, false, true);
            }
            if (n.pending_in) return result(s, n, false);
            n.pending_in = true;
            return result(s, n, true);
        case SubType::unsubscribe:
            // A.3.2: cancels Pending In and From.
            if (n.pending_in || n.from) {
                n.pending_in = false;
                n.from = false;
                return result(s, n, true);
            }
            return result(s, n, false);
        case SubType::subscribed:
            // A.3.3: only an outstanding request can be approved.
            if (n.pending_out) {
                n.pending_out = false;
                n.to = true;
                return result(s, n, true);
            }
            return result(s, n, false);
        case SubType::unsubscribed:
            // A.3.4: refuses Pending Out or cancels To.
            if (n.pending_out || n.to) {
                n.pending_out = false;
                n.to = false;
                return result(s, n, true);
            }
            return result(s, n, false);
    }
    return result(s, n, false);
}

}  // namespace hongyan::im
