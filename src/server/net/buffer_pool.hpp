// Containers reused across write bursts through a small pool per thread: a busy connection
// allocates nothing per burst, and an idle one holds no buffer of its own (kept per
// connection, their capacity would stay with every quiet session; freed after each burst,
// the allocations cost a sixth of the chat rate). A connection and its session live on one
// thread, so what they take from the pool goes back to the same one.
#pragma once

#include <cstddef>
#include <utility>
#include <vector>

namespace hongyan::net {

// `T` is a std::string or a std::vector: cleared when given back; one whose capacity went
// past `MaxCapacity` (after a large burst) is not kept.
template <class T, std::size_t MaxCapacity, std::size_t MaxPooled = 32>
class BufferPool {
  public:
    // `reserve`: a new one starts with room for that much (growing a container later costs
    // a reallocation per burst until the pool has large enough ones).
    static T take(std::size_t reserve = 0) {
        auto& free = pool();
        if (free.empty()) {
            T t;
            t.reserve(reserve);
            return t;
        }
        T t = std::move(free.back());
        free.pop_back();
        return t;
    }
    static void give(T&& t) {
        t.clear();
        auto& free = pool();
        if (t.capacity() == 0 || t.capacity() > MaxCapacity || free.size() >= MaxPooled) {
            T().swap(t);
            return;
        }
        free.push_back(std::move(t));
    }

  private:
    static std::vector<T>& pool() {
        thread_local std::vector<T> free;
        return free;
    }
};

}  // namespace hongyan::net
