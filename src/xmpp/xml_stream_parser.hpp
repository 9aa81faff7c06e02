// Incremental, namespace-aware parser for one XML stream (RFC 6120 §4, §11).
//
// Bytes arrive in chunks split anywhere; the parser returns one event at a time (the stream
// header, a complete top-level stanza, the stream's close, or an error) and is suspended
// after each, so the owner can act (e.g. restart the stream after STARTTLS or SASL) before
// anything further is parsed.
#pragma once

#include <optional>

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "xmpp/stanza_error.hpp"
#include "xmpp/xml.hpp"

namespace hongyan::xml {

struct ParserLimits {
    std::size_t max_stanza_size = 256 * 1024;  // bytes of one top-level element (or header)
    int max_depth = 32;                        // element nesting inside a stanza
    int max_attributes = 64;                   // attributes on one element
    // Elements in one stanza: what a stanza costs in memory grows with its elements (each
    // is a node of the tree), not only with its bytes.
    std::size_t max_elements = 10000;
};

class XmlStreamParser {
  public:
    enum class Event { need_more, stream_open, stanza, stream_close, error };

    explicit XmlStreamParser(ParserLimits limits = {});
    ~XmlStreamParser();
    XmlStreamParser(const XmlStreamParser&) = delete;
    XmlStreamParser& operator=(const XmlStreamParser&) = delete;

    // Parses `data` until the next event; returns need_more when all of it was consumed
    // without one. After any other event call resume() (not feed()) to go on with the rest
    // of the chunk; the parser keeps its own copy of unparsed bytes.
    Event feed(const char* data, std::size_t len);
    Event feed(std::string_view data) { return feed(data.data(), data.size()); }
    Event resume();

    // Starts a fresh stream (after STARTTLS or SASL success, RFC 6120 §5.4.3.3, §6.4.6).
    void reset();
    // Limits for what is parsed from now on (smaller before authentication).
    void set_limits(const ParserLimits& limits) { limits_ = limits; }
    const ParserLimits& limits() const { return limits_; }

    // Idle streams need not keep an expat parser (several KiB each): between stanzas,
    // release() frees it, and the next feed() builds a new one by replaying the client's
    // stream header. can_release() is true only at a clean stanza boundary.
    bool can_release() const;
    void release();
    bool released() const { return parser_ == nullptr; }

    // How many bytes of the chunk passed to the last feed() had been consumed when the
    // last event fired: bytes after that belong to whatever comes next (a restarted stream).
    std::size_t consumed_of_last_chunk() const;

    // The stream header: its attributes, plus "xmlns" holding the declared default namespace.
    const Element& header() const { return header_; }
    // The stanza of the last `stanza` event; valid until the next call.
    Element& stanza() { return stanza_; }
    Element take_stanza() { return std::move(stanza_); }

    StreamErrorCondition error() const { return error_; }
    const std::string& error_text() const { return error_text_; }
    // Depth of the element currently open (1 = inside the stream header).
    int depth() const { return depth_; }

  private:
    struct Callbacks;
    friend struct Callbacks;
    void create();
    void recreate();
    Event finish_call(int status);
    void fail(StreamErrorCondition cond, std::string text);
    bool over_size(std::int64_t index) const;
    Namespace shared_namespace(const std::string& uri);
    static constexpr std::size_t kSharedNamespaces = 8;

    void* parser_ = nullptr;  // XML_Parser
    ParserLimits limits_;
    Element header_;
    Element stanza_;
    std::vector<Element*> open_;         // elements open inside the current stanza
    std::vector<Namespace> namespaces_;  // the current stanza's distinct namespace URIs
    std::size_t elements_ = 0;           // elements in the current stanza
    std::string pending_default_ns_;
    int depth_ = 0;
    bool close_pending_ = false;  // a self-closed stream header's close, not yet reported
    std::string header_bytes_;    // the client's stream header, for recreate()
    bool recording_header_ = true;
    bool replaying_ = false;
    Event event_ = Event::need_more;
    StreamErrorCondition error_ = StreamErrorCondition::none;
    std::string error_text_;
    std::int64_t boundary_ = 0;     // byte index just after the last complete event
    std::int64_t fed_total_ = 0;    // bytes fed since create/reset
    std::int64_t chunk_start_ = 0;  // index of the first byte of the last chunk
    std::int64_t event_end_ = 0;    // index just after the last event's bytes
};

// One stanza from a string (XML the server stored or built itself), its default namespace
// `ns`; nullopt when it is not one well-formed element.
std::optional<Element> parse_stanza(std::string_view xml, std::string_view ns);

}  // namespace hongyan::xml
