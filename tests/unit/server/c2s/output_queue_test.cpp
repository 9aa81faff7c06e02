// The output queue of a session: stanzas in order, bulk sources in their place, bytes and
// write notifications accounted.
#include "server/c2s/output_queue.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

using hongyan::c2s::BulkBatch;
using hongyan::c2s::BulkSource;
using hongyan::c2s::OutputQueue;
using hongyan::c2s::OutUnit;

namespace {

struct CountingSource : BulkSource {
    int requests = 0;
    void next(std::size_t, std::function<void(BulkBatch)>) override { ++requests; }
};

std::vector<std::string> texts(const std::vector<OutUnit>& units) {
    std::vector<std::string> out;
    for (const auto& u : units) out.emplace_back(u.bytes());
    return out;
}

BulkBatch batch(std::vector<std::string> stanzas, bool last) {
    BulkBatch b;
    for (auto& s : stanzas) b.entries.push_back(OutUnit::stanza(std::move(s)));
    b.last = last;
    return b;
}

}  // namespace

TEST(OutputQueue, UnitsInOrderWithinTheByteBudget) {
    OutputQueue q;
    q.push(OutUnit::stanza("<a/>"));
    q.push(OutUnit::stanza("<bb/>"));
    q.push(OutUnit::data("<c/>"));
    EXPECT_EQ(q.bytes(), 13u);
    std::vector<OutUnit> out;
    // At least one unit, however small the budget.
    EXPECT_EQ(q.take(out, 1, nullptr), OutputQueue::Next::units);
    EXPECT_EQ(texts(out), (std::vector<std::string>{"<a/>"}));
    out.clear();
    EXPECT_EQ(q.take(out, 1000, nullptr), OutputQueue::Next::units);
    EXPECT_EQ(texts(out), (std::vector<std::string>{"<bb/>", "<c/>"}));
    EXPECT_EQ(q.bytes(), 0u);
    EXPECT_TRUE(q.empty());
    out.clear();
    EXPECT_EQ(q.take(out, 1000, nullptr), OutputQueue::Next::nothing);
}

TEST(OutputQueue, SourceOutputGoesBetweenWhatCameBeforeAndAfterIt) {
    OutputQueue q;
    auto src = std::make_shared<CountingSource>();
    q.push(OutUnit::stanza("<before/>"));
    q.add_source(src);
    q.push(OutUnit::stanza("<after/>"));
    std::vector<OutUnit> out;
    std::shared_ptr<BulkSource> asked;
    EXPECT_EQ(q.take(out, 1000, &asked), OutputQueue::Next::units);
    EXPECT_EQ(texts(out), (std::vector<std::string>{"<before/>"}));
    out.clear();
    // The source is next: it is asked, once, and nothing behind it goes first.
    EXPECT_EQ(q.take(out, 1000, &asked), OutputQueue::Next::pull);
    EXPECT_EQ(asked.get(), src.get());
    EXPECT_EQ(q.take(out, 1000, &asked), OutputQueue::Next::nothing);
    EXPECT_TRUE(out.empty());
    q.filled(src.get(), batch({"<s1/>", "<s2/>"}, false));
    // Bulk output is not what the queue limit counts.
    EXPECT_EQ(q.bytes(), 8u);
    EXPECT_EQ(q.bulk_bytes(), 10u);
    EXPECT_EQ(q.take(out, 1000, &asked), OutputQueue::Next::units);
    EXPECT_EQ(texts(out), (std::vector<std::string>{"<s1/>", "<s2/>"}));
    out.clear();
    EXPECT_EQ(q.take(out, 1000, &asked), OutputQueue::Next::pull);
    q.filled(src.get(), batch({"<s3/>"}, true));
    EXPECT_EQ(q.take(out, 1000, &asked), OutputQueue::Next::units);
    EXPECT_EQ(texts(out), (std::vector<std::string>{"<s3/>", "<after/>"}));
    EXPECT_TRUE(q.empty());
}

TEST(OutputQueue, ClearTellsTrackedUnitsTheyWereNotWritten) {
    OutputQueue q;
    std::vector<bool> results;
    q.push(OutUnit::stanza("<a/>"), [&](bool ok) { results.push_back(ok); });
    q.push(OutUnit::stanza("<b/>"));
    std::vector<OutUnit> out;
    q.take(out, 1, nullptr);
    out[0].finish(true);
    q.push(OutUnit::stanza("<c/>"), [&](bool ok) { results.push_back(ok); });
    q.clear();
    EXPECT_EQ(results, (std::vector<bool>{true, false}));
}

TEST(OutputQueue, DroppedSourcesLeaveTheRestInOrder) {
    OutputQueue q;
    auto src = std::make_shared<CountingSource>();
    std::vector<bool> results;
    q.push(OutUnit::stanza("<a/>"));
    q.add_source(src);
    q.push(OutUnit::stanza("<b/>"));
    std::vector<OutUnit> out;
    std::shared_ptr<BulkSource> asked;
    q.take(out, 1000, &asked);
    q.take(out, 1000, &asked);  // the pull
    BulkBatch b;
    b.entries.push_back(OutUnit::stanza("<s/>"));
    b.entries.back().done =
        std::make_unique<OutUnit::Done>([&](bool ok) { results.push_back(ok); });
    q.filled(src.get(), std::move(b));
    q.drop_sources();
    EXPECT_EQ(results, (std::vector<bool>{false}));
    out.clear();
    EXPECT_EQ(q.take(out, 1000, &asked), OutputQueue::Next::units);
    EXPECT_EQ(texts(out), (std::vector<std::string>{"<b/>"}));
    EXPECT_EQ(q.bytes(), 0u);
    EXPECT_EQ(q.bulk_bytes(), 0u);
}

TEST(OutputQueue, FillForAGoneSourceIsNotWritten) {
    OutputQueue q;
    CountingSource gone;
    std::vector<bool> results;
    BulkBatch b;
    b.entries.push_back(OutUnit::stanza("<s/>"));
    b.entries.back().done =
        std::make_unique<OutUnit::Done>([&](bool ok) { results.push_back(ok); });
    q.filled(&gone, std::move(b));
    EXPECT_EQ(results, (std::vector<bool>{false}));
    EXPECT_TRUE(q.empty());
}
