// The blocking face of the library, for a program without coroutines: log in, send a
// message, list the roster and the last messages with one contact, each call waiting for
// its result.
//   example-blocking alice@localhost secret bob@localhost "hello" [ca.pem [port]]
#include <iostream>

#include "hongyan/blocking.hpp"

using namespace hongyan::client;

int main(int argc, char** argv) {
    if (argc < 5) {
        std::cerr << "usage: example-blocking JID PASSWORD FRIEND TEXT [CA-FILE [PORT]]\n";
        return 2;
    }
    ClientOptions options{.jid = argv[1], .password = argv[2]};
    if (argc > 5) options.connect.trust.ca_file = argv[5];
    if (argc > 6) options.connect.port = static_cast<std::uint16_t>(std::stoi(argv[6]));
    BlockingClient client(options);
    if (auto r = client.connect(); !r) {
        std::cerr << r.error().describe() << "\n";
        return 1;
    }
    if (auto sent = client.send_message(argv[3], argv[4]); !sent) {
        std::cerr << "not sent: " << sent.error().describe() << "\n";
        return 1;
    }
    if (auto roster = client.roster())
        for (const auto& item : *roster) std::cout << "contact " << item.jid << "\n";
    if (auto page = client.history({.with = argv[3], .max = 5}))
        for (const auto& m : page->messages)
            std::cout << (m.outgoing ? "me" : m.from) << ": " << m.body << "\n";
    return 0;  // the destructor closes the stream
}
