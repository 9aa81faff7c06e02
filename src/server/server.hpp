// The running daemon: one io_context per thread, each accepting on every listener with
// SO_REUSEPORT so a connection stays on the thread that accepted it.
#pragma once

#include <memory>
#include <vector>

#include "server/config/config.hpp"

namespace hongyan {

class Server {
  public:
    explicit Server(const config::Config& cfg);
    ~Server();
    // Runs until SIGTERM or SIGINT; returns the process exit code.
    int run();

  private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

}  // namespace hongyan
