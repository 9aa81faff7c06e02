// XEP-0313 §6 (archiving preferences): which conversations a user's archive keeps: a
// default (always, never, or roster: only contacts in the roster) and JIDs always or never
// archived, whatever the default says.
#pragma once

#include <optional>
#include <set>
#include <string>

#include "xmpp/xml.hpp"

namespace hongyan::modules::mam {

struct Prefs {
    std::string default_ = "always";
    std::set<std::string> always, never;  // bare JIDs

    // The <prefs/> element (§6.1's answer).
    xml::Element to_element() const;
    // From a client's <prefs/>: an error text when it is not one (or lists more than
    // `max_jids` JIDs); JIDs are normalised to bare JIDs.
    static std::optional<std::string> parse(const xml::Element& e, std::size_t max_jids,
                                            Prefs& out);
    // Whether a message with `with` (a bare JID) is archived; `in_roster` is asked only
    // for the 'roster' default (nothing: not known now, and then the message is kept).
    template <class InRoster>
    bool keeps(const std::string& with, InRoster in_roster) const {
        if (never.contains(with)) return false;
        if (always.contains(with) || default_ == "always") return true;
        if (default_ == "never") return false;
        return in_roster().value_or(true);
    }
};

}  // namespace hongyan::modules::mam
