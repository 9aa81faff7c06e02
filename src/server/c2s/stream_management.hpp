// Stream management (XEP-0198): what a session counts once its client enabled it, and the
// table of resumable sessions. The stream side (enable, <r/>, <a/>, resume) is in
// ClientConnection; the session keeps what it wrote until the client acknowledges it, so
// that a resumed stream sends it again and a session that ends without its client
// re-routes it (offline storage, or an error to the sender).
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "server/net/transport.hpp"

namespace hongyan {
struct Host;
}

namespace hongyan::c2s {

class ClientSession;

struct StreamManagement {
    std::string id;                    // the resumption id; empty: the stream cannot resume
    std::chrono::seconds timeout{0};   // how long a detached session waits for its client
    std::uint32_t handled_in = 0;      // stanzas received from the client (§4, 'h')
    std::uint32_t acked_out = 0;       // the client's last 'h' for our stanzas
    std::deque<net::OutUnit> unacked;  // written and not acknowledged yet, oldest first
    std::size_t unacked_bytes = 0;
    std::uint32_t since_request = 0;  // stanzas written since our last <r/>
    bool requested = false;           // an <r/> of ours is waiting for its <a/>
};

// Resumable sessions by id, for every host (ids are 128 random bits): a <resume/> on any
// connection, on any I/O thread, finds its session here.
class Resumptions {
  public:
    void add(const std::string& id, const std::shared_ptr<ClientSession>& session);
    // Takes the entry for `id` out if it belongs to `user` of `host`; null otherwise (no
    // such id, timed out, claimed by another stream, someone else's).
    std::shared_ptr<ClientSession> claim(const std::string& id, const std::string& user,
                                         const Host* host);
    // Removes `id` if it still names `session`.
    void remove(const std::string& id, const ClientSession* session);
    std::size_t size() const;
    // A session of `user` starts waiting for a resume: false when `max` of theirs already
    // wait (the server keeps no more; the session ends instead). leave_waiting() when it
    // stops waiting (resumed or ended).
    bool enter_waiting(const std::string& user, std::size_t max);
    void leave_waiting(const std::string& user);
    // Every live one (at shutdown, to end those that wait for a resume).
    std::vector<std::shared_ptr<ClientSession>> sessions() const;
    // Stanzas being routed again after sessions ended (the shutdown waits for them).
    std::atomic<std::size_t> rerouting{0};

  private:
    mutable std::mutex mu_;
    std::unordered_map<std::string, std::weak_ptr<ClientSession>> by_id_;
    std::unordered_map<std::string, std::size_t> waiting_;  // by username@host
};

}  // namespace hongyan::c2s
