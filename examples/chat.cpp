// The client library in one page: log in, print every friend with their presence, send a
// message and print the last 20 messages with that friend.
//   example-chat alice@localhost secret bob@localhost "hello" [ca.pem [port]]
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>

#include <iostream>
#include <map>

#include "hongyan/client.hpp"

namespace asio = boost::asio;
using namespace hongyan::client;

asio::awaitable<int> run(Client& client, std::string friend_jid, std::string text) {
    std::map<std::string, std::string> presence;  // full JID -> show
    client.on_presence([&](const Presence& p) {
        presence[p.from] = p.type.empty() ? (p.show.empty() ? "online" : p.show) : p.type;
    });
    client.on_message([](const Message& m) { std::cout << m.from << ": " << m.body << "\n"; });

    if (auto r = co_await client.connect(); !r) {
        std::cerr << r.error().describe() << "\n";
        co_return 1;
    }
    co_await client.send_presence();  // online: contacts' presence comes in
    auto roster = co_await client.roster();
    co_await client.ping();  // a round trip: the presences sent before it have arrived
    for (const auto& item : roster ? *roster : std::vector<RosterItem>{}) {
        std::cout << item.jid << " (" << item.name << ", " << item.subscription << ")";
        for (const auto& [from, show] : presence)
            if (from.starts_with(item.jid + "/")) std::cout << " " << show;
        std::cout << "\n";
    }

    if (auto sent = co_await client.send_message(friend_jid, text); !sent)
        std::cerr << "not sent: " << sent.error().describe() << "\n";

    auto page = co_await client.history({.with = friend_jid, .max = 20});
    for (const auto& m : page ? page->messages : std::vector<Message>{})
        std::cout << m.timestamp << " " << (m.outgoing ? "me" : m.from) << ": " << m.body << "\n";

    co_await client.disconnect();
    co_return 0;
}

int main(int argc, char** argv) {
    if (argc < 5) {
        std::cerr << "usage: example-chat JID PASSWORD FRIEND TEXT [CA-FILE [PORT]]\n";
        return 2;
    }
    ClientOptions options{.jid = argv[1], .password = argv[2]};
    if (argc > 5) options.connect.trust.ca_file = argv[5];
    if (argc > 6) options.connect.port = static_cast<std::uint16_t>(std::stoi(argv[6]));
    asio::io_context io;
    Client client(io.get_executor(), options);
    int rc = 1;
    asio::co_spawn(io, run(client, argv[3], argv[4]), [&](std::exception_ptr, int r) { rc = r; });
    io.run();
    return rc;
}
