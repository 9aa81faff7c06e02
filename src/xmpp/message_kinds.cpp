#include "xmpp/message_kinds.hpp"

#include "xmpp/namespaces.hpp"

namespace hongyan::message_kinds {

bool is_carbon(const xml::Element& m) {
    return m.child("received", ns::carbons) || m.child("sent", ns::carbons);
}

bool only_chat_state(const xml::Element& m) {
    const xml::Element* inner = &m;
    for (const char* wrapper : {"received", "sent"}) {
        if (const auto* w = m.child(wrapper, ns::carbons)) {
            const auto* f = w->child("forwarded", ns::forward);
            const auto* fm = f ? f->child("message", ns::client) : nullptr;
            if (!fm) return false;
            inner = fm;
        }
    }
    bool state = false;
    for (const auto* c : inner->children()) {
        if (c->xmlns() == ns::chatstates)
            state = true;
        else if (c->xmlns() == ns::client || (inner == &m && c->xmlns() != ns::sid &&
                                              c->xmlns() != ns::carbons && c->xmlns() != ns::delay))
            return false;  // a body, a subject, a payload of some other kind
    }
    return state;
}

}  // namespace hongyan::message_kinds
