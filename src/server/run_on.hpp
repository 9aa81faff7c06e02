// Coroutine plumbing: running a function on another executor (the storage thread, the
// hashing pool) from a coroutine, and starting a coroutine whose escaping exception is
// logged rather than lost.
#pragma once

#include <spdlog/spdlog.h>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <exception>
#include <string>

namespace hongyan {

// Starts `a` (an awaitable, or a function returning one) on `ex`; an exception that escapes
// it is logged with `what`.
template <class Executor, class A>
void spawn_logged(Executor ex, A&& a, std::string what) {
    boost::asio::co_spawn(ex, std::forward<A>(a), [what = std::move(what)](std::exception_ptr e) {
        if (!e) return;
        try {
            std::rethrow_exception(e);
        } catch (const std::exception& x) {
            spdlog::error("{}: {}", what, x.what());
        } catch (...) {
            spdlog::error("{}: unknown exception", what);
        }
    });
}

// Runs `f` on `ex` and resumes the caller on its own executor with the result, or with
// the exception `f` threw.
template <class Executor, class F>
auto run_on(Executor ex, F f) -> boost::asio::awaitable<decltype(f())> {
    using R = decltype(f());
    co_return co_await boost::asio::co_spawn(
        ex, [f = std::move(f)]() mutable -> boost::asio::awaitable<R> { co_return f(); },
        boost::asio::use_awaitable);
}

}  // namespace hongyan
