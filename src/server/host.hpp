// One domain this server hosts (a virtual host; docs/architecture.md, "Hosts"): its own
// accounts, rosters, offline messages and shared groups in a storage of its own, the IM
// core over them, its settings and its certificate. The router finds the host of a stanza
// by the domain of its 'to'; a client session belongs to the host its stream named.
#pragma once

#include <openssl/ssl.h>

#include <memory>
#include <string>

#include "server/config/config.hpp"

namespace hongyan {

namespace storage {
class Storage;
}
namespace im {
class Im;
}

struct Host {
    Host(std::string domain, config::Config config);
    ~Host();
    Host(const Host&) = delete;
    Host& operator=(const Host&) = delete;

    const std::string domain;
    // The server's configuration with this host's [[hosts]] table applied
    // (config::Config::for_host).
    const config::Config config;
    std::unique_ptr<storage::Storage> storage;
    std::unique_ptr<im::Im> im;
    SSL_CTX* tls = nullptr;  // its certificate, chosen by SNI (owned by the server)
    // Copies of host-scoped settings that requests read.
    std::string register_policy;
    std::size_t min_password_length = 6;
};

}  // namespace hongyan
