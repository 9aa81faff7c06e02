// RFC 6121 Appendix A, row by row: each subscription stanza in each of the nine states,
// outbound (the user sends it, A.2) and inbound (the contact sent it, A.3).
#include "server/im/subscription.hpp"

#include <gtest/gtest.h>

#include <string>

namespace hongyan::im {
namespace {

// The nine states of RFC 6121 Appendix A.1, by name.
SubState st(const std::string& name, bool preapproved = false) {
    SubState s;
    s.to = name == "To" || name == "To+PI" || name == "Both";
    s.from = name == "From" || name == "From+PO" || name == "Both";
    s.pending_out = name == "None+PO" || name == "None+PO+PI" || name == "From+PO";
    s.pending_in = name == "None+PI" || name == "None+PO+PI" || name == "To+PI";
    s.preapproved = preapproved;
    return s;
}

std::string name(const SubState& s) {
    std::string n = s.to && s.from ? "Both" : s.to ? "To" : s.from ? "From" : "None";
    if (s.pending_out) n += "+PO";
    if (s.pending_in) n += "+PI";
    if (s.preapproved) n += "+pre";
    return n;
}

struct Row {
    const char* state;
    SubType type;
    const char* after;
    bool forward;
};

constexpr auto sub = SubType::subscribe;
constexpr auto unsub = SubType::unsubscribe;
constexpr auto subd = SubType::subscribed;
constexpr auto unsubd = SubType::unsubscribed;

// A.2.1-A.2.4: outbound. "forward" = the user's server routes the stanza.
const Row kOutbound[] = {
    // A.2.1 subscribe: always routed.
    {"None", sub, "None+PO", true},
    {"None+PO", sub, "None+PO", true},
    {"None+PI", sub, "None+PO+PI", true},
    {"None+PO+PI", sub, "None+PO+PI", true},
    {"To", sub, "To", true},
    {"To+PI", sub, "To+PI", true},
    {"From", sub, "From+PO", true},
    {"From+PO", sub, "From+PO", true},
    {"Both", sub, "Both", true},
    // A.2.2 unsubscribe: always routed.
    {"None", unsub, "None", true},
    {"None+PO", unsub, "None", true},
    {"None+PI", unsub, "None+PI", true},
    {"None+PO+PI", unsub, "None+PI", true},
    {"To", unsub, "None", true},
    {"To+PI", unsub, "None+PI", true},
    {"From", unsub, "From", true},
    {"From+PO", unsub, "From", true},
    {"Both", unsub, "From", true},
    // A.2.3 subscribed: approves Pending In; otherwise a pre-approval (§3.4), not routed.
    {"None", subd, "None+pre", false},
    {"None+PO", subd, "None+PO+pre", false},
    {"None+PI", subd, "From", true},
    {"None+PO+PI", subd, "From+PO", true},
    {"To", subd, "To+pre", false},
    {"To+PI", subd, "Both", true},
    {"From", subd, "From", false},
    {"From+PO", subd, "From+PO", false},
    {"Both", subd, "Both", false},
    // A.2.4 unsubscribed: refuses Pending In or cancels From.
    {"None", unsubd, "None", false},
    {"None+PO", unsubd, "None+PO", false},
    {"None+PI", unsubd, "None", true},
    {"None+PO+PI", unsubd, "None+PO", true},
    {"To", unsubd, "To", false},
    {"To+PI", unsubd, "To", true},
    {"From", unsubd, "None", true},
    {"From+PO", unsubd, "None+PO", true},
    {"Both", unsubd, "To", true},
};

// A.3.1-A.3.4: inbound. "forward" = delivered to the user.
const Row kInbound[] = {
    // A.3.1 subscribe (From/Both are answered by the server: see AutoReply below).
    {"None", sub, "None+PI", true},
    {"None+PO", sub, "None+PO+PI", true},
    {"None+PI", sub, "None+PI", false},
    {"None+PO+PI", sub, "None+PO+PI", false},
    {"To", sub, "To+PI", true},
    {"To+PI", sub, "To+PI", false},
    {"From", sub, "From", false},
    {"From+PO", sub, "From+PO", false},
    {"Both", sub, "Both", false},
    // A.3.2 unsubscribe
    {"None", unsub, "None", false},
    {"None+PO", unsub, "None+PO", false},
    {"None+PI", unsub, "None", true},
    {"None+PO+PI", unsub, "None+PO", true},
    {"To", unsub, "To", false},
    {"To+PI", unsub, "To", true},
    {"From", unsub, "None", true},
    {"From+PO", unsub, "None+PO", true},
    {"Both", unsub, "To", true},
    // A.3.3 subscribed
    {"None", subd, "None", false},
    {"None+PO", subd, "To", true},
    {"None+PI", subd, "None+PI", false},
    {"None+PO+PI", subd, "To+PI", true},
    {"To", subd, "To", false},
    {"To+PI", subd, "To+PI", false},
    {"From", subd, "From", false},
    {"From+PO", subd, "Both", true},
    {"Both", subd, "Both", false},
    // A.3.4 unsubscribed
    {"None", unsubd, "None", false},
    {"None+PO", unsubd, "None", true},
    {"None+PI", unsubd, "None+PI", false},
    {"None+PO+PI", unsubd, "None+PI", true},
    {"To", unsubd, "None", true},
    {"To+PI", unsubd, "None+PI", true},
    {"From", unsubd, "From", false},
    {"From+PO", unsubd, "From", true},
    {"Both", unsubd, "From", true},
};

TEST(Subscription, OutboundTableA2) {
    for (const auto& r : kOutbound) {
        Outcome o = outbound(st(r.state), r.type);
        EXPECT_EQ(name(o.state), r.after) << r.state << " + outbound " << to_string(r.type);
        EXPECT_EQ(o.forward, r.forward) << r.state << " + outbound " << to_string(r.type);
        EXPECT_FALSE(o.auto_subscribed);
    }
}

TEST(Subscription, InboundTableA3) {
    for (const auto& r : kInbound) {
        Outcome o = inbound(st(r.state), r.type);
        EXPECT_EQ(name(o.state), r.after) << r.state << " + inbound " << to_string(r.type);
        EXPECT_EQ(o.forward, r.forward) << r.state << " + inbound " << to_string(r.type);
    }
}

TEST(Subscription, InboundSubscribeAlreadyApprovedIsAnsweredByServer) {
    // §3.1.3: From, From+PO and Both: the server replies 'subscribed' itself.
    for (const char* s : {"From", "From+PO", "Both"}) {
        EXPECT_TRUE(inbound(st(s), sub).auto_subscribed) << s;
        EXPECT_FALSE(inbound(st(s), sub).changed()) << s;
    }
    for (const char* s : {"None", "None+PO", "To"})
        EXPECT_FALSE(inbound(st(s), sub).auto_subscribed);
}

TEST(Subscription, PreApprovalCompletesAnInboundSubscribe) {
    // §3.4.2: pre-approved: not delivered, answered, and the contact gets From.
    Outcome o = inbound(st("None", true), sub);
    EXPECT_TRUE(o.auto_subscribed);
    EXPECT_FALSE(o.forward);
    EXPECT_EQ(name(o.state), "From");
    EXPECT_EQ(name(inbound(st("To", true), sub).state), "Both");
    EXPECT_EQ(name(inbound(st("None+PO", true), sub).state), "From+PO");
}

TEST(Subscription, UnsubscribedCancelsPreApproval) {
    // §3.4: an outbound unsubscribed withdraws a pre-approval without routing.
    Outcome o = outbound(st("None", true), unsubd);
    EXPECT_EQ(name(o.state), "None");
    EXPECT_FALSE(o.forward);
    EXPECT_TRUE(o.changed());
}

TEST(Subscription, RosterAttributes) {
    // §2.1.2.5 subscription, §2.1.2.2 ask: Pending In shows in neither.
    EXPECT_EQ(subscription_attr(st("None+PI")), "none");
    EXPECT_EQ(subscription_attr(st("To+PI")), "to");
    EXPECT_EQ(subscription_attr(st("From+PO")), "from");
    EXPECT_EQ(subscription_attr(st("Both")), "both");
    EXPECT_TRUE(ask_attr(st("None+PO")));
    EXPECT_TRUE(ask_attr(st("From+PO")));
    EXPECT_FALSE(ask_attr(st("None+PI")));
    EXPECT_FALSE(ask_attr(st("Both")));
}

}  // namespace
}  // namespace hongyan::im
