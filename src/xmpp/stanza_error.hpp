// Stream errors (RFC 6120 §4.9.3) and stanza errors (RFC 6120 §8.3.3).
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "xmpp/xml.hpp"

namespace hongyan {

enum class StreamErrorCondition {
    none,
    bad_format,
    conflict,
    connection_timeout,
    host_unknown,
    improper_addressing,
    internal_server_error,
    invalid_from,
    invalid_namespace,
    invalid_xml,
    not_authorized,
    not_well_formed,
    policy_violation,
    reset,
    resource_constraint,
    restricted_xml,
    system_shutdown,
    undefined_condition,
    unsupported_encoding,
    unsupported_feature,
    unsupported_stanza_type,
    unsupported_version,
};

std::string_view to_string(StreamErrorCondition c);

// <stream:error> with the condition and an optional human-readable text. `declaration` is
// added to the element's start tag where the 'stream' prefix is not declared by a stream
// header (a WebSocket message, RFC 7395 §3.3.3).
std::string stream_error_xml(StreamErrorCondition c, std::string_view text = {},
                             std::string_view declaration = {});

enum class StanzaErrorType { auth, cancel, continue_, modify, wait };

enum class StanzaErrorCondition {
    bad_request,
    conflict,
    feature_not_implemented,
    forbidden,
    gone,
    internal_server_error,
    item_not_found,
    jid_malformed,
    not_acceptable,
    not_allowed,
    not_authorized,
    policy_violation,
    recipient_unavailable,
    redirect,
    registration_required,
    remote_server_not_found,
    remote_server_timeout,
    resource_constraint,
    service_unavailable,
    subscription_required,
    undefined_condition,
    unexpected_request,
};

std::string_view to_string(StanzaErrorCondition c);
// The error type RFC 6120 §8.3.3 recommends for each condition.
StanzaErrorType default_type(StanzaErrorCondition c);
std::string_view to_string(StanzaErrorType t);

// A stanza error as a value: what a handler returns when a peer's request is wrong.
struct StanzaError {
    StanzaErrorCondition condition = StanzaErrorCondition::undefined_condition;
    std::string text;
    std::optional<StanzaErrorType> type;
    xml::Element to_element() const;
};

// Turns a request stanza into its error reply (RFC 6120 §8.3.1): swaps to/from, sets
// type='error', keeps the original payload and appends <error/>.
xml::Element make_error_reply(const xml::Element& request, const StanzaError& err);

}  // namespace hongyan
