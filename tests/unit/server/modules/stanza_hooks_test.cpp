// Stanza hooks (modules/module.hpp): phases, routes such as "message/bare" and "*/*",
// priorities, the first answer other than pass wins, and a module's registrations go
// when it is removed.
#include <gtest/gtest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <stdexcept>

#include "server/config/config.hpp"
#include "server/modules/module.hpp"
#include "server/server_context.hpp"

using namespace hongyan;
using namespace hongyan::modules;

namespace {

struct HooksTest : ::testing::Test {
    config::Config cfg;
    ServerContext server{cfg};
    ModuleHost host;
    ModuleContext ctx{server, host};
    Jid from = *Jid::parse("alice@localhost/phone");
    Jid to = *Jid::parse("bob@localhost");
    xml::Element message{"message", "jabber:client"};

    StanzaEvent event(StanzaKind kind, TargetKind target) {
        return StanzaEvent{server, nullptr, nullptr, from, to, message, kind, target};
    }
};

TEST_F(HooksTest, RunInDescendingPriorityUntilOneAnswers) {
    std::vector<std::string> calls;
    ctx.begin_module("a");
    ctx.on_stanza(Phase::pre_route, "message/bare", 0, [&](const StanzaEvent&) {
        calls.push_back("low");
        return HookResult::pass;
    });
    ctx.on_stanza(Phase::pre_route, "message/bare", 100, [&](const StanzaEvent&) {
        calls.push_back("high");
        return HookResult::pass;
    });
    ctx.on_stanza(Phase::pre_route, "message/bare", 50, [&](const StanzaEvent&) {
        calls.push_back("middle");
        return HookResult::refused;
    });
    EXPECT_EQ(host.run_hooks(Phase::pre_route, event(StanzaKind::message, TargetKind::bare)),
              HookResult::refused);
    EXPECT_EQ(calls, (std::vector<std::string>{"high", "middle"}));
}

TEST_F(HooksTest, RoutesSelectKindAndTarget) {
    int any = 0, full_presence = 0;
    ctx.on_stanza(Phase::post_deliver, "*/*", 0, [&](const StanzaEvent&) {
        ++any;
        return HookResult::pass;
    });
    ctx.on_stanza(Phase::pre_route, "presence/full", 0, [&](const StanzaEvent&) {
        ++full_presence;
        return HookResult::pass;
    });
    EXPECT_TRUE(host.hooked(Phase::post_deliver, StanzaKind::iq, TargetKind::other_domain));
    EXPECT_TRUE(host.hooked(Phase::pre_route, StanzaKind::presence, TargetKind::full));
    EXPECT_FALSE(host.hooked(Phase::pre_route, StanzaKind::presence, TargetKind::bare));
    EXPECT_FALSE(host.hooked(Phase::pre_route, StanzaKind::message, TargetKind::full));
    host.run_hooks(Phase::post_deliver, event(StanzaKind::message, TargetKind::host));
    host.run_hooks(Phase::pre_route, event(StanzaKind::presence, TargetKind::bare));
    host.run_hooks(Phase::pre_route, event(StanzaKind::presence, TargetKind::full));
    EXPECT_EQ(any, 1);
    EXPECT_EQ(full_presence, 1);
}

TEST_F(HooksTest, BadRoutesAreRefusedAtRegistration) {
    auto pass = [](const StanzaEvent&) { return HookResult::pass; };
    EXPECT_THROW(ctx.on_stanza(Phase::pre_route, "message", 0, pass), std::invalid_argument);
    EXPECT_THROW(ctx.on_stanza(Phase::pre_route, "mesage/bare", 0, pass), std::invalid_argument);
    EXPECT_THROW(ctx.on_stanza(Phase::pre_route, "message/nobody", 0, pass), std::invalid_argument);
    // deliver hooks are asynchronous and take messages only
    EXPECT_THROW(ctx.on_stanza(Phase::deliver, "message/bare", 0, pass), std::invalid_argument);
    auto take = [](const StanzaEvent&) -> boost::asio::awaitable<HookResult> {
        co_return HookResult::handled;
    };
    EXPECT_THROW(ctx.on_deliver("presence/bare", 0, take), std::invalid_argument);
    EXPECT_NO_THROW(ctx.on_deliver("message/bare", 0, take));
}

TEST_F(HooksTest, DeliverHooksAreAwaited) {
    std::vector<int> calls;
    ctx.on_deliver("message/bare", 1,
                   [&](const StanzaEvent&) -> boost::asio::awaitable<HookResult> {
                       calls.push_back(1);
                       co_return HookResult::pass;
                   });
    ctx.on_deliver("message/bare", 0,
                   [&](const StanzaEvent&) -> boost::asio::awaitable<HookResult> {
                       calls.push_back(0);
                       co_return HookResult::handled;
                   });
    boost::asio::io_context io;
    auto result = HookResult::pass;
    auto ev = event(StanzaKind::message, TargetKind::bare);
    boost::asio::co_spawn(
        io,
        [&]() -> boost::asio::awaitable<void> {
            result = co_await host.run_async_hooks(Phase::deliver, ev);
        },
        boost::asio::detached);
    io.run();
    EXPECT_EQ(result, HookResult::handled);
    EXPECT_EQ(calls, (std::vector<int>{1, 0}));
}

TEST_F(HooksTest, RemovingAModuleDropsEverythingItRegistered) {
    ctx.begin_module("keep");
    ctx.add_feature("urn:keep");
    ctx.on_stanza(Phase::pre_route, "iq/host", 0,
                  [](const StanzaEvent&) { return HookResult::pass; });
    ctx.begin_module("gone");
    ctx.add_feature("urn:gone");
    ctx.add_identity("gateway", "test", "gone");
    ctx.add_stream_feature(StreamPhase::post_auth, xml::Element("gone", "urn:gone"));
    ctx.on_iq(IqType::get, IqTarget::host, "urn:gone",
              [](IqRequest&) -> boost::asio::awaitable<void> { co_return; });
    ctx.on_stanza(Phase::pre_route, "iq/host", 10,
                  [](const StanzaEvent&) { return HookResult::handled; });
    ctx.add_disco_node("urn:gone#node", DiscoNode{});
    ASSERT_NE(host.find_iq(IqType::get, IqTarget::host, "urn:gone"), nullptr);
    EXPECT_EQ(host.run_hooks(Phase::pre_route, event(StanzaKind::iq, TargetKind::host)),
              HookResult::handled);
    EXPECT_EQ(host.module_names(), (std::vector<std::string>{"keep", "gone"}));

    host.remove_module("gone");
    EXPECT_EQ(host.find_iq(IqType::get, IqTarget::host, "urn:gone"), nullptr);
    EXPECT_EQ(host.run_hooks(Phase::pre_route, event(StanzaKind::iq, TargetKind::host)),
              HookResult::pass);
    EXPECT_TRUE(host.hooked(Phase::pre_route, StanzaKind::iq, TargetKind::host));
    EXPECT_EQ(host.features(), (std::vector<std::string>{"urn:keep"}));
    EXPECT_TRUE(host.identities().empty());
    EXPECT_TRUE(host.stream_features(StreamPhase::post_auth).empty());
    EXPECT_EQ(host.disco_node("urn:gone#node"), nullptr);
    EXPECT_EQ(host.module_names(), (std::vector<std::string>{"keep"}));
}

}  // namespace
