#include "xmpp/xml_stream_parser.hpp"

#include <expat.h>

#include <cstring>

#include "xmpp/namespaces.hpp"
#include "xmpp/slab_heap.hpp"

namespace hongyan::xml {

namespace {
constexpr char kSep = '\x01';  // between namespace URI and local name in expat's names

void split_name(const XML_Char* full, std::string& ns, std::string& local) {
    const char* sep = std::strchr(full, kSep);
    if (sep) {
        ns.assign(full, sep);
        local.assign(sep + 1);
    } else {
        ns.clear();
        local.assign(full);
    }
}

XML_Parser P(void* p) {
    return static_cast<XML_Parser>(p);
}
}  // namespace

struct XmlStreamParser::Callbacks {
    static XmlStreamParser& self(void* ud) { return *static_cast<XmlStreamParser*>(ud); }

    static void start(void* ud, const XML_Char* name, const XML_Char** atts) {
        auto& s = self(ud);
        XML_Parser p = P(s.parser_);
        if (s.over_size(XML_GetCurrentByteIndex(p) + XML_GetCurrentByteCount(p))) return;
        int n_attrs = 0;
        for (const XML_Char** a = atts; *a; a += 2) ++n_attrs;
        if (n_attrs > s.limits_.max_attributes) {
            s.fail(StreamErrorCondition::policy_violation, "too many attributes on one element");
            return;
        }
        ++s.depth_;
        Element* el = nullptr;
        if (s.depth_ == 1 && s.replaying_) {
            // The stream header replayed into a re-created parser: only its namespace
            // context matters; the stream was opened long ago.
            s.boundary_ = XML_GetCurrentByteIndex(p) + XML_GetCurrentByteCount(p);
            return;
        } else if (s.depth_ == 1) {
            s.header_ = Element();
            el = &s.header_;
        } else if (s.depth_ == 2) {
            s.stanza_ = Element();
            s.open_.clear();
            s.namespaces_.clear();
            s.elements_ = 0;
            el = &s.stanza_;
        } else {
            if (s.depth_ - 1 > s.limits_.max_depth) {
                s.fail(StreamErrorCondition::policy_violation, "elements nested too deep");
                return;
            }
            el = &s.open_.back()->add_child(Element());
        }
        if (s.depth_ >= 2 && ++s.elements_ > s.limits_.max_elements) {
            s.fail(StreamErrorCondition::policy_violation, "too many elements in one stanza");
            return;
        }
        std::string ns, local;
        split_name(name, ns, local);
        *el = Element(std::move(local), s.shared_namespace(ns));
        for (const XML_Char** a = atts; *a; a += 2) {
            split_name(a[0], ns, local);
            if (ns.empty())
                el->set_attr(local, a[1]);
            else if (ns == ns::xml)
                el->add_qualified_attr("xml:" + local, a[1], std::move(ns));
            else
                el->add_qualified_attr(std::move(local), a[1], std::move(ns));
        }
        if (s.depth_ == 1) {
            s.header_.set_attr("xmlns", s.pending_default_ns_);
            s.event_end_ = XML_GetCurrentByteIndex(p) + XML_GetCurrentByteCount(p);
            s.header_bytes_.resize(static_cast<std::size_t>(s.event_end_));
            s.header_bytes_.shrink_to_fit();
            s.recording_header_ = false;
            s.boundary_ = s.event_end_;
            s.event_ = Event::stream_open;
            XML_StopParser(p, XML_TRUE);
            return;
        }
        s.open_.push_back(el);
    }

    static void end(void* ud, const XML_Char*) {
        auto& s = self(ud);
        XML_Parser p = P(s.parser_);
        std::int64_t end_index = XML_GetCurrentByteIndex(p) + XML_GetCurrentByteCount(p);
        if (s.over_size(end_index)) return;
        --s.depth_;
        if (s.depth_ == 0) {
            if (s.event_ == Event::stream_open) {
                // <stream:stream/>: the header and its close are one token; report the
                // header first and the close on the next resume().
                s.close_pending_ = true;
                return;
            }
            s.event_end_ = end_index;
            s.boundary_ = end_index;
            s.event_ = Event::stream_close;
            XML_StopParser(p, XML_TRUE);
            return;
        }
        s.open_.pop_back();
        if (s.depth_ == 1) {
            s.event_end_ = end_index;
            s.boundary_ = end_index;
            s.event_ = Event::stanza;
            XML_StopParser(p, XML_TRUE);
        }
    }

