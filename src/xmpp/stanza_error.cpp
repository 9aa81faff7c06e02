#include "xmpp/stanza_error.hpp"

#include "xmpp/namespaces.hpp"

namespace hongyan {

std::string_view to_string(StreamErrorCondition c) {
    switch (c) {
        case StreamErrorCondition::none:
            return "none";
        case StreamErrorCondition::bad_format:
            return "bad-format";
        case StreamErrorCondition::conflict:
            return "conflict";
        case StreamErrorCondition::connection_timeout:
            return "connection-timeout";
        case StreamErrorCondition::host_unknown:
            return "host-unknown";
        case StreamErrorCondition::improper_addressing:
            return "improper-addressing";
        case StreamErrorCondition::internal_server_error:
            return "internal-server-error";
        case StreamErrorCondition::invalid_from:
            return "invalid-from";
        case StreamErrorCondition::invalid_namespace:
            return "invalid-namespace";
        case StreamErrorCondition::invalid_xml:
            return "invalid-xml";
        case StreamErrorCondition::not_authorized:
            return "not-authorized";
        case StreamErrorCondition::not_well_formed:
            return "not-well-formed";
        case StreamErrorCondition::policy_violation:
            return "policy-violation";
        case StreamErrorCondition::reset:
            return "reset";
        case StreamErrorCondition::resource_constraint:
            return "resource-constraint";
        case StreamErrorCondition::restricted_xml:
            return "restricted-xml";
        case StreamErrorCondition::system_shutdown:
            return "system-shutdown";
        case StreamErrorCondition::undefined_condition:
            return "undefined-condition";
        case StreamErrorCondition::unsupported_encoding:
            return "unsupported-encoding";
        case StreamErrorCondition::unsupported_feature:
            return "unsupported-feature";
        case StreamErrorCondition::unsupported_stanza_type:
            return "unsupported-stanza-type";
        case StreamErrorCondition::unsupported_version:
            return "unsupported-version";
    }
    return "undefined-condition";
}

std::string stream_error_xml(StreamErrorCondition c, std::string_view text,
                             std::string_view declaration) {
    std::string out = "<stream:error";
    out += declaration;
    out += "><";
    out += to_string(c);
    out += " xmlns=\"";
    out += ns::streams_error;
    out += "\"/>";
    if (!text.empty()) {
        out += "<text xmlns=\"";
        out += ns::streams_error;
        out += "\">";
        xml::escape(text, out);
        out += "</text>";
    }
    out += "</stream:error>";
    return out;
}

std::string_view to_string(StanzaErrorCondition c) {
    switch (c) {
        case StanzaErrorCondition::bad_request:
            return "bad-request";
        case StanzaErrorCondition::conflict:
            return "conflict";
        case StanzaErrorCondition::feature_not_implemented:
            return "feature-not-implemented";
        case StanzaErrorCondition::forbidden:
            return "forbidden";
        case StanzaErrorCondition::gone:
            return "gone";
        case StanzaErrorCondition::internal_server_error:
            return "internal-server-error";
        case StanzaErrorCondition::item_not_found:
            return "item-not-found";
        case StanzaErrorCondition::jid_malformed:
            return "jid-malformed";
        case StanzaErrorCondition::not_acceptable:
            return "not-acceptable";
        case StanzaErrorCondition::not_allowed:
            return "not-allowed";
        case StanzaErrorCondition::not_authorized:
            return "not-authorized";
        case StanzaErrorCondition::policy_violation:
            return "policy-violation";
        case StanzaErrorCondition::recipient_unavailable:
            return "recipient-unavailable";
        case StanzaErrorCondition::redirect:
            return "redirect";
        case StanzaErrorCondition::registration_required:
            return "registration-required";
        case StanzaErrorCondition::remote_server_not_found:
            return "remote-server-not-found";
        case StanzaErrorCondition::remote_server_timeout:
            return "remote-server-timeout";
        case StanzaErrorCondition::resource_constraint:
            return "resource-constraint";
        case StanzaErrorCondition::service_unavailable:
            return "service-unavailable";
        case StanzaErrorCondition::subscription_required:
            return "subscription-required";
        case StanzaErrorCondition::undefined_condition:
            return "undefined-condition";
        case StanzaErrorCondition::unexpected_request:
            return "unexpected-request";
    }
    return "undefined-condition";
}

StanzaErrorType default_type(StanzaErrorCondition c) {
    using C = StanzaErrorCondition;
    switch (c) {
        case C::bad_request:
        case C::jid_malformed:
        case C::not_acceptable:
        case C::policy_violation:
        case C::redirect:
            return StanzaErrorType::modify;
        case C::forbidden:
        case C::not_authorized:
        case C::registration_required:
        case C::subscription_required:
            return StanzaErrorType::auth;
        case C::recipient_unavailable:
        case C::remote_server_timeout:
        case C::resource_constraint:
        case C::unexpected_request:
        case C::internal_server_error:
            return StanzaErrorType::wait;
        default:
            return StanzaErrorType::cancel;
    }
}

std::string_view to_string(StanzaErrorType t) {
    switch (t) {
        case StanzaErrorType::auth:
            return "auth";
        case StanzaErrorType::cancel:
            return "cancel";
        case StanzaErrorType::continue_:
            return "continue";
        case StanzaErrorType::modify:
            return "modify";
        case StanzaErrorType::wait:
            return "wait";
    }
    return "cancel";
}

xml::Element StanzaError::to_element() const {
    xml::Element e("error", std::string(ns::client));
    e.set_attr("type", to_string(type.value_or(default_type(condition))));
    e.add_child(std::string(to_string(condition)), std::string(ns::stanzas));
    if (!text.empty()) e.add_child("text", std::string(ns::stanzas)).add_text(text);
    return e;
}

xml::Element make_error_reply(const xml::Element& request, const StanzaError& err) {
    xml::Element reply(request);
    std::string to(request.attr("from"));
    std::string from(request.attr("to"));
    reply.remove_attr("to");
    reply.remove_attr("from");
    if (!to.empty()) reply.set_attr("to", to);
    if (!from.empty()) reply.set_attr("from", from);
    reply.set_attr("type", "error");
    auto e = err.to_element();
    e.set_xmlns(request.xmlns_ptr());
    reply.add_child(std::move(e));
    return reply;
}

}  // namespace hongyan
