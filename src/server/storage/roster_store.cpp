// What both SQL backends share of the roster store: the bits of a subscription state
// and the one-column form of an item's groups.
#include "server/storage/roster_store.hpp"

namespace hongyan::storage {

int SubState::bits() const {
    return (to ? 1 : 0) | (from ? 2 : 0) | (pending_out ? 4 : 0) | (pending_in ? 8 : 0) |
           (preapproved ? 16 : 0);
}

SubState SubState::from_bits(int b) {
    return SubState{(b & 1) != 0, (b & 2) != 0, (b & 4) != 0, (b & 8) != 0, (b & 16) != 0};
}

namespace {
constexpr char kGroupSep = '\x1f';
}  // namespace

std::string join_groups(const std::vector<std::string>& groups) {
    std::string out;
    for (const auto& g : groups) {
        if (!out.empty()) out += kGroupSep;
        out += g;
    }
    return out;
}

std::vector<std::string> split_groups(const std::string& s) {
    std::vector<std::string> out;
    if (s.empty()) return out;
    std::size_t start = 0;
    while (true) {
        auto pos = s.find(kGroupSep, start);
        out.push_back(s.substr(start, pos - start));
        if (pos == std::string::npos) break;
        start = pos + 1;
    }
    return out;
}

}  // namespace hongyan::storage
