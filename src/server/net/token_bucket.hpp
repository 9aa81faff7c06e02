// Read throttling: a token bucket of `rate` bytes per second with a burst of one second's
// worth. consume() says how long to pause before reading again.
#pragma once

#include <algorithm>
#include <chrono>
#include <cstddef>

namespace hongyan::net {

class TokenBucket {
  public:
    using Clock = std::chrono::steady_clock;
    explicit TokenBucket(double rate) : rate_(rate), tokens_(rate), at_(Clock::now()) {}

    bool enabled() const { return rate_ > 0; }
    Clock::duration consume(std::size_t n, Clock::time_point now = Clock::now()) {
        tokens_ =
            std::min(rate_, tokens_ + rate_ * std::chrono::duration<double>(now - at_).count());
        at_ = now;
        tokens_ -= static_cast<double>(n);
        if (tokens_ >= 0) return Clock::duration::zero();
        return std::chrono::duration_cast<Clock::duration>(
            std::chrono::duration<double>(-tokens_ / rate_));
    }

  private:
    double rate_;
    double tokens_;
    Clock::time_point at_;
};

}  // namespace hongyan::net
