#include "tools/hongyan/config.hpp"

#include <fcntl.h>
#include <termios.h>
#include <unistd.h>

#include <toml++/toml.h>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace hongyan::cli {

namespace {

std::string env(const char* name) {
    const char* v = std::getenv(name);
    return v ? v : "";
}

std::filesystem::path default_config_path() {
    std::string base = env("XDG_CONFIG_HOME");
    if (base.empty()) {
        std::string home = env("HOME");
        if (home.empty()) return {};
        base = home + "/.config";
    }
    return std::filesystem::path(base) / "hongyan" / "config.toml";
}

// The first line of a file or of a command's output, without the newline.
std::string first_line(std::istream& in) {
    std::string line;
    std::getline(in, line);
    if (!line.empty() && line.back() == '\r') line.pop_back();
    return line;
}

std::string password_from_file(const std::string& path) {
    std::ifstream in(path);
    if (!in) throw UsageError("cannot read the password file " + path);
    return first_line(in);
}

std::string password_from_command(const std::string& cmd) {
    FILE* p = ::popen(cmd.c_str(), "r");
    if (!p) throw UsageError("cannot run the password command: " + cmd);
    std::string out;
    char buf[512];
    while (std::size_t n = std::fread(buf, 1, sizeof buf, p)) out.append(buf, n);
    int status = ::pclose(p);
    if (status != 0)
        throw UsageError("the password command failed (status " + std::to_string(status) +
                         "): " + cmd);
    std::istringstream in(out);
    return first_line(in);
}

std::string prompt_password(const std::string& jid) {
    int fd = ::open("/dev/tty", O_RDWR | O_NOCTTY);
    if (fd < 0)
        throw UsageError(
            "no password: give --password-file, --password-cmd or "
            "HONGYAN_PASSWORD (there is no terminal to ask on)");
    std::string prompt = "Password for " + jid + ": ";
    (void)!::write(fd, prompt.data(), prompt.size());
    termios old{};
    bool is_tty = ::tcgetattr(fd, &old) == 0;
    if (is_tty) {
        termios quiet = old;
        quiet.c_lflag &= ~static_cast<tcflag_t>(ECHO);
        ::tcsetattr(fd, TCSANOW, &quiet);
    }
    std::string pw;
    char c;
    while (::read(fd, &c, 1) == 1 && c != '\n') pw += c;
    if (is_tty) ::tcsetattr(fd, TCSANOW, &old);
    (void)!::write(fd, "\n", 1);
    ::close(fd);
    return pw;
}

void set_if_empty(std::string& field, const toml::table& t, const char* key) {
    if (field.empty())
        if (auto v = t[key].value<std::string>()) field = *v;
}

}  // namespace

void complete_settings(Settings& s) {
    if (s.jid.empty()) s.jid = env("HONGYAN_JID");
    std::filesystem::path path =
        s.config_file.empty() ? default_config_path() : std::filesystem::path(s.config_file);
    std::error_code ec;
    if (!path.empty() && std::filesystem::exists(path, ec)) {
        toml::table t;
        try {
            t = toml::parse_file(path.string());
        } catch (const toml::parse_error& e) {
            std::ostringstream where;
            where << e.source().begin;
            throw UsageError(path.string() + ": " + std::string(e.description()) + " (at " +
                             where.str() + ")");
        }
        set_if_empty(s.jid, t, "jid");
        set_if_empty(s.resource, t, "resource");
        set_if_empty(s.password_file, t, "password_file");
        set_if_empty(s.password_cmd, t, "password_cmd");
        set_if_empty(s.host, t, "host");
        set_if_empty(s.tls, t, "tls");
        set_if_empty(s.trust_cert, t, "trust_cert");
        set_if_empty(s.fingerprint, t, "fingerprint");
        if (s.port == 0) s.port = static_cast<int>(t["port"].value_or(0));
        if (!s.insecure) s.insecure = t["insecure"].value_or(false);
    } else if (!s.config_file.empty()) {
        throw UsageError("no config file at " + s.config_file);
    }
    if (s.jid.empty())
        throw UsageError(
            "no account: give --jid user@domain, set HONGYAN_JID, or put jid = "
            "\"user@domain\" in " +
            default_config_path().string());
    if (s.tls.empty()) s.tls = "starttls";
    if (s.tls != "starttls" && s.tls != "direct" && s.tls != "none")
        throw UsageError("tls is '" + s.tls + "'; it must be starttls, direct or none");
    if (s.port < 0 || s.port > 65535)
        throw UsageError("port " + std::to_string(s.port) + " is out of range");
}

std::string read_password(const Settings& s) {
    if (!s.password_file.empty()) return password_from_file(s.password_file);
    if (!s.password_cmd.empty()) return password_from_command(s.password_cmd);
    if (const char* v = std::getenv("HONGYAN_PASSWORD")) return v;
    return prompt_password(s.jid);
}

client::ClientOptions client_options(const Settings& s, std::string password) {
    client::ClientOptions o;
    o.jid = s.jid;
    if (!s.resource.empty() && s.jid.find('/') == std::string::npos) o.jid += "/" + s.resource;
    o.password = std::move(password);
    o.timeout = s.timeout;
    o.connect.host = s.host;
    o.connect.port = static_cast<std::uint16_t>(s.port);
    o.connect.tls = s.tls == "direct" ? client::TlsMode::direct
                    : s.tls == "none" ? client::TlsMode::none
                                      : client::TlsMode::starttls;
    o.connect.trust.ca_file = s.trust_cert;
    o.connect.trust.fingerprint = s.fingerprint;
    o.connect.trust.insecure = s.insecure;
    return o;
}

}  // namespace hongyan::cli
