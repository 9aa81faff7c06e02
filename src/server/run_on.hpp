// Runs a function on another executor (the storage thread, the hashing pool) and resumes
// the calling coroutine on its own executor with the result, or with the exception the
// function threw.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/use_awaitable.hpp>

namespace hongyan {

template <class Executor, class F>
auto run_on(Executor ex, F f) -> boost::asio::awaitable<decltype(f())> {
    using R = decltype(f());
    co_return co_await boost::asio::co_spawn(
        ex, [f = std::move(f)]() mutable -> boost::asio::awaitable<R> { co_return f(); },
        boost::asio::use_awaitable);
}

}  // namespace hongyan
