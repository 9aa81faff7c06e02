#include "hongyan/blocking.hpp"

namespace hongyan::client {

BlockingClient::BlockingClient(ClientOptions options)
    : work_(asio::make_work_guard(io_)),
      client_(io_.get_executor(), std::move(options)),
      thread_([this] { io_.run(); }) {}

BlockingClient::~BlockingClient() {
    run(client_.disconnect());  // nothing to do when not connected
    work_.reset();
    io_.stop();
    thread_.join();
}

}  // namespace hongyan::client
