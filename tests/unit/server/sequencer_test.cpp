// The ordering rule (docs/architecture.md, "Ordering"): per-key FIFO, multi-key jobs entered
// atomically, barriers alone, and disjoint keys in parallel.
#include "server/sequencer.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/thread_pool.hpp>
#include <chrono>
#include <future>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <vector>

namespace hongyan {
namespace {

namespace asio = boost::asio;

TEST(Sequencer, JobsOnOneKeyRunInPostOrderOneAtATime) {
    asio::thread_pool pool(4);
    Sequencer seq(pool.get_executor());
    std::vector<int> order;
    std::atomic<int> inside{0};
    std::atomic<bool> overlap{false};
    for (int i = 0; i < 2000; ++i)
        seq.post({"alice"}, [&, i] {
            if (inside.fetch_add(1) != 0) overlap = true;
            order.push_back(i);  // safe only because jobs on one key never overlap
            inside.fetch_sub(1);
        });
    seq.drain();
    EXPECT_FALSE(overlap);
    ASSERT_EQ(order.size(), 2000u);
    for (int i = 0; i < 2000; ++i) EXPECT_EQ(order[static_cast<std::size_t>(i)], i);
    pool.join();
}

TEST(Sequencer, DisjointKeysRunInParallel) {
    asio::thread_pool pool(2);
    Sequencer seq(pool.get_executor());
    // Each job waits for the other to start: with one-at-a-time execution neither would.
    std::promise<void> a_started, b_started;
    auto a = a_started.get_future().share(), b = b_started.get_future().share();
    std::atomic<bool> both{true};
    seq.post({"a"}, [&] {
        a_started.set_value();
        if (b.wait_for(std::chrono::seconds(10)) != std::future_status::ready) both = false;
    });
    seq.post({"b"}, [&] {
        b_started.set_value();
        if (a.wait_for(std::chrono::seconds(10)) != std::future_status::ready) both = false;
    });
    seq.drain();
    EXPECT_TRUE(both);
    pool.join();
}

TEST(Sequencer, MultiKeyJobsNeverDeadlockAndKeepEachKeysOrder) {
    // Random jobs over a few keys, one to three keys each: every key sees its jobs in post
    // order, and all of them finish (a lock-ordering bug would hang here).
    asio::thread_pool pool(4);
    Sequencer seq(pool.get_executor());
    const std::vector<std::string> keys = {"a", "b", "c", "d", "e"};
    std::mutex mu;
    std::vector<std::vector<int>> seen(keys.size()), expected(keys.size());
    std::mt19937 rng(42);
    for (int i = 0; i < 3000; ++i) {
        std::vector<std::size_t> picked;
        const int n = 1 + static_cast<int>(rng() % 3);
        for (int j = 0; j < n; ++j) picked.push_back(rng() % keys.size());
        std::sort(picked.begin(), picked.end());
        picked.erase(std::unique(picked.begin(), picked.end()), picked.end());
        Sequencer::Keys ks;
        for (auto p : picked) {
            ks.push_back(keys[p]);
            expected[p].push_back(i);
        }
        seq.post(ks, [&, picked, i] {
            std::lock_guard lock(mu);
            for (auto p : picked) seen[p].push_back(i);
        });
    }
    seq.drain();
    EXPECT_EQ(seen, expected);
    EXPECT_EQ(seq.pending(), 0u);
    pool.join();
}

TEST(Sequencer, ABarrierRunsAloneBetweenWhatCameBeforeAndAfter) {
    asio::thread_pool pool(4);
    Sequencer seq(pool.get_executor());
    std::atomic<int> before_done{0}, after_started{0};
    std::atomic<bool> wrong{false};
    for (int i = 0; i < 200; ++i)
        seq.post({"u" + std::to_string(i % 7)}, [&] { before_done.fetch_add(1); });
    seq.post_barrier([&] {
        if (before_done.load() != 200 || after_started.load() != 0) wrong = true;
        if (!seq.holds("anyone")) wrong = true;  // a barrier holds every key
    });
    for (int i = 0; i < 200; ++i)
        seq.post({"u" + std::to_string(i % 7)}, [&] { after_started.fetch_add(1); });
    seq.drain();
    EXPECT_FALSE(wrong);
    EXPECT_EQ(after_started.load(), 200);
    pool.join();
}

TEST(Sequencer, HoldsIsTrueOnlyInsideAJobWithThatKey) {
    asio::thread_pool pool(2);
    Sequencer seq(pool.get_executor());
    EXPECT_FALSE(seq.holds("a"));
    std::atomic<bool> in_a{false}, in_b{true};
    seq.post({"a", "c"}, [&] {
        in_a = seq.holds("a") && seq.holds("c");
        in_b = seq.holds("b");
    });
    seq.drain();
    EXPECT_TRUE(in_a);
    EXPECT_FALSE(in_b);
    pool.join();
}

struct RunOutcome {
    int value = 0;
    std::string error;
    std::thread::id resumed_on;
};

asio::awaitable<void> run_three(Sequencer& seq, RunOutcome& out) {
    out.value = co_await seq.run({"a"}, [] { return 42; });
    out.resumed_on = std::this_thread::get_id();
    try {
        co_await seq.run({"a"}, []() -> int { throw std::runtime_error("locked"); });
    } catch (const std::runtime_error& e) {
        out.error = e.what();
    }
    co_await seq.run_barrier([] {});
}

TEST(Sequencer, RunResumesTheCoroutineWithTheResultOrTheException) {
    asio::thread_pool pool(2);
    Sequencer seq(pool.get_executor());
    asio::io_context io;
    RunOutcome out;
    asio::co_spawn(io, run_three(seq, out), asio::detached);
    io.run();
    EXPECT_EQ(out.value, 42);
    EXPECT_EQ(out.error, "locked");
    EXPECT_EQ(out.resumed_on, std::this_thread::get_id());  // the caller's executor
    pool.join();
}

TEST(Sequencer, AFailingJobDoesNotStopTheQueue) {
    asio::thread_pool pool(2);
    Sequencer seq(pool.get_executor());
    std::atomic<bool> ran{false};
    seq.post(
        {"a"}, [] { throw std::runtime_error("disk full"); }, "test job");
    seq.post({"a"}, [&] { ran = true; });
    seq.drain();
    EXPECT_TRUE(ran);
    pool.join();
}

}  // namespace
}  // namespace hongyan
