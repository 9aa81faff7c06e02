// The ordering rule for work on users' state (docs/architecture.md, "Ordering"): jobs name
// the keys they touch (usernames), and run on a thread pool so that
//   - jobs sharing a key run one at a time, in the order they were posted;
//   - a job with several keys (both sides of a subscription) is entered into every key's
//     queue at once, under one lock, so two such jobs can never wait for each other;
//   - a barrier (the directory feed, which changes everyone's rosters) runs alone, after
//     every job posted before it and before every job posted after it.
// Jobs with disjoint keys run in parallel. Nothing here depends on how many database
// connections there are: a job that writes does so before it ends, so the next job on the
// same key sees the write, whichever connection either used.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <exception>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <type_traits>
#include <unordered_map>
#include <utility>
#include <vector>

namespace hongyan {

class Sequencer {
  public:
    using Job = std::function<void()>;
    using Keys = std::vector<std::string>;

    explicit Sequencer(boost::asio::any_io_executor pool) : pool_(std::move(pool)) {}
    ~Sequencer();
    Sequencer(const Sequencer&) = delete;
    Sequencer& operator=(const Sequencer&) = delete;

    // Runs `job` once every earlier job sharing one of `keys` has finished (and no barrier
    // is ahead of it). An exception it throws is logged with `what`.
    void post(Keys keys, Job job, std::string_view what = "job");
    // Runs `job` alone, after all jobs posted before it, before all posted after it.
    void post_barrier(Job job, std::string_view what = "barrier");

    // As post(), from a coroutine: resumes the caller on its own executor with the result
    // of `f`, or with the exception it threw.
    template <class F>
    auto run(Keys keys, F f) -> boost::asio::awaitable<decltype(f())> {
        return run_impl(false, std::move(keys), std::move(f));
    }
    template <class F>
    auto run_barrier(F f) -> boost::asio::awaitable<decltype(f())> {
        return run_impl(true, {}, std::move(f));
    }

    // True when the calling thread is running a job of this sequencer that holds `key`
    // (a barrier holds every key): the check that state owned by a key is touched only by
    // that key's jobs.
    bool holds(std::string_view key) const;
    // Jobs posted and not yet finished (running, ready or waiting).
    std::size_t pending() const;
    // Blocks until every posted job has finished (jobs may post more meanwhile).
    void drain();
    // From now on jobs are dropped, not run (shutdown: after drain()).
    void stop();

  private:
    struct Node {
        Job job;
        Keys keys;  // sorted, unique
        std::string what;
        std::size_t blockers = 0;  // keys whose queue has an earlier job
        bool barrier = false;
        std::vector<Node*> next;  // per key (as `keys`): the job after this one in its queue
    };
    // A key's jobs, oldest first, linked through Node::next (no allocation per job).
    struct Queue {
        Node* head = nullptr;
        Node* tail = nullptr;
    };

    template <class F>
    auto run_impl(bool barrier, Keys keys, F f) -> boost::asio::awaitable<decltype(f())> {
        using R = decltype(f());
        using Value = std::conditional_t<std::is_void_v<R>, int, R>;
        auto value = co_await boost::asio::async_initiate<decltype(boost::asio::use_awaitable),
                                                          void(std::exception_ptr, Value)>(
            [this, barrier, keys = std::move(keys), f = std::move(f)](auto handler) mutable {
                // One allocation for the handler and `f`; the job holds it by a shared
                // pointer, which std::function stores without another allocation.
                struct Call {
                    decltype(handler) h;
                    F f;
                };
                auto call = std::make_shared<Call>(Call{std::move(handler), std::move(f)});
                Job job = [call] {
                    std::exception_ptr e;
                    Value v{};
                    try {
                        if constexpr (std::is_void_v<R>)
                            call->f();
                        else
                            v = call->f();
                    } catch (...) {
                        e = std::current_exception();
                    }
                    auto ex = boost::asio::get_associated_executor(call->h);
                    boost::asio::post(
                        ex, [call, e, v = std::move(v)]() mutable { (call->h)(e, std::move(v)); });
                };
                if (barrier)
                    post_barrier(std::move(job));
                else
                    post(std::move(keys), std::move(job));
            },
            boost::asio::use_awaitable);
        if constexpr (std::is_void_v<R>)
            co_return;
        else
            co_return value;
    }

    // The index of `key` among the (sorted) keys of `n`, which has it.
    static std::size_t slot(const Node* n, std::string_view key);
    // Caller holds mu_: enters `n` into its keys' queues; true when it can run now.
    bool admit(Node* n);
    // Caller holds mu_: admits held jobs up to the next barrier, or starts that barrier
    // once nothing admitted is left, appending what can run to `ready`.
    void release_held(std::vector<Node*>& ready);
    void dispatch(const std::vector<Node*>& ready);
    void execute(Node* n);

    boost::asio::any_io_executor pool_;
    mutable std::mutex mu_;
    std::condition_variable idle_;
    std::unordered_map<std::string, Queue> queues_;  // by key
    std::size_t admitted_ = 0;  // in the queues: running, ready or waiting for a key
    std::deque<Node*> held_;    // a barrier and everything posted after it, in order
    bool barrier_running_ = false;
    bool stopped_ = false;
    std::size_t pending_ = 0;
};

}  // namespace hongyan
