// A client session is not its connection: output queued while it is detached waits, in
// order and counted, for the next connection that attaches (what XEP-0198 resumption and
// BOSH need).
#include "server/c2s/client_session.hpp"

#include <gtest/gtest.h>

#include <boost/asio/io_context.hpp>

#include "server/config/config.hpp"
#include "server/server_context.hpp"

using hongyan::ServerContext;
using hongyan::StreamErrorCondition;
using hongyan::c2s::ClientSession;
using hongyan::c2s::OutputSink;
using hongyan::c2s::OutUnit;

namespace {

// A connection that writes everything it is told about at once.
struct FakeConnection : OutputSink {
    ClientSession* session = nullptr;
    std::vector<std::string> written;
    int ready_calls = 0;
    std::vector<StreamErrorCondition> ended;
    void output_ready() override {
        ++ready_calls;
        std::vector<OutUnit> units;
        session->take_output(units, 1 << 20);
        for (const auto& u : units) written.emplace_back(u.bytes());
        session->written(units, true);
    }
    void end_stream(StreamErrorCondition c, std::string_view) override { ended.push_back(c); }
    void abort(std::string_view) override {}
    void release() override {}
};

struct SessionTest : ::testing::Test {
    hongyan::config::Config cfg;
    ServerContext server{cfg};
    boost::asio::io_context io;
    std::shared_ptr<ClientSession> session =
        std::make_shared<ClientSession>(server, io.get_executor(), "127.0.0.1", "127.0.0.1:1");
};

}  // namespace

TEST_F(SessionTest, OutputWaitsWhileDetachedAndIsCountedPerStanza) {
    FakeConnection first;
    first.session = session.get();
    session->attach(&first);
    session->send_stanza("<message id='1'/>");
    EXPECT_EQ(first.written, (std::vector<std::string>{"<message id='1'/>"}));
    session->detach();
    session->send_stanza("<message id='2'/>");
    session->send_stream_data("<features/>");  // stream data is not a stanza
    session->send_stanza(std::make_shared<const std::string>("<presence/>"));
    EXPECT_EQ(first.written.size(), 1u);
    EXPECT_EQ(session->stanzas_queued(), 3u);
    EXPECT_EQ(session->stanzas_written(), 1u);
    EXPECT_FALSE(session->output_empty());

    FakeConnection second;
    second.session = session.get();
    session->attach(&second);
    EXPECT_EQ(second.written,
              (std::vector<std::string>{"<message id='2'/>", "<features/>", "<presence/>"}));
    EXPECT_EQ(session->stanzas_written(), 3u);
    EXPECT_TRUE(session->output_empty());
}

TEST_F(SessionTest, CloseWhileAttachedEndsTheStreamAndDetachedEndsTheSession) {
    FakeConnection c;
    c.session = session.get();
    session->attach(&c);
    session->close(StreamErrorCondition::conflict, "replaced");
    EXPECT_EQ(c.ended, (std::vector<StreamErrorCondition>{StreamErrorCondition::conflict}));
    EXPECT_TRUE(session->closing());

    auto other =
        std::make_shared<ClientSession>(server, io.get_executor(), "127.0.0.1", "127.0.0.1:2");
    std::vector<bool> results;
    other->send_tracked("<message/>", [&](bool ok) { results.push_back(ok); });
    other->close();
    EXPECT_TRUE(other->ended());
    // Nothing was written: the tracked stanza learns it (offline messages stay stored).
    EXPECT_EQ(results, (std::vector<bool>{false}));
}

TEST_F(SessionTest, OutputAfterTheEndIsRefused) {
    std::vector<bool> results;
    session->end();
    session->send_tracked("<message/>", [&](bool ok) { results.push_back(ok); });
    EXPECT_EQ(results, (std::vector<bool>{false}));
    EXPECT_TRUE(session->output_empty());
}

// XEP-0198 §4: with stream management on, a written stanza is kept until the client's 'h'
// covers it; a tracked one (an offline message) learns it was delivered only then.
TEST_F(SessionTest, StreamManagementKeepsWhatIsWrittenUntilAcknowledged) {
    FakeConnection c;
    c.session = session.get();
    session->attach(&c);
    session->enable_sm("", std::chrono::seconds(0));
    std::vector<int> acked;
    session->send_tracked("<message id='1'/>", [&](bool ok) { acked.push_back(ok ? 1 : -1); });
    session->send_tracked("<message id='2'/>", [&](bool ok) { acked.push_back(ok ? 2 : -2); });
    session->send_stream_data("<r/>");  // not a stanza: never waits for an ack
    session->send_stanza("<presence/>");
    EXPECT_EQ(c.written.size(), 4u);
    EXPECT_TRUE(acked.empty());
    EXPECT_EQ(session->sm()->unacked.size(), 3u);

    EXPECT_TRUE(session->acknowledge(1));
    EXPECT_EQ(acked, (std::vector<int>{1}));
    EXPECT_FALSE(session->acknowledge(5));  // more than was sent: refused, nothing changes
    EXPECT_EQ(session->sm()->unacked.size(), 2u);
    EXPECT_TRUE(session->acknowledge(3));
    EXPECT_EQ(acked, (std::vector<int>{1, 2}));
    EXPECT_TRUE(session->sm()->unacked.empty());
    EXPECT_EQ(session->sm()->unacked_bytes, 0u);
    EXPECT_TRUE(session->acknowledge(3));  // the same 'h' again is fine
}

// 'h' wraps at 2^32 (XEP-0198 §4).
TEST_F(SessionTest, AcknowledgementsWrapAround) {
    FakeConnection c;
    c.session = session.get();
    session->attach(&c);
    session->enable_sm("", std::chrono::seconds(0));
    session->sm()->acked_out = 0xFFFFFFFFu;
    session->send_stanza("<message id='a'/>");
    session->send_stanza("<message id='b'/>");
    EXPECT_TRUE(session->acknowledge(1));  // 2^32 - 1 + 2, modulo 2^32
    EXPECT_TRUE(session->sm()->unacked.empty());
}

// While a resume is being arranged nothing is written; then everything goes in order.
TEST_F(SessionTest, HeldOutputWaits) {
    FakeConnection c;
    c.session = session.get();
    session->attach(&c);
    session->hold_output(true);
    session->send_stanza("<message id='1'/>");
    EXPECT_TRUE(c.written.empty());
    session->hold_output(false);
    EXPECT_EQ(c.written, (std::vector<std::string>{"<message id='1'/>"}));
}
