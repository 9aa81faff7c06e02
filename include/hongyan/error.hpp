// What can go wrong talking to a server, as a value: every library call returns a
// Result<T>, either the T or an Error saying which kind of failure it was and the
// protocol's own condition (RFC 6120 §4.9.3 stream errors, §6.5 SASL failures, §8.3.3
// stanza errors).
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <variant>

namespace hongyan::client {

enum class ErrorKind {
    unreachable,  // no TCP connection to any address (refused, no route, DNS)
    certificate,  // TLS worked but the server's certificate is not trusted
    tls,          // TLS could not be set up (STARTTLS refused, handshake failed)
    auth,         // SASL failed: wrong password, unknown account, mechanism refused
    stream,       // the server ended the stream with a stream error
    stanza,       // the server (or the peer) answered with a stanza error
    timeout,      // no answer within the call's time
    closed,       // the connection ended while the call waited
    protocol,     // the server sent something the library cannot use
    usage,        // the call was wrong (not connected yet, bad JID, ...)
};

std::string_view to_string(ErrorKind kind);

struct Error {
    ErrorKind kind = ErrorKind::protocol;
    // The defined condition where the protocol has one ("not-authorized",
    // "item-not-found", "conflict"), else a short reason ("connection refused").
    std::string condition;
    // The server's <text/> or more detail, possibly empty.
    std::string text;
    // Where it happened: "connect", "tls", "sasl", "bind", "roster", ... (may be empty).
    std::string step;

    static Error make(ErrorKind kind, std::string step, std::string condition,
                      std::string text = {}) {
        return Error{kind, std::move(condition), std::move(text), std::move(step)};
    }

    // "auth error at sasl: not-authorized (wrong password)"
    std::string describe() const;
};

// A value or an Error (std::expected is C++23).
template <class T>
class Result {
  public:
    // An Error: Asio makes one for a coroutine that ended with an exception.
    Result() : v_(std::in_place_index<1>, Error{ErrorKind::protocol, "no result", {}, {}}) {}
    Result(T value) : v_(std::in_place_index<0>, std::move(value)) {}
    Result(Error error) : v_(std::in_place_index<1>, std::move(error)) {}

    bool ok() const { return v_.index() == 0; }
    explicit operator bool() const { return ok(); }
    T& value() { return std::get<0>(v_); }
    const T& value() const { return std::get<0>(v_); }
    T& operator*() { return value(); }
    const T& operator*() const { return value(); }
    T* operator->() { return &value(); }
    const T* operator->() const { return &value(); }
    const Error& error() const { return std::get<1>(v_); }

  private:
    std::variant<T, Error> v_;
};

template <>
class Result<void> {
  public:
    Result() = default;
    Result(Error error) : error_(std::move(error)), ok_(false) {}

    bool ok() const { return ok_; }
    explicit operator bool() const { return ok_; }
    const Error& error() const { return error_; }

  private:
    Error error_;
    bool ok_ = true;
};

}  // namespace hongyan::client
