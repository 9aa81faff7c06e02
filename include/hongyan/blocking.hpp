// A blocking face of the client library for programs without coroutines: each call waits
// for its result. The client runs on a thread of its own; callbacks set through async()
// run on that thread.
//
//   hongyan::client::BlockingClient c({.jid = "alice@example.org", .password = "secret"});
//   if (auto r = c.connect(); !r) { std::cerr << r.error().describe() << "\n"; return 1; }
//   c.send_message("bob@example.org", "hi");
//   for (auto& item : *c.roster()) std::cout << item.jid << "\n";
#pragma once

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>

#include <thread>

#include "hongyan/client.hpp"

namespace hongyan::client {

class BlockingClient {
  public:
    explicit BlockingClient(ClientOptions options);
    // Closes the stream cleanly if it is open, then stops the thread.
    ~BlockingClient();
    BlockingClient(const BlockingClient&) = delete;
    BlockingClient& operator=(const BlockingClient&) = delete;

    // The asynchronous client underneath: set callbacks here, or call what this class
    // does not wrap, with run().
    Client& async() { return client_; }

    // Runs one call of the asynchronous client and waits for its result. Not from a
    // callback: those run on the client's thread, which the call would wait for.
    template <class T>
    T run(asio::awaitable<T> call) {
        return asio::co_spawn(io_, std::move(call), asio::use_future).get();
    }

    Result<void> connect() { return run(client_.connect()); }
    Result<void> register_account() { return run(client_.register_account()); }
    Result<void> disconnect() { return run(client_.disconnect()); }
    Result<void> send_presence(std::string show = {}, std::string status = {}) {
        return run(client_.send_presence(std::move(show), std::move(status)));
    }
    Result<void> send_message(std::string to, std::string body) {
        return run(client_.send_message(std::move(to), std::move(body)));
    }
    Result<std::vector<RosterItem>> roster() { return run(client_.roster()); }
    Result<HistoryPage> history(HistoryQuery q) { return run(client_.history(std::move(q))); }
    Result<Room> join_room(std::string room, JoinOptions o = {}) {
        return run(client_.join_room(std::move(room), std::move(o)));
    }
    Result<void> send_room_message(std::string room, std::string body) {
        return run(client_.send_room_message(std::move(room), std::move(body)));
    }

  private:
    asio::io_context io_;
    asio::executor_work_guard<asio::io_context::executor_type> work_;
    Client client_;
    std::thread thread_;
};

}  // namespace hongyan::client