    static void text(void* ud, const XML_Char* data, int len) {
        auto& s = self(ud);
        XML_Parser p = P(s.parser_);
        std::int64_t end_index = XML_GetCurrentByteIndex(p) + XML_GetCurrentByteCount(p);
        if (s.depth_ <= 1) {
            // Whitespace between stanzas (keepalives, RFC 6120 §4.6.1) ends nothing but must
            // not count against the next stanza's size.
            s.boundary_ = end_index;
            return;
        }
        if (s.over_size(end_index)) return;
        s.open_.back()->add_text(std::string_view(data, static_cast<std::size_t>(len)));
    }

    static void ns_start(void* ud, const XML_Char* prefix, const XML_Char* uri) {
        auto& s = self(ud);
        if (s.depth_ == 0 && !prefix) s.pending_default_ns_ = uri ? uri : "";
    }

    static void restricted(XmlStreamParser& s, const char* what) {
        s.fail(StreamErrorCondition::restricted_xml, what);
    }
    static void doctype(void* ud, const XML_Char*, const XML_Char*, const XML_Char*, int) {
        restricted(self(ud), "document type declarations are not allowed (RFC 6120 §11.1)");
    }
    static void entity(void* ud, const XML_Char*, int, const XML_Char*, int, const XML_Char*,
                       const XML_Char*, const XML_Char*, const XML_Char*) {
        restricted(self(ud), "entity declarations are not allowed (RFC 6120 §11.1)");
    }
    static void pi(void* ud, const XML_Char*, const XML_Char*) {
        restricted(self(ud), "processing instructions are not allowed (RFC 6120 §11.1)");
    }
    static void comment(void* ud, const XML_Char*) {
        restricted(self(ud), "comments are not allowed (RFC 6120 §11.1)");
    }
    static int unknown_encoding(void* ud, const XML_Char*, XML_Encoding*) {
        self(ud).fail(StreamErrorCondition::unsupported_encoding,
                      "only UTF-8 is supported (RFC 6120 §11.6)");
        return XML_STATUS_ERROR;
    }
    static void xml_decl(void* ud, const XML_Char*, const XML_Char* encoding, int) {
        if (encoding && strcasecmp(encoding, "UTF-8") != 0)
            self(ud).fail(StreamErrorCondition::unsupported_encoding,
                          "only UTF-8 is supported (RFC 6120 §11.6)");
    }
};

XmlStreamParser::XmlStreamParser(ParserLimits limits) : limits_(limits) {
    create();
}

Namespace XmlStreamParser::shared_namespace(const std::string& uri) {
    if (uri.empty()) return nullptr;
    // Children nearly always share their parent's namespace or one of a few others: the
    // stanza holds each distinct URI once, however many elements use it.
    for (const auto& n : namespaces_)
        if (*n == uri) return n;
    auto n = Element::make_namespace(uri);
    if (namespaces_.size() < kSharedNamespaces) namespaces_.push_back(n);
    return n;
}

XmlStreamParser::~XmlStreamParser() {
    if (parser_) XML_ParserFree(P(parser_));
}

void XmlStreamParser::create() {
    if (parser_) {
        XML_ParserReset(P(parser_), "UTF-8");
    } else {
        static const XML_Memory_Handling_Suite suite{&slab_heap::allocate, &slab_heap::reallocate,
                                                     &slab_heap::deallocate};
        const XML_Char sep[] = {kSep, '\0'};
        parser_ = XML_ParserCreate_MM("UTF-8", &suite, sep);
    }
    XML_Parser p = P(parser_);
    XML_SetUserData(p, this);
    XML_SetElementHandler(p, &Callbacks::start, &Callbacks::end);
    XML_SetCharacterDataHandler(p, &Callbacks::text);
    XML_SetStartNamespaceDeclHandler(p, &Callbacks::ns_start);
    XML_SetStartDoctypeDeclHandler(p, &Callbacks::doctype);
    XML_SetEntityDeclHandler(p, &Callbacks::entity);
    XML_SetProcessingInstructionHandler(p, &Callbacks::pi);
    XML_SetCommentHandler(p, &Callbacks::comment);
    XML_SetUnknownEncodingHandler(p, &Callbacks::unknown_encoding, this);
    XML_SetXmlDeclHandler(p, &Callbacks::xml_decl);
    // Never read external entities or parameter entities.
    XML_SetParamEntityParsing(p, XML_PARAM_ENTITY_PARSING_NEVER);
    header_ = Element();
    stanza_ = Element();
    open_.clear();
    namespaces_.clear();
    elements_ = 0;
    pending_default_ns_.clear();
    depth_ = 0;
    event_ = Event::need_more;
    error_ = StreamErrorCondition::none;
    error_text_.clear();
    boundary_ = fed_total_ = chunk_start_ = event_end_ = 0;
    close_pending_ = false;
    header_bytes_.clear();
    recording_header_ = true;
}

void XmlStreamParser::reset() {
    create();
}

bool XmlStreamParser::can_release() const {
    return parser_ && depth_ == 1 && !close_pending_ && fed_total_ == boundary_ &&
           error_ == StreamErrorCondition::none && !header_bytes_.empty();
}

void XmlStreamParser::release() {
    if (!can_release()) return;
    XML_ParserFree(P(parser_));
    parser_ = nullptr;
    header_ = Element();
    stanza_ = Element();
    open_ = {};
    namespaces_ = {};
}

void XmlStreamParser::recreate() {
    // A new expat parser knows nothing of the stream's namespace declarations: replay the
    // client's own stream header into it, then go on with the new bytes.
    std::string header = std::move(header_bytes_);
    create();
    header_bytes_ = std::move(header);
    recording_header_ = false;
    replaying_ = true;
    fed_total_ = static_cast<std::int64_t>(header_bytes_.size());
    XML_Parse(P(parser_), header_bytes_.data(), static_cast<int>(header_bytes_.size()), XML_FALSE);
    replaying_ = false;
    depth_ = 1;
    boundary_ = fed_total_;
}

void XmlStreamParser::fail(StreamErrorCondition cond, std::string text) {
    if (error_ == StreamErrorCondition::none) {
        error_ = cond;
        error_text_ = std::move(text);
    }
    event_ = Event::error;
    XML_StopParser(P(parser_), XML_FALSE);
}

bool XmlStreamParser::over_size(std::int64_t index) const {
    if (index - boundary_ > static_cast<std::int64_t>(limits_.max_stanza_size)) {
        const_cast<XmlStreamParser*>(this)->fail(StreamErrorCondition::policy_violation,
                                                 "stanza too large");
        return true;
    }
    return false;
}

XmlStreamParser::Event XmlStreamParser::finish_call(int status) {
    if (error_ != StreamErrorCondition::none) return Event::error;
    if (status == XML_STATUS_ERROR) {
        XML_Parser p = P(parser_);
        error_ = StreamErrorCondition::not_well_formed;
        error_text_ = XML_ErrorString(XML_GetErrorCode(p));
        return Event::error;
    }
    if (status == XML_STATUS_SUSPENDED) {
        Event e = event_;
        event_ = Event::need_more;
        return e;
    }
    // The chunk is consumed; what has not ended yet counts against the size limit, so an
    // endless start tag or text node cannot make the parser buffer without bound.
    if (fed_total_ - boundary_ > static_cast<std::int64_t>(limits_.max_stanza_size)) {
        error_ = StreamErrorCondition::policy_violation;
        error_text_ = "stanza too large";
        return Event::error;
    }
    return Event::need_more;
}

XmlStreamParser::Event XmlStreamParser::feed(const char* data, std::size_t len) {
    if (error_ != StreamErrorCondition::none) return Event::error;
    if (!parser_) recreate();
    if (recording_header_) header_bytes_.append(data, len);
    chunk_start_ = fed_total_;
    fed_total_ += static_cast<std::int64_t>(len);
    int status = XML_Parse(P(parser_), data, static_cast<int>(len), XML_FALSE);
    return finish_call(status);
}

XmlStreamParser::Event XmlStreamParser::resume() {
    if (error_ != StreamErrorCondition::none) return Event::error;
    if (close_pending_) {
        close_pending_ = false;
        return Event::stream_close;
    }
    int status = XML_ResumeParser(P(parser_));
    return finish_call(status);
}

std::size_t XmlStreamParser::consumed_of_last_chunk() const {
    return static_cast<std::size_t>(event_end_ - chunk_start_);
}

std::optional<Element> parse_stanza(std::string_view xml, std::string_view ns) {
    XmlStreamParser parser;
    std::string header = "<stream:stream xmlns:stream='http://etherx.jabber.org/streams' xmlns='";
    header += ns;
    header += "'>";
    if (parser.feed(header) != XmlStreamParser::Event::stream_open) return std::nullopt;
    if (parser.resume() != XmlStreamParser::Event::need_more) return std::nullopt;
    if (parser.feed(xml) != XmlStreamParser::Event::stanza) return std::nullopt;
    Element el = parser.take_stanza();
    if (parser.resume() != XmlStreamParser::Event::need_more) return std::nullopt;
    return el;
}

}  // namespace hongyan::xml
