// Every configuration key of hongyand, in one place. docs/configuration.md is generated from
// this table (`hongyand --config-reference`), and a test checks the two agree.
#include "server/config/config.hpp"
#include "server/modules/module.hpp"

namespace hongyan::config {

namespace {
using S = std::string;
using L = std::vector<std::string>;
constexpr std::int64_t kMaxPort = 65535;
}  // namespace

const std::vector<KeySpec>& schema() {
    static const std::vector<KeySpec> keys = {
        // [server]
        {"server.domain", ValueType::string, S("localhost"),
         "The XMPP domain this server serves (the part after '@' in user JIDs): its first "
         "host. More domains come in [[hosts]] tables (\"Several domains\" above)."},
        {"server.data_dir", ValueType::string, S("data"),
         "Directory for the database, the generated certificate and other state. Relative "
         "paths are relative to the working directory."},
        {"server.threads", ValueType::integer, std::int64_t{0},
         "I/O threads, each running its own event loop; 0 means one per CPU core.", 0, 256},
        {"server.im_threads", ValueType::integer, std::int64_t{0},
         "Threads that run IM work (roster changes, subscriptions, presence fan-out, offline "
         "delivery) in per-user order, waiting for the database so that the I/O threads never "
         "do; 0 means as many as the storage backends run calls at once (SQLite: one per "
         "host), at most one per CPU core.",
         0, 256},
        {"server.shutdown_grace", ValueType::integer, std::int64_t{3},
         "Seconds to wait on SIGTERM for clients to receive their stream close before exit.", 0,
         300},
        {"server.admins", ValueType::string_list, L{},
         "Bare JIDs (alice@example.org) allowed to run the service-administration ad-hoc "
         "commands (XEP-0133) from their XMPP client."},
        // [log]
        {"log.level",
         ValueType::string,
         S("info"),
         "Least severe level that is logged.",
         0,
         0,
         {"trace", "debug", "info", "warn", "error", "off"}},
        // [c2s]
        {"c2s.address", ValueType::string, S("0.0.0.0"),
         "Address the client listeners bind to ('::' for IPv6 and IPv4, '127.0.0.1' for "
         "local only)."},
        {"c2s.port", ValueType::integer, std::int64_t{5222},
         "Client port with STARTTLS (RFC 6120 §5); 0 disables it.", 0, kMaxPort},
        {"c2s.tls_port", ValueType::integer, std::int64_t{5223},
         "Client port with direct TLS (XEP-0368); 0 disables it.", 0, kMaxPort},
        {"c2s.require_tls", ValueType::boolean, true,
         "Require STARTTLS before authentication on the plain port. Turn off only for "
         "testing on loopback."},
        {"c2s.preauth_timeout", ValueType::integer, std::int64_t{60},
         "Seconds a connection may take to authenticate and bind before it is closed with "
         "<connection-timeout/>.",
         1, 86400},
        {"c2s.close_timeout", ValueType::integer, std::int64_t{10},
         "Seconds a closing connection may take to receive its last bytes (a stream error, "
         "the stream's close) before it is cut; also how long a closed TCP connection goes "
         "on reading and dropping what the peer still sends, so that the close is not a "
         "reset that could lose those last bytes.",
         1, 3600},
        {"c2s.idle_timeout", ValueType::integer, std::int64_t{900},
         "Seconds an authenticated client may stay silent (not even a whitespace keepalive) "
         "before it is closed with <connection-timeout/>; 0 means never.",
         0, 604800},
        {"c2s.keepalive_interval", ValueType::integer, std::int64_t{120},
         "Seconds without output after which the server sends a whitespace keepalive, so "
         "dead TCP connections are noticed; 0 disables.",
         0, 86400},
        {"c2s.parser_release_after", ValueType::integer, std::int64_t{2},
         "Seconds a client may be silent before its XML parser (several KiB) is freed, to be "
         "rebuilt when it sends again; 0 keeps parsers for the whole session.",
         0, 86400},
        {"c2s.iq_requires_subscription", ValueType::boolean, true,
         "Deliver an iq get or set addressed to a user's resource only from someone the "
         "user shares presence with (a subscription 'from' or 'both', a shared group, "
         "directed presence) or from the user's own resources; others get "
         "<service-unavailable/>, as for a resource that is not there (RFC 6121 §8.5.3.1, "
         "against presence leaks)."},
        // [http]
        {"sm.enabled", ValueType::boolean, true,
         "Offer stream management (XEP-0198): acknowledgements both ways, and resumption "
         "of a session whose connection dropped."},
        {"sm.resume_timeout", ValueType::integer, std::int64_t{300},
         "Seconds a session whose connection dropped without closing the stream waits for "
         "its client to resume it; a client may ask for less (<enable max=.../>). Then what "
         "the client did not acknowledge goes to offline storage (or back to its senders "
         "as errors). 0 turns resumption off (acknowledgements stay).",
         0, 86400},
        {"sm.max_waiting_per_user", ValueType::integer, std::int64_t{10},
         "Sessions of one account that may wait for a resume at once (each holds its "
         "queue in memory); a connection of that account that drops beyond it ends its "
         "session at once, as if not resumable.",
         0, 10000},
        {"sm.request_after", ValueType::integer, std::int64_t{5},
         "Stanzas written to a client without acknowledgement after which the server asks "
         "for one (<r/>) at once; fewer are asked for within about a second.",
         1, 100000},
        {"http.address", ValueType::string, S("0.0.0.0"),
         "Address the HTTP and HTTPS listeners bind to (WebSocket, host-meta)."},
        {"http.port", ValueType::integer, std::int64_t{5280},
         "Plain HTTP port (XMPP over WebSocket as ws://, host-meta); 0 disables it.", 0, kMaxPort},
        {"http.max_request_size", ValueType::integer, std::int64_t{16384},
         "Largest HTTP request (headers, and body where one is accepted) in bytes; larger "
         "gets 431 or 413.",
         1024, 67108864},
        {"http.request_timeout", ValueType::integer, std::int64_t{10},
         "Seconds a client may take to send an HTTP request (and to finish a TLS or "
         "WebSocket handshake); an idle keep-alive connection is closed after it.",
         1, 3600},
        // [https]
        {"https.port", ValueType::integer, std::int64_t{5443},
         "HTTPS port, with the certificate of tls.cert_file (wss://); 0 disables it.", 0, kMaxPort},
        // [websocket]
        {"websocket.path", ValueType::string, S("/xmpp-websocket"),
         "URL path of the XMPP WebSocket endpoint (RFC 7395) on both HTTP listeners."},
        {"websocket.allow_plain",
         ValueType::string,
         S("loopback"),
         "Who may use XMPP over plain ws:// (no TLS): 'loopback' (clients on this machine, or "
         "a TLS-terminating proxy on it), 'always' or 'never'. Like c2s.require_tls for TCP.",
         0,
         0,
         {"loopback", "always", "never"}},
        {"websocket.public_urls", ValueType::string_list, L{},
         "WebSocket URLs announced in /.well-known/host-meta (XEP-0156), for servers behind "
         "a proxy; empty: derived from the request (its Host header and scheme)."},
        {"websocket.see_other_uri", ValueType::string, S(""),
         "When set, every WebSocket client is sent there (<close see-other-uri/>, RFC 7395 "
         "§3.6.1) instead of being served: for moving clients to another endpoint."},
        // [component]
        {"component.address", ValueType::string, S("127.0.0.1"),
         "Address the external component listener binds to (XEP-0114). Components "
         "authenticate with a shared secret over plain TCP: keep it on loopback or a "
         "private network."},
        {"component.port", ValueType::integer, std::int64_t{5347},
         "Port for external components (jabber:component:accept, XEP-0114); 0 disables it.", 0,
         kMaxPort},
        {"component.secrets", ValueType::string_list, L{},
         "The external components allowed to connect, each as \"domain=secret\" "
         "(\"bot.example.org=s3cret\"). A component serves its domain and every subdomain "
         "of it; the domain must not be one this server hosts."},
        // [tls]
        {"tls.cert_file", ValueType::string, S(""),
         "PEM certificate chain; empty means <data_dir>/tls/cert.pem, generated (self-signed "
         "for server.domain) on first start when missing."},
        {"tls.key_file", ValueType::string, S(""),
         "PEM private key; empty means <data_dir>/tls/key.pem."},
        {"tls.min_version",
         ValueType::string,
         S("1.2"),
         "Oldest TLS version accepted.",
         0,
         0,
         {"1.2", "1.3"}},
        // [auth]
        {"auth.mechanisms",
         ValueType::string_list,
         L{"SCRAM-SHA-256", "SCRAM-SHA-1", "PLAIN"},
         "SASL mechanisms offered, in order of preference. PLAIN is only ever offered over "
         "TLS.",
         0,
         0,
         {"SCRAM-SHA-256", "SCRAM-SHA-1", "PLAIN"}},
        {"auth.scram_iterations", ValueType::integer, std::int64_t{4096},
         "PBKDF2 iterations for newly set passwords (RFC 7677 asks for at least 4096).", 4096,
         10000000},
        {"auth.hash_threads", ValueType::integer, std::int64_t{1},
         "Threads that compute password hashes (PBKDF2 for PLAIN logins and new passwords), "
         "so that a large auth.scram_iterations never holds up message delivery or storage.",
         1, 256},
        {"auth.max_attempts_per_stream", ValueType::integer, std::int64_t{3},
         "Failed SASL attempts allowed on one stream before it is closed with "
         "<policy-violation/> (RFC 6120 §6.4.5).",
         1, 100},
        {"auth.failures_per_ip", ValueType::integer, std::int64_t{20},
         "Failed logins from one IP address within auth.failure_window after which further "
         "attempts from it get <temporary-auth-failure/>; 0 disables.",
         0, 1000000},
        {"auth.failures_per_account", ValueType::integer, std::int64_t{10},
         "Failed logins for one account within auth.failure_window after which further "
         "attempts for it get <temporary-auth-failure/>; 0 disables.",
         0, 1000000},
        {"auth.failure_window", ValueType::integer, std::int64_t{300},
         "Seconds over which failed logins are counted.", 1, 86400},
        // [register]
        {"register.policy",
         ValueType::string,
         S("localhost"),
         "Who may create accounts in-band (XEP-0077): 'open' (anyone), 'localhost' (clients "
         "connecting from a loopback address) or 'closed' (nobody; use hongyanctl).",
         0,
         0,
         {"open", "localhost", "closed"}},
        {"register.per_ip_per_hour", ValueType::integer, std::int64_t{10},
         "Accounts one IP address may register per hour; 0 means no limit.", 0, 1000000},
        {"register.min_password_length", ValueType::integer, std::int64_t{6},
         "Shortest password accepted for registration and password changes.", 1, 1024},
        // [limits]
        {"limits.max_stanza_size", ValueType::integer, std::int64_t{262144},
         "Largest stanza (or stream header) in bytes; larger gets <policy-violation/>.", 1024,
         67108864},
        {"limits.max_stanza_size_preauth", ValueType::integer, std::int64_t{16384},
         "Largest stanza in bytes before the client has authenticated (SASL, STARTTLS, "
         "in-band registration need little); larger gets <policy-violation/>. Keeps the "
         "memory an unauthenticated connection can make the server hold small.",
         512, 67108864},
        {"limits.max_elements", ValueType::integer, std::int64_t{10000},
         "Most elements in one stanza (each costs memory however short it is); more gets "
         "<policy-violation/>.",
         16, 10000000},
        {"limits.max_elements_preauth", ValueType::integer, std::int64_t{256},
         "Most elements in one stanza before the client has authenticated; more gets "
         "<policy-violation/>.",
         16, 10000000},
        {"limits.max_depth", ValueType::integer, std::int64_t{32},
         "Deepest element nesting inside a stanza.", 2, 1024},
        {"limits.max_attributes", ValueType::integer, std::int64_t{64},
         "Most attributes on one element.", 4, 4096},
        {"limits.max_connections_per_ip", ValueType::integer, std::int64_t{1000},
         "Simultaneous client connections from one IP address; 0 means no limit.", 0, 10000000},
        {"limits.max_outbound_queue", ValueType::integer, std::int64_t{4194304},
         "Bytes queued for a client that does not read before it is disconnected. One answer "
         "larger than this (a roster of tens of thousands of contacts) still goes out; output "
         "queued behind it counts. What the server sends in bulk (stored offline messages, "
         "the presence of all contacts at login, roster pushes) is sent as the client reads "
         "and does not count.",
         65536, 1073741824},
        {"limits.read_rate", ValueType::integer, std::int64_t{1048576},
         "Bytes per second one connection may send (bursts up to one second's worth); "
         "reading pauses beyond it. 0 means unlimited.",
         0, 1073741824},
        // [storage]
        {"storage.backend",
         ValueType::string,
         S("sqlite"),
         "Where accounts, rosters and messages are kept: sqlite, the embedded default (one "
         "file, data_dir/hongyan.db), or postgresql (a server, storage.postgresql.url; "
         "docs/storage.md).",
         0,
         0,
         {"sqlite", "postgresql"}},
        {"storage.postgresql.url", ValueType::string, S(""),
         "The PostgreSQL database, as a libpq connection URI or key=value string, for "
         "example \"postgresql://hongyan:secret@db.example/hongyan?sslmode=verify-full\". TLS to "
         "the database is set here (sslmode, sslrootcert); a password may also come from "
         "~/.pgpass or PGPASSWORD.",
         0, 0},
        {"storage.postgresql.schema", ValueType::string, S(""),
         "The PostgreSQL schema (namespace) that holds the host's tables, created if missing; "
         "empty means the database's default (public). Each further [[hosts]] domain "
         "defaults to host_<domain> (characters other than a-z and 0-9 as _), so that hosts "
         "sharing one database keep their accounts apart.",
         0, 0},
        {"storage.postgresql.pool_size", ValueType::integer, std::int64_t{4},
         "Connections to PostgreSQL, opened as needed; as many database calls run at once, "
         "and as many IM workers run by default (server.im_threads).",
         1, 256},
        {"storage.postgresql.connect_timeout", ValueType::integer, std::int64_t{10},
         "Seconds a connection attempt to PostgreSQL may take before it fails.", 1, 600},
        {"storage.postgresql.statement_timeout", ValueType::integer, std::int64_t{30000},
         "Milliseconds one statement may run before PostgreSQL cancels it (the request "
         "concerned gets <internal-server-error/> or is retried).",
         100, 3600000},
        {"storage.busy_timeout", ValueType::integer, std::int64_t{5000},
         "Milliseconds a write waits while another process (hongyanctl, a backup) holds the "
         "database's write lock (PostgreSQL: a row or table lock, or a free pool connection); "
         "past it the request concerned gets <internal-server-error/> "
         "or, for work that must not be lost, is retried.",
         0, 600000},
        {"storage.sqlite_cache", ValueType::integer, std::int64_t{64},
         "MiB of database pages SQLite keeps in memory (its page cache, taken as it is "
         "used): with the message archive growing, a small cache rereads index pages from "
         "the file at every write.",
         1, 65536},
        {"storage.retry_attempts", ValueType::integer, std::int64_t{10},
         "Attempts at a write that must happen eventually (deleting delivered offline "
         "messages) before it is given up, waiting 1 s, then doubling up to 30 s.",
         1, 1000},
        // [shared_groups]
        {"shared_groups.everyone", ValueType::string, S(""),
         "When set, every account appears in every other account's roster, with subscription "
         "'both', in a group of this name (for example \"Everyone\"); new accounts join "
         "automatically. Empty: off. Named groups are managed with `hongyanctl group`."},
        {"shared_groups.change_log", ValueType::integer, std::int64_t{100000},
         "Shared-group changes kept in memory so that a versioned roster fetch gets only what "
         "changed; a client further behind gets its whole roster.",
         100, 100000000},
        {"shared_groups.poll_interval", ValueType::integer, std::int64_t{1000},
         "Milliseconds between looks at the directory feed, through which accounts and group "
         "changes made by others (hongyanctl, another server on the same database) reach "
         "online users. PostgreSQL also notifies at once (LISTEN/NOTIFY), so there this is "
         "only the fallback.",
         50, 3600000},
    };
    // Every compiled module's own keys, and the choices of modules.disabled: the module
    // list (src/server/modules/modules.cmake) is the one place either is declared.
    static const std::vector<KeySpec> all = [] {
        std::vector<KeySpec> out = keys;
        std::vector<std::string_view> names;
        for (const auto& m : modules::all_modules()) {
            names.push_back(m->name());
            for (auto& k : m->config_keys()) out.push_back(std::move(k));
        }
        out.push_back({"modules.disabled", ValueType::string_list, L{},
                       "Modules to switch off by name (see docs/protocols.md for the list).", 0, 0,
                       std::move(names)});
        return out;
    }();
    return all;
}

const KeySpec* find_key(std::string_view key) {
    for (const auto& k : schema())
        if (k.key == key) return &k;
    return nullptr;
}

}  // namespace hongyan::config
