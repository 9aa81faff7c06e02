// RFC 6120 §4.3.2: what a client stream offers next: STARTTLS where the transport can add
// TLS and it is still missing, SASL mechanisms before authentication, resource binding
// after it, and the stream features modules add (registration, roster versioning, ...).
#pragma once

#include <string>
#include <vector>

namespace hongyan {
struct ServerContext;
namespace net {
class Transport;
}
}  // namespace hongyan

namespace hongyan::c2s {

// True while this stream must negotiate TLS before anything else (c2s.require_tls).
bool tls_required(const ServerContext& server, const net::Transport& transport);

// The <stream:features/> element, serialised for `transport`'s framing.
std::string stream_features(const ServerContext& server, const net::Transport& transport,
                            bool authenticated, const std::vector<std::string>& mechanisms);

}  // namespace hongyan::c2s
