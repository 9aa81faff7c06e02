// Hands many stanzas to many sessions with one post per I/O thread rather than one per
// session: presence fan-out to thousands of contacts stays a handful of wake-ups.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "server/router/session_route.hpp"

namespace hongyan::im {

class DeliveryBatch {
  public:
    // A local session's stanza waits for the post to its thread; any other route gets it
    // at once.
    void add(const RoutePtr& s, std::shared_ptr<const std::string> bytes);
    void flush();
    ~DeliveryBatch() { flush(); }

  private:
    struct Group {
        const void* ctx;
        boost::asio::any_io_executor ex;
        std::vector<std::pair<RoutePtr, std::shared_ptr<const std::string>>> items;
    };
    std::vector<Group> groups_;
};

}  // namespace hongyan::im
