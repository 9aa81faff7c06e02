#include "hongyan/error.hpp"

#include "client/protocol.hpp"
#include "xmpp/namespaces.hpp"

namespace hongyan::client {

std::string_view to_string(ErrorKind kind) {
    switch (kind) {
        case ErrorKind::unreachable:
            return "unreachable";
        case ErrorKind::certificate:
            return "certificate";
        case ErrorKind::tls:
            return "tls";
        case ErrorKind::auth:
            return "auth";
        case ErrorKind::stream:
            return "stream";
        case ErrorKind::stanza:
            return "stanza";
        case ErrorKind::timeout:
            return "timeout";
        case ErrorKind::closed:
            return "closed";
        case ErrorKind::protocol:
            return "protocol";
        case ErrorKind::usage:
            return "usage";
    }
    return "unknown";
}

std::string Error::describe() const {
    std::string out(to_string(kind));
    out += " error";
    if (!step.empty()) out += " at " + step;
    out += ": " + condition;
    if (!text.empty()) out += " (" + text + ")";
    return out;
}

std::string condition_of(const xml::Element& el, std::string_view cond_ns) {
    for (const auto* c : el.children())
        if (c->xmlns() == cond_ns && c->name() != "text") return c->name();
    if (const auto* c = el.first_child(); c && c->name() != "text") return c->name();
    return "undefined-condition";
}

Error stanza_error(std::string step, const xml::Element& stanza) {
    const auto* err = stanza.child("error", stanza.xmlns());
    if (!err) err = stanza.child("error", ns::client);
    if (!err) return Error::make(ErrorKind::stanza, std::move(step), "undefined-condition");
    return Error::make(ErrorKind::stanza, std::move(step), condition_of(*err, ns::stanzas),
                       err->child_text("text", ns::stanzas));
}

}  // namespace hongyan::client
